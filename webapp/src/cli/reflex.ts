/**
 * The `reflex` command: `npm run reflex -- <command>`; `npm start` is `reflex start`.
 * Settings come from the environment (docs/CONFIGURATION.md): REFLEX_HOME, REFLEX_PORT, …
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pino from 'pino';
import { z } from 'zod';
import { UserStore } from '../auth/users';
import { AppError } from '../errors';
import { pushRestore } from '../git/restore';
import { GitWorkspace } from '../git/workspace';
import { createLogger } from '../logger';
import { parseGate } from '../loop/gate';
import { History } from '../loop/history';
import { homePaths, type HomePaths } from '../loop/home';
import { SseReader } from '../pipeline/sse';
import { Supervisor, SupervisorError } from '../loop/supervisor';
import type { ReleaseRecord, StageEvent } from '../pipeline/types';

const PROJECT_DIR = path.resolve(__dirname, '../../..');

/** Settings the supervisor passes on to every release. */
const RELEASE_SETTINGS = [
  'REFLEX_EDITABLE',
  'REFLEX_MAX_FILE_BYTES',
  'REFLEX_SESSION_IDLE_MINUTES',
  'REFLEX_SESSION_MAX_HOURS',
  'REFLEX_SIGNIN_LIMIT',
  'REFLEX_LOG_LEVEL',
  'REFLEX_FETCH_INTERVAL_MS',
  'REFLEX_COMMITTER_NAME',
  'REFLEX_COMMITTER_EMAIL',
];

const loopSchema = z.object({
  REFLEX_HOME: z.string().min(1).default(path.join(PROJECT_DIR, '.reflex')),
  REFLEX_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  REFLEX_HOST: z.string().min(1).default('127.0.0.1'),
  REFLEX_BRANCH: z
    .string()
    .regex(/^(?!-)[A-Za-z0-9._/-]{1,200}$/)
    .default('main'),
  REFLEX_GATE: z.string().optional(),
  REFLEX_GATE_WARM: z.enum(['true', 'false']).default('true'),
  REFLEX_HEALTH_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  REFLEX_DRAIN_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  REFLEX_GATE_TIMEOUT_MS: z.coerce.number().int().positive().default(300_000),
  REFLEX_KEEP_RELEASES: z.coerce.number().int().min(2).default(5),
  REFLEX_POLL_INTERVAL_MS: z.coerce.number().int().positive().default(2000),
  REFLEX_ADMIN_PASSWORD: z.string().min(10, 'must be at least 10 characters').optional(),
});

const USAGE = `usage: npm run reflex -- <command>

  start                      run the whole loop on this machine (npm start)
  status                     what is live, what the pipeline is doing, what is queued
  releases                   release history with outcomes and stage timings
  logs <sha> [stage]         a release's pipeline and runtime logs
  rollback <sha>             commit main back to <sha>'s tree, push, and follow the deploy
  users list                 accounts of the editor
  users add <name> [--role editor|viewer] [--name "Full Name"] [--email a@b]
                             (password from stdin, or asked for on a terminal)
  users remove <name>`;

class UsageError extends Error {}

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

interface Running {
  controlPort: number;
  edgePort: number;
  token: string;
}

function running(paths: HomePaths): Running | undefined {
  try {
    const info = JSON.parse(readFileSync(paths.supervisorFile, 'utf8')) as Running & {
      pid: number;
    };
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

function getJson<T>(sup: Running, urlPath: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get(
        {
          host: '127.0.0.1',
          port: sup.controlPort,
          path: urlPath,
          agent: false,
          headers: { authorization: `Bearer ${sup.token}` },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body) as T));
        },
      )
      .on('error', reject);
  });
}

async function status(paths: HomePaths): Promise<void> {
  const sup = running(paths);
  if (!sup) {
    console.log(`Reflex is not running (REFLEX_HOME ${paths.root}). Start it with: npm start`);
    return;
  }
  const s = await getJson<{
    live: { sha: string } | null;
    running: { sha: string; stage: string | null } | null;
    pending: string | null;
    url: string;
    editor: string;
  }>(sup, '/status');
  console.log(`live:     ${s.live ? s.live.sha : '(none)'}`);
  console.log(
    `pipeline: ${s.running ? `${s.running.sha.slice(0, 12)} at ${s.running.stage ?? 'queue'}` : 'idle'}`,
  );
  console.log(`queued:   ${s.pending ?? '(nothing)'}`);
  console.log(`url:      ${s.url}   editor: ${s.editor}`);
}

function formatReleases(releases: ReleaseRecord[]): string {
  const rows = releases.map((r) => {
    const timings = r.stages
      .map(
        (s) =>
          `${s.stage} ${s.durationMs === undefined ? '…' : (s.durationMs / 1000).toFixed(1) + 's'}${s.outcome === 'failed' ? '✗' : ''}`,
      )
      .join(', ');
    return `${r.live ? '*' : ' '} ${r.sha.slice(0, 12)}  ${r.outcome.padEnd(10)} ${r.committedAt.slice(0, 19).replace('T', ' ')}  ${r.author.split(' <')[0]!.padEnd(16).slice(0, 16)}  ${r.message.slice(0, 50)}${timings ? `\n      ${timings}` : ''}`;
  });
  return rows.length ? rows.join('\n') : '(no releases yet)';
}

async function releases(paths: HomePaths): Promise<void> {
  const sup = running(paths);
  const list = sup
    ? (await getJson<{ releases: ReleaseRecord[] }>(sup, '/releases')).releases
    : new History(path.join(paths.state, 'releases.json')).all();
  console.log(formatReleases(list));
}

function logs(paths: HomePaths, prefix: string | undefined, stage: string | undefined): void {
  if (!prefix) throw new UsageError('usage: reflex logs <sha> [stage]');
  const dirs = existsSync(paths.logs)
    ? readdirSync(paths.logs).filter((d) => d.startsWith(prefix))
    : [];
  if (dirs.length !== 1)
    throw new UsageError(
      dirs.length ? `${prefix} is ambiguous: ${dirs.join(', ')}` : `no logs for ${prefix}`,
    );
  const dir = path.join(paths.logs, dirs[0]!);
  for (const file of readdirSync(dir).sort()) {
    if (stage && !file.startsWith(stage)) continue;
    console.log(`==> ${file}`);
    console.log(readFileSync(path.join(dir, file), 'utf8'));
  }
}

function operator(): { name: string; email: string } {
  const read = (key: string) => {
    try {
      return execFileSync('git', ['config', key], {
        cwd: PROJECT_DIR,
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim();
    } catch {
      return '';
    }
  };
  return {
    name: read('user.name') || os.userInfo().username,
    email: read('user.email') || `${os.userInfo().username}@localhost`,
  };
}

async function rollback(paths: HomePaths, sha: string | undefined, branch: string): Promise<void> {
  if (!sha) throw new UsageError('usage: reflex rollback <sha>');
  const full = resolveSha(paths, sha);
  const logger = createLogger('silent');
  console.log(`Rolling ${branch} back to ${full.slice(0, 12)}…`);
  const workspace = await GitWorkspace.clone({
    repoUrl: paths.origin,
    branch,
    credentials: { username: 'x' },
    committer: { name: 'Reflex', email: 'reflex@users.reflex.invalid' },
    logger,
  });
  let commit: string;
  try {
    commit = await pushRestore(workspace, full, operator());
  } finally {
    await workspace.close();
  }
  console.log(`Pushed ${commit.slice(0, 12)} (restores ${full.slice(0, 12)}).`);
  const sup = running(paths);
  if (!sup) {
    console.log('The supervisor is not running: `npm start` will deploy it.');
    return;
  }
  await follow(sup, commit);
}

function resolveSha(paths: HomePaths, given: string): string {
  try {
    return execFileSync(
      'git',
      ['--git-dir', paths.origin, 'rev-parse', '--verify', `${given}^{commit}`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .trim();
  } catch {
    throw new UsageError(`${given} is not a commit of the local origin`);
  }
}

/** Prints the pipeline's stages for `sha` until it is live or has failed. */
function follow(sup: Running, sha: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port: sup.controlPort,
        path: '/events',
        agent: false,
        headers: { authorization: `Bearer ${sup.token}` },
      },
      (res) => {
        const reader = new SseReader();
        res.on('data', (chunk: Buffer) => {
          for (const data of reader.push(chunk.toString('utf8'))) {
            const event = data as StageEvent;
            if (event.sha !== sha || event.status === 'started') continue;
            const took =
              event.durationMs === undefined ? '' : ` (${(event.durationMs / 1000).toFixed(1)} s)`;
            console.log(
              `  ${event.stage} ${event.status === 'succeeded' ? 'ok' : 'FAILED'}${took}`,
            );
            if (event.status === 'failed' || event.stage === 'live') {
              if (event.status === 'failed' && event.log) console.log(event.log);
              req.destroy();
              resolve();
            }
          }
        });
      },
    );
    req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
  });
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    let input = '';
    for await (const chunk of process.stdin) input += String(chunk);
    return input.replace(/\r?\n$/, '');
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      const rl = readline.createInterface({
        input: process.stdin,
        output: process.stdout,
        terminal: true,
      });
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.includes(prompt)) process.stdout.write(s);
      };
      rl.question(prompt, (answer) => {
        rl.close();
        process.stdout.write('\n');
        resolve(answer);
      });
    });
  const first = await ask('Password: ');
  if ((await ask('Again: ')) !== first) throw new UsageError('the passwords differ');
  return first;
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args[at + 1];
}

async function users(paths: HomePaths, args: string[]): Promise<void> {
  const store = new UserStore(process.env.REFLEX_USERS_FILE || paths.usersFile);
  const [action, name] = args;
  if (action === 'list') {
    for (const user of (await store.all()).values())
      console.log(
        `${user.username.padEnd(20)} ${user.role.padEnd(7)} ${user.name} <${user.email}>`,
      );
    return;
  }
  if (action === 'add' && name) {
    const role = option(args, '--role') ?? 'editor';
    if (role !== 'editor' && role !== 'viewer') throw new UsageError('--role is editor or viewer');
    const password = await readPassword();
    await store.add({
      username: name,
      role,
      password,
      name: option(args, '--name'),
      email: option(args, '--email'),
    });
    console.log(`Added ${name} (${role}).`);
    return;
  }
  if (action === 'remove' && name) {
    await store.remove(name);
    console.log(`Removed ${name}; their sessions end at their next request.`);
    return;
  }
  throw new UsageError(
    'usage: reflex users list | add <name> [--role editor|viewer] [--name N] [--email E] | remove <name>',
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
      return users(paths, rest);
    case undefined:
    default:
      throw new UsageError(USAGE);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    if (err instanceof UsageError || err instanceof SupervisorError || err instanceof AppError) {
      console.error(`reflex: ${err.message}`);
      process.exit(err instanceof UsageError ? 64 : 1);
    }
    console.error(err);
    process.exit(1);
  });
}
