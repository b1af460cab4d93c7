/**
 * The service's configuration: read once from the environment at start-up and validated.
 * A missing or invalid key stops the process with the key named (see server.ts).
 * Every key is documented in docs/CONFIGURATION.md.
 */
import { z } from 'zod';
import type { Role } from './api/contract';
import { ROLES } from './auth/roles';
import { DEFAULT_EDITABLE, withinSite } from './editor/policy';
import { urlHasCredentials } from './git/credentials';
import { ABBREVIATED_SHA } from './git/sha';

/**
 * Settings that more than one process reads (an instance, and the `reflex` command that runs
 * the local loop): each written once, with its checks, and used by both schemas.
 */
export const settings = {
  port: z.coerce.number().int().min(0).max(65535),
  positiveInt: z.coerce.number().int().positive(),
  bool: z.enum(['true', 'false']).transform((v) => v === 'true'),
  branch: z
    .string()
    .regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$/, 'must be a branch name')
    .default('main'),
  adminPassword: z.string().min(10, 'must be at least 10 characters').optional(),
};
const { port, positiveInt, bool } = settings;
const roleList = z.string().transform((v, ctx): Role[] => {
  const roles = v
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `${unknown.join(', ')}: not a role (${ROLES.join(', ')})`,
    });
    return z.NEVER;
  }
  return roles as Role[];
});
const globList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
  )
  .refine((list) => list.length > 0, 'needs at least one glob');

export const configSchema = z
  .object({
    PORT: port.default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    REFLEX_LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    REFLEX_SHUTDOWN_TIMEOUT_MS: positiveInt.default(30_000),
    /** The commit this instance runs; overrides the SHA recorded by the build. */
    REFLEX_SHA: z.string().regex(ABBREVIATED_SHA, 'must be a hexadecimal commit SHA').optional(),
    REFLEX_TRUST_PROXY: bool.default(false),
    /** What the edge sends in `X-Reflex-Edge`: requests carrying it come through the edge. */
    REFLEX_EDGE_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    REFLEX_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** The editor's own public origin: the only Origin its state-changing requests may carry. */
    REFLEX_EDITOR_URL: z
      .url({ protocol: /^https?$/ })
      .transform((v) => new URL(v).origin)
      .optional(),

    // The editor: on when REFLEX_REPO_URL is set.
    REFLEX_REPO_URL: z
      .string()
      .min(1)
      .refine(
        (v) => !urlHasCredentials(v),
        'must not contain credentials; set REFLEX_GIT_TOKEN instead',
      )
      .optional(),
    REFLEX_BRANCH: settings.branch,
    REFLEX_WORKDIR: z.string().min(1).optional(),
    REFLEX_GIT_TOKEN: z.string().min(1).optional(),
    REFLEX_GIT_USERNAME: z.string().min(1).default('x-access-token'),
    REFLEX_COMMITTER_NAME: z.string().min(1).default('Reflex'),
    REFLEX_COMMITTER_EMAIL: z.email().default('reflex@users.reflex.invalid'),
    REFLEX_USERS_FILE: z.string().min(1).optional(),
    REFLEX_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    REFLEX_ADMIN_PASSWORD: settings.adminPassword,
    REFLEX_EDITABLE: globList.default([...DEFAULT_EDITABLE]),
    /** Lets REFLEX_EDITABLE reach beyond webapp/site/ (never into a protected path). */
    REFLEX_WIDE_SCOPE: bool.default(false),
    REFLEX_MAX_FILE_BYTES: positiveInt.default(1024 * 1024),
    REFLEX_SESSION_IDLE_MINUTES: positiveInt.default(30),
    REFLEX_SESSION_MAX_HOURS: positiveInt.default(12),
    REFLEX_COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
    REFLEX_SIGNIN_LIMIT: positiveInt.default(5),
    REFLEX_SIGNIN_ACCOUNT_LIMIT: positiveInt.default(10),
    REFLEX_SIGNIN_CONCURRENCY: positiveInt.default(1),
    REFLEX_STREAMS_PER_SESSION: positiveInt.default(4),
    REFLEX_STREAMS_PER_CLIENT: positiveInt.default(16),
    REFLEX_STREAM_MAX_SECONDS: positiveInt.default(600),
    REFLEX_STATE_DIR: z.string().min(1).optional(),
    REFLEX_AUDIT_FILE: z.string().min(1).optional(),
    REFLEX_FETCH_INTERVAL_MS: positiveInt.default(10_000),
    /** Roles that may save straight to the deploy branch (`admin`: direct saves admin-only). */
    REFLEX_DIRECT_SAVE_ROLES: roleList.default(['author', 'developer', 'admin']),
    /** Roles whose saves go to a change request by default. */
    REFLEX_CHANGE_REQUEST_ROLES: roleList.default(['author']),
    /** Roles that may publish a change request into the deploy branch. */
    REFLEX_PUBLISH_ROLES: roleList.default(['developer', 'admin']),
    /** A preview's URL, `{name}` standing for the change request's slug. */
    REFLEX_PREVIEW_URL: z
      .string()
      .refine(
        (v) => v.includes('{name}') && URL.canParse(v.replace('{name}', 'x')),
        'must be a URL containing {name}',
      )
      .optional(),

    // The pipeline the editor follows: none, the local supervisor, or GitHub Actions.
    REFLEX_PIPELINE: z.enum(['none', 'local', 'github']).default('none'),
    REFLEX_SUPERVISOR_URL: z.url({ protocol: /^http$/ }).optional(),
    /** The supervisor's control API token (its every route needs it). */
    REFLEX_SUPERVISOR_TOKEN: z.string().min(16).optional(),
    REFLEX_GITHUB_REPOSITORY: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/repo')
      .optional(),
    REFLEX_GITHUB_TOKEN: z.string().min(1).optional(),
    REFLEX_GITHUB_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.github.com'),
    REFLEX_GITHUB_WORKFLOW: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\.ya?ml$/, 'must be a workflow file name')
      .default('deploy.yml'),
    /** Exit when the parent process goes away (set by the local supervisor for its releases). */
    REFLEX_EXIT_WITH_PARENT: bool.default(false),
  })
  .superRefine((env, ctx) => {
    if (env.REFLEX_PIPELINE === 'local' && env.REFLEX_SUPERVISOR_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REFLEX_SUPERVISOR_URL'],
        message: 'required when REFLEX_PIPELINE=local',
      });
    }
    if (env.REFLEX_PIPELINE === 'github') {
      for (const key of [
        'REFLEX_GITHUB_REPOSITORY',
        'REFLEX_GITHUB_TOKEN',
        'REFLEX_PUBLIC_URL',
      ] as const) {
        if (env[key] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'required when REFLEX_PIPELINE=github',
          });
        }
      }
    }
    if (!env.REFLEX_WIDE_SCOPE) {
      const beyond = env.REFLEX_EDITABLE.filter((glob) => !withinSite(glob));
      if (beyond.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['REFLEX_EDITABLE'],
          message: `${beyond.join(', ')} reaches beyond webapp/site/: set REFLEX_WIDE_SCOPE=true to allow it`,
        });
      }
    }
    if (env.REFLEX_REPO_URL === undefined) return;
    for (const key of ['REFLEX_USERS_FILE', 'REFLEX_SESSION_SECRET'] as const) {
      if (env[key] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'required when REFLEX_REPO_URL is set (the editor is on)',
        });
      }
    }
  });

export type RawConfig = z.infer<typeof configSchema>;

export interface EditorConfig {
  repoUrl: string;
  branch: string;
  workdir: string | undefined;
  gitToken: string | undefined;
  gitUsername: string;
  committer: { name: string; email: string };
  usersFile: string;
  sessionSecret: string;
  adminPassword: string | undefined;
  editable: string[];
  /** Whether the scope may reach beyond the site (REFLEX_WIDE_SCOPE). */
  wideScope: boolean;
  maxFileBytes: number;
  sessionIdleSeconds: number;
  sessionMaxSeconds: number;
  cookieSecure: 'auto' | boolean;
  signinLimitPerMinute: number;
  /** Failed sign-ins per account in 15 minutes before it is refused for a while. */
  signinAccountLimit: number;
  /** Password checks (scrypt) at once; more wait their turn. */
  signinConcurrency: number;
  streams: { perSession: number; perClient: number; maxSeconds: number };
  /** The editor's public origin, when configured. */
  editorOrigin: string | undefined;
  /** The site's public URL, when configured. */
  siteUrl: string | undefined;
  stateDir: string | undefined;
  auditFile: string | undefined;
  fetchIntervalMs: number;
  changeRequests: {
    directSaveRoles: Role[];
    changeRequestRoles: Role[];
    publishRoles: Role[];
    previewUrl: string | undefined;
  };
}

export interface Config {
  port: number;
  host: string;
  logLevel: RawConfig['REFLEX_LOG_LEVEL'];
  shutdownTimeoutMs: number;
  sha: string | undefined;
  trustProxy: boolean;
  /** Present when the edge proves itself with X-Reflex-Edge (REFLEX_EDGE_TOKEN). */
  edgeToken: string | undefined;
  publicUrl: string | undefined;
  editorOrigin: string | undefined;
  /** Present when the editor is on. */
  editor: EditorConfig | undefined;
  pipeline:
    | { kind: 'none' }
    | { kind: 'local'; supervisorUrl: string; supervisorToken: string | undefined }
    | {
        kind: 'github';
        repository: string;
        token: string;
        apiUrl: string;
        workflow: string;
        publicUrl: string;
      };
  exitWithParent: boolean;
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
    trustProxy: raw.REFLEX_TRUST_PROXY,
    edgeToken: raw.REFLEX_EDGE_TOKEN,
    publicUrl: raw.REFLEX_PUBLIC_URL,
    editorOrigin: raw.REFLEX_EDITOR_URL,
    pipeline:
      raw.REFLEX_PIPELINE === 'local'
        ? {
            kind: 'local',
            supervisorUrl: raw.REFLEX_SUPERVISOR_URL!,
            supervisorToken: raw.REFLEX_SUPERVISOR_TOKEN,
          }
        : raw.REFLEX_PIPELINE === 'github'
          ? {
              kind: 'github',
              repository: raw.REFLEX_GITHUB_REPOSITORY!,
              token: raw.REFLEX_GITHUB_TOKEN!,
              apiUrl: raw.REFLEX_GITHUB_API_URL,
              workflow: raw.REFLEX_GITHUB_WORKFLOW,
              publicUrl: raw.REFLEX_PUBLIC_URL!,
            }
          : { kind: 'none' },
    exitWithParent: raw.REFLEX_EXIT_WITH_PARENT,
    editor:
      raw.REFLEX_REPO_URL === undefined
        ? undefined
        : {
            repoUrl: raw.REFLEX_REPO_URL,
            branch: raw.REFLEX_BRANCH,
            workdir: raw.REFLEX_WORKDIR,
            gitToken: raw.REFLEX_GIT_TOKEN,
            gitUsername: raw.REFLEX_GIT_USERNAME,
            committer: { name: raw.REFLEX_COMMITTER_NAME, email: raw.REFLEX_COMMITTER_EMAIL },
            usersFile: raw.REFLEX_USERS_FILE!,
            sessionSecret: raw.REFLEX_SESSION_SECRET!,
            adminPassword: raw.REFLEX_ADMIN_PASSWORD,
            editable: raw.REFLEX_EDITABLE,
            wideScope: raw.REFLEX_WIDE_SCOPE,
            maxFileBytes: raw.REFLEX_MAX_FILE_BYTES,
            sessionIdleSeconds: raw.REFLEX_SESSION_IDLE_MINUTES * 60,
            sessionMaxSeconds: raw.REFLEX_SESSION_MAX_HOURS * 3600,
            cookieSecure:
              raw.REFLEX_COOKIE_SECURE === 'auto' ? 'auto' : raw.REFLEX_COOKIE_SECURE === 'true',
            signinLimitPerMinute: raw.REFLEX_SIGNIN_LIMIT,
            signinAccountLimit: raw.REFLEX_SIGNIN_ACCOUNT_LIMIT,
            signinConcurrency: raw.REFLEX_SIGNIN_CONCURRENCY,
            streams: {
              perSession: raw.REFLEX_STREAMS_PER_SESSION,
              perClient: raw.REFLEX_STREAMS_PER_CLIENT,
              maxSeconds: raw.REFLEX_STREAM_MAX_SECONDS,
            },
            editorOrigin: raw.REFLEX_EDITOR_URL,
            siteUrl: raw.REFLEX_PUBLIC_URL,
            stateDir: raw.REFLEX_STATE_DIR,
            auditFile: raw.REFLEX_AUDIT_FILE,
            fetchIntervalMs: raw.REFLEX_FETCH_INTERVAL_MS,
            changeRequests: {
              directSaveRoles: raw.REFLEX_DIRECT_SAVE_ROLES,
              changeRequestRoles: raw.REFLEX_CHANGE_REQUEST_ROLES,
              publishRoles: raw.REFLEX_PUBLISH_ROLES,
              previewUrl: raw.REFLEX_PREVIEW_URL,
            },
          },
  };
}
