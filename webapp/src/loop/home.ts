/**
 * REFLEX_HOME (default `.reflex/`): everything the local loop keeps between runs.
 *
 *   origin.git/        the bare repository the releases' editor pushes to (seeded from HEAD)
 *   releases/<sha>/    one checked-out, built release per commit (the newest 5 are kept)
 *   deps/<hash>/       node_modules shared by releases whose lockfile hashes alike
 *   logs/<sha>/        each release's pipeline and runtime logs
 *   state/             release history, revoked sessions
 *   cache/             jest and TypeScript caches, build cache
 *   run/               supervisor.json (control port and token) while it runs
 *   prometheus/        file-SD targets for `npm run monitor`
 *   secrets/           the session secret (0600)
 *   users.json, audit.log
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeTargets } from './scraper';

export interface HomePaths {
  root: string;
  origin: string;
  releases: string;
  deps: string;
  logs: string;
  state: string;
  cache: string;
  run: string;
  prometheus: string;
  secrets: string;
  work: string;
  usersFile: string;
  auditFile: string;
  supervisorFile: string;
}

export function homePaths(root: string): HomePaths {
  const r = path.resolve(root);
  return {
    root: r,
    origin: path.join(r, 'origin.git'),
    releases: path.join(r, 'releases'),
    deps: path.join(r, 'deps'),
    logs: path.join(r, 'logs'),
    state: path.join(r, 'state'),
    cache: path.join(r, 'cache'),
    run: path.join(r, 'run'),
    prometheus: path.join(r, 'prometheus'),
    secrets: path.join(r, 'secrets'),
    work: path.join(r, 'work'),
    usersFile: path.join(r, 'users.json'),
    auditFile: path.join(r, 'audit.log'),
    supervisorFile: path.join(r, 'run', 'supervisor.json'),
  };
}

/** Environment for git commands the supervisor runs: no user or system config. */
export const PLAIN_GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

export function git(gitDir: string, args: string[], input?: string): string {
  return execFileSync('git', ['--git-dir', gitDir, ...args], {
    env: PLAIN_GIT_ENV,
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
    .toString()
    .trim();
}

export class HomeError extends Error {}

/**
 * Creates what is missing and returns whether the origin was seeded now. A second start finds
 * everything in place and reuses it.
 */
export function prepareHome(
  paths: HomePaths,
  projectDir: string,
  branch: string,
): { seeded: boolean; sessionSecret: string } {
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  for (const dir of [
    paths.releases,
    paths.deps,
    paths.logs,
    paths.state,
    paths.cache,
    paths.run,
    paths.prometheus,
    paths.work,
  ]) {
    mkdirSync(dir, { recursive: true });
  }
  mkdirSync(paths.secrets, { recursive: true, mode: 0o700 });

  let seeded = false;
  if (!existsSync(path.join(paths.origin, 'HEAD'))) {
    let head: string;
    try {
      head = execFileSync('git', ['rev-parse', '--verify', 'HEAD^{commit}'], {
        cwd: projectDir,
        env: PLAIN_GIT_ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
        .toString()
        .trim();
    } catch {
      throw new HomeError(
        `${projectDir} is not a git checkout with a commit: Reflex seeds its local origin from HEAD (clone the repository, or commit first)`,
      );
    }
    execFileSync('git', ['init', '--quiet', '--bare', `--initial-branch=${branch}`, paths.origin], {
      env: PLAIN_GIT_ENV,
    });
    execFileSync(
      'git',
      ['push', '--quiet', '--no-verify', paths.origin, `${head}:refs/heads/${branch}`],
      {
        cwd: projectDir,
        env: PLAIN_GIT_ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    seeded = true;
  }
  installHook(paths);

  const secretFile = path.join(paths.secrets, 'session-secret');
  if (!existsSync(secretFile))
    writeFileSync(secretFile, randomBytes(48).toString('base64url') + '\n', { mode: 0o600 });
  chmodSync(secretFile, 0o600);
  return { seeded, sessionSecret: readFileSync(secretFile, 'utf8').trim() };
}

/** A word for a POSIX shell, single-quoted. */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The post-receive hook: tells the running supervisor which refs moved (best effort, 5 s). git
 * waits for a hook before it answers the push, so the hook only hands the updates to a notice of
 * its own and returns: a save does not wait for a process to start. (The branch's ref watch has
 * usually started the release already; the notice is for the change requests' branches.)
 */
export function installHook(paths: HomePaths): void {
  const notice = path.join(paths.origin, 'hooks', 'reflex-notify.cjs');
  writeFileSync(
    notice,
    `// Tells the Reflex supervisor that refs moved (stdin: post-receive's lines). Written by
// \`npm start\`; safe to delete with the hook.
const fs = require('fs');
const http = require('http');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  let target;
  try {
    target = JSON.parse(fs.readFileSync(${JSON.stringify(paths.supervisorFile)}, 'utf8'));
  } catch {
    return;
  }
  const updates = input.trim().split('\\n').filter(Boolean).map((line) => {
    const [from, to, ref] = line.split(' ');
    return { from, to, ref };
  });
  const body = JSON.stringify({ updates });
  const req = http.request(
    { host: '127.0.0.1', port: target.controlPort, path: '/notify', method: 'POST', timeout: 5000,
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + target.token } },
    (res) => res.resume(),
  );
  req.on('timeout', () => req.destroy());
  req.on('error', () => {});
  req.end(body);
});
`,
  );
  const hook = `#!/bin/sh
# Tells the Reflex supervisor that refs moved, without keeping the push waiting: the notice
# (reflex-notify.cjs) runs on its own. Written by \`npm start\`; safe to delete.
updates=$(cat)
{ printf '%s\\n' "$updates" | ${shellWord(process.execPath)} ${shellWord(notice)}; } </dev/null >/dev/null 2>&1 &
`;
  writeFileSync(path.join(paths.origin, 'hooks', 'post-receive'), hook, { mode: 0o755 });
}

/** One supervisor per REFLEX_HOME: refuse when the recorded one still runs. */
export function claimHome(paths: HomePaths): void {
  if (!existsSync(paths.supervisorFile)) return;
  try {
    const { pid } = JSON.parse(readFileSync(paths.supervisorFile, 'utf8')) as { pid: number };
    if (pid !== process.pid) {
      process.kill(pid, 0);
      throw new HomeError(
        `another supervisor (pid ${pid}) runs in ${paths.root}; stop it first, or set REFLEX_HOME`,
      );
    }
  } catch (err) {
    if (err instanceof HomeError) throw err;
    // stale file: that supervisor is gone
  }
}

/**
 * Tells the CLI and the monitoring stack where this supervisor listens: the supervisor file
 * (the CLI's `status`, `logs`), the token and file-SD list of `npm run monitor`
 * (scripts/monitoring: SUPERVISOR_TOKEN_FILE). All 0600: the token opens the control API.
 */
export function announceSupervisor(
  paths: HomePaths,
  o: { controlPort: number; edgePort: number; token: string },
): void {
  writeFileSync(paths.supervisorFile, JSON.stringify({ pid: process.pid, ...o }) + '\n', {
    mode: 0o600,
  });
  writeFileSync(path.join(paths.prometheus, 'supervisor-token'), `${o.token}\n`, { mode: 0o600 });
  writeTargets(path.join(paths.prometheus, 'supervisor.json'), [
    { address: `127.0.0.1:${o.controlPort}`, labels: {} },
  ]);
}

/** The supervisor stopped: nothing points at it any more. */
export function retractSupervisor(paths: HomePaths): void {
  rmSync(paths.supervisorFile, { force: true });
  rmSync(path.join(paths.prometheus, 'supervisor-token'), { force: true });
}
