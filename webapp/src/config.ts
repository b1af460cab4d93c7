/**
 * The service's configuration: read once from the environment at start-up and validated.
 * A missing or invalid key stops the process with the key named (see server.ts).
 * Every key is documented in docs/CONFIGURATION.md.
 */
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();

export const configSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  REFLEX_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
  REFLEX_SHUTDOWN_TIMEOUT_MS: positiveMs.default(30_000),
  /** The commit this instance runs; overrides the SHA recorded by the build. */
  REFLEX_SHA: z
    .string()
    .regex(/^[0-9a-f]{7,64}$/, 'must be a hexadecimal commit SHA')
    .optional(),
});

export type RawConfig = z.infer<typeof configSchema>;

export interface Config {
  port: number;
  host: string;
  logLevel: RawConfig['REFLEX_LOG_LEVEL'];
  shutdownTimeoutMs: number;
  sha: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: { key: string; message: string }[]) {
    super('invalid configuration:\n' + problems.map((p) => `  ${p.key}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Validate `env` (normally `process.env`); throws ConfigError naming every bad key. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset, so `FOO= npm start` does not smuggle in an empty value.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        key: issue.path.join('.') || '(root)',
        message: issue.message,
      })),
    );
  }
  const raw = parsed.data;
  return {
    port: raw.PORT,
    host: raw.HOST,
    logLevel: raw.REFLEX_LOG_LEVEL,
    shutdownTimeoutMs: raw.REFLEX_SHUTDOWN_TIMEOUT_MS,
    sha: raw.REFLEX_SHA,
  };
}
