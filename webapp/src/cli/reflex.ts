/**
 * The `reflex` command: `npm run reflex -- <command>`; `npm start` is `reflex start`.
 * Settings come from the environment (docs/CONFIGURATION.md): REFLEX_HOME, REFLEX_PORT, …
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { settings } from '../config';
import { DomainError } from '../errors';
import { createLogger } from '../logger';
import { parseGate } from '../loop/gate';
import { HomeError, homePaths } from '../loop/home';
import { Supervisor, SupervisorError } from '../loop/supervisor';
import { logs, releases, rollback, status } from './pipeline';
import { users } from './users';
import { UsageError } from './usage';

const PROJECT_DIR = path.resolve(__dirname, '../../..');

/** Settings the supervisor passes on to every release. */
const RELEASE_SETTINGS = [
  'REFLEX_EDITABLE',
  'REFLEX_MAX_FILE_BYTES',
  'REFLEX_SESSION_IDLE_MINUTES',
  'REFLEX_SESSION_MAX_HOURS',
  'REFLEX_WIDE_SCOPE',
  'REFLEX_SIGNIN_LIMIT',
  'REFLEX_SIGNIN_ACCOUNT_LIMIT',
  'REFLEX_SIGNIN_CONCURRENCY',
  'REFLEX_STREAMS_PER_SESSION',
  'REFLEX_STREAMS_PER_CLIENT',
  'REFLEX_STREAM_MAX_SECONDS',
  'REFLEX_LOG_LEVEL',
  'REFLEX_FETCH_INTERVAL_MS',
  'REFLEX_COMMITTER_NAME',
  'REFLEX_COMMITTER_EMAIL',
];

const loopSchema = z.object({
  REFLEX_HOME: z.string().min(1).default(path.join(PROJECT_DIR, '.reflex')),
  REFLEX_PORT: settings.port.default(3000),
  REFLEX_HOST: z.string().min(1).default('127.0.0.1'),
  REFLEX_BRANCH: settings.branch,
  REFLEX_GATE: z.string().optional(),
  REFLEX_GATE_WARM: z.enum(['true', 'false']).default('true'),
  REFLEX_HEALTH_TIMEOUT_MS: settings.positiveInt.default(30_000),
  REFLEX_DRAIN_TIMEOUT_MS: settings.positiveInt.default(30_000),
  REFLEX_GATE_TIMEOUT_MS: settings.positiveInt.default(300_000),
  REFLEX_KEEP_RELEASES: z.coerce.number().int().min(2).default(5),
  REFLEX_POLL_INTERVAL_MS: settings.positiveInt.default(2000),
  REFLEX_ADMIN_PASSWORD: settings.adminPassword,
  REFLEX_PREVIEWS_MAX: z.coerce.number().int().min(1).default(3),
  REFLEX_PREVIEW_IDLE_MINUTES: z.coerce.number().positive().default(30),
});

const USAGE = `usage: npm run reflex -- <command>

  start                      run the whole loop on this machine (npm start)
  status                     what is live, what the pipeline is doing, what is queued
  releases                   release history with outcomes and stage timings
  logs <sha> [stage]         a release's pipeline and runtime logs
  rollback <sha>             commit main back to <sha>'s tree, push, and follow the deploy
  users list                 accounts of the editor
  users add <name> [--role viewer|author|developer|admin] [--name "Full Name"] [--email a@b]
                             (default developer; password from stdin, or asked for on a terminal)
  users remove <name>`;

function loopSettings(env: NodeJS.ProcessEnv) {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = loopSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`${issue.path.join('.')}: ${issue.message}`);
  }
  let gate;
  try {
    gate = parseGate(parsed.data.REFLEX_GATE);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { ...parsed.data, gate };
}

async function start(): Promise<void> {
  const settings = loopSettings(process.env);
  const paths = homePaths(settings.REFLEX_HOME);
  const logFile = path.join(paths.logs, 'supervisor.log');
  mkdirSync(paths.logs, { recursive: true });
  const logger = createLogger(
    'info',
    // Synchronous: the supervisor logs little, and an early exit must not lose (or hang on) lines.
    pino.destination({ dest: logFile, sync: true, mkdir: true }),
  );
  const supervisor = await Supervisor.start({
    projectDir: PROJECT_DIR,
    home: settings.REFLEX_HOME,
    port: settings.REFLEX_PORT,
    host: settings.REFLEX_HOST,
    branch: settings.REFLEX_BRANCH,
    gate: settings.gate,
    warmGate: settings.REFLEX_GATE_WARM === 'true',
    healthTimeoutMs: settings.REFLEX_HEALTH_TIMEOUT_MS,
    drainTimeoutMs: settings.REFLEX_DRAIN_TIMEOUT_MS,
    gateTimeoutMs: settings.REFLEX_GATE_TIMEOUT_MS,
    keepReleases: settings.REFLEX_KEEP_RELEASES,
    pollIntervalMs: settings.REFLEX_POLL_INTERVAL_MS,
    adminPassword: settings.REFLEX_ADMIN_PASSWORD,
    releaseSettings: Object.fromEntries(
      RELEASE_SETTINGS.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])),
    ),
    siteSettingsFrom: process.env,
    previews: {
      maxRunning: settings.REFLEX_PREVIEWS_MAX,
      idleMs: settings.REFLEX_PREVIEW_IDLE_MINUTES * 60_000,
    },
    logger,
    say: (line) => console.log(line),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      console.log(`\n${signal} again: killing every process now.`);
      supervisor.force();
      logger.flush(() => process.exit(1));
      return;
    }
    stopping = true;
    console.log(`\n${signal}: stopping the pipeline, then the releases and the edge…`);
    void supervisor.close().then(() => {
      console.log('Stopped.');
      logger.flush(() => process.exit(0));
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  console.log(
    `Gate: ${settings.gate.length ? settings.gate.join(' + ') : 'off'} · logs: ${path.relative(process.cwd(), paths.logs)} · Ctrl-C stops everything`,
  );
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'start') return start();
  const settings = loopSettings(process.env);
  const paths = homePaths(settings.REFLEX_HOME);
  switch (command) {
    case 'status':
      return status(paths);
    case 'releases':
      return releases(paths);
    case 'logs':
      return logs(paths, rest[0], rest[1]);
    case 'rollback':
      return rollback(paths, rest[0], settings.REFLEX_BRANCH);
    case 'users':
      return users(process.env.REFLEX_USERS_FILE || paths.usersFile, rest);
    case undefined:
    default:
      throw new UsageError(USAGE);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const known = [UsageError, SupervisorError, HomeError, DomainError];
    if (known.some((type) => err instanceof type)) {
      console.error(`reflex: ${(err as Error).message}`);
      process.exit(err instanceof UsageError ? 64 : 1);
    }
    console.error(err);
    process.exit(1);
  });
}
