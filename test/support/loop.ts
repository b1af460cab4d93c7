/**
 * The local loop for end-to-end tests: a project made from this repository's working tree
 * (committed into a fresh git repository, sharing this checkout's node_modules), a real
 * supervisor on free loopback ports, and a client that signs in and saves through the edge.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../webapp/src/logger';
import type { GateStep } from '../../webapp/src/loop/gate';
import { Supervisor } from '../../webapp/src/loop/supervisor';
import type { StageEvent } from '../../webapp/src/pipeline/types';

export const ROOT = path.resolve(__dirname, '../..');
export const ADMIN_PASSWORD = 'local-loop-admin-pw';

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Tester',
  GIT_AUTHOR_EMAIL: 'tester@example.com',
  GIT_COMMITTER_NAME: 'Tester',
  GIT_COMMITTER_EMAIL: 'tester@example.com',
};

export function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    .toString()
    .trim();
}

/** A git repository holding this working tree (tracked and untracked, not ignored files). */
export function makeProject(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-project-'));
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: ROOT },
  )
    .toString()
    .split('\0')
    .filter(Boolean);
  const archive = execFileSync('tar', ['-cf', '-', '--null', '--ignore-failed-read', '-T', '-'], {
    cwd: ROOT,
    input: files.join('\0'),
    maxBuffer: 1 << 30,
  });
  execFileSync('tar', ['-xf', '-'], { cwd: dir, input: archive });
  git(dir, ['init', '--quiet', '--initial-branch=main']);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '--quiet', '-m', 'The project as tested']);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

export interface Loop {
  supervisor: Supervisor;
  project: string;
  home: string;
  url: string;
  lines: string[];
  events: StageEvent[];
  /** Resolves with the event matching `predicate` (past or future). */
  waitForEvent(predicate: (e: StageEvent) => boolean, timeoutMs?: number): Promise<StageEvent>;
  /** Waits until the edge's /version reports `sha`. */
  waitForVersion(sha: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLoop(
  options: {
    project?: string;
    gate?: GateStep[];
    drainTimeoutMs?: number;
    healthTimeoutMs?: number;
    warmGate?: boolean;
    reuseProcesses?: boolean;
    previews?: { maxRunning: number; idleMs: number };
    siteSettingsFrom?: NodeJS.ProcessEnv;
    /** How often the branches are polled (tests: 500 ms; `npm start`'s default is 2000). */
    pollIntervalMs?: number;
  } = {},
): Promise<Loop> {
  const project = options.project ?? makeProject();
  const home = path.join(project, '.reflex');
  const lines: string[] = [];
  const supervisor = await Supervisor.start({
    projectDir: project,
    home,
    port: 0,
    host: '127.0.0.1',
    branch: 'main',
    gate: options.gate ?? ['typecheck', 'test'],
    healthTimeoutMs: options.healthTimeoutMs ?? 20_000,
    warmGate: options.warmGate,
    reuseProcesses: options.reuseProcesses,
    previews: options.previews,
    siteSettingsFrom: options.siteSettingsFrom,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    gateTimeoutMs: 180_000,
    keepReleases: 5,
    pollIntervalMs: options.pollIntervalMs ?? 500,
    adminPassword: ADMIN_PASSWORD,
    releaseSettings: {},
    logger: createLogger('silent'),
    say: (line) => lines.push(line),
  });
  const events: StageEvent[] = [];
  const waiters = new Set<{
    predicate: (e: StageEvent) => boolean;
    resolve: (e: StageEvent) => void;
  }>();
  supervisor.events.subscribe((event) => {
    events.push(event);
    for (const waiter of waiters) {
      if (waiter.predicate(event)) {
        waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  });
  const url = `http://127.0.0.1:${supervisor.edgePort}`;
  return {
    supervisor,
    project,
    home,
    url,
    lines,
    events,
    waitForEvent(predicate, timeoutMs = 120_000) {
      const past = events.find(predicate);
      if (past) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (waiters.delete(waiter))
            reject(
              new Error(
                `no such pipeline event within ${timeoutMs} ms; saw:\n${events.map((e) => `${e.sha.slice(0, 8)} ${e.stage} ${e.status}`).join('\n')}`,
              ),
            );
        }, timeoutMs).unref();
      });
    },
    async waitForVersion(sha, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        last = (await request(url, 'GET', '/version').catch(() => ({ body: '' }))).body;
        if (last.includes(sha)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `the edge did not serve ${sha} within ${timeoutMs} ms (last /version: ${last})`,
      );
    },
    async close() {
      await supervisor.close();
      rmSync(project, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function request(
  base: string,
  method: string,
  urlPath: string,
  options: {
    body?: unknown;
    cookie?: string;
    host?: string;
    authorization?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(urlPath, base),
      {
        method,
        agent: false,
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
          ...(options.cookie ? { cookie: options.cookie } : {}),
          ...(options.host ? { host: options.host } : {}),
          ...(options.authorization ? { authorization: options.authorization } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The Host header of the editor's origin on the edge at `base` (`editor.localhost:<port>`). */
export function editorHost(base: string): string {
  return `editor.localhost:${new URL(base).port}`;
}

/** Signs in through the edge, on the editor's origin; returns a client that saves files. */
export async function editorClient(base: string, password = ADMIN_PASSWORD) {
  const host = editorHost(base);
  const signIn = await request(base, 'POST', '/api/session', {
    body: { username: 'admin', password },
    host,
  });
  if (signIn.status !== 204) throw new Error(`sign-in answered ${signIn.status}: ${signIn.body}`);
  const cookie = signIn.headers['set-cookie']![0]!.split(';')[0]!;
  const client = {
    cookie,
    async head(): Promise<string> {
      // The platform answers 503 until its clone is ready (it clones after it listens).
      for (let attempt = 0; ; attempt++) {
        const tree = await request(base, 'GET', '/api/tree', { cookie, host });
        if (tree.status === 200) return (JSON.parse(tree.body) as { commit: string }).commit;
        if (tree.status !== 503 || attempt >= 100)
          throw new Error(`GET /api/tree answered ${tree.status}: ${tree.body}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async read(file: string): Promise<string> {
      const res = await request(base, 'GET', `/api/files/${file}`, { cookie, host });
      return (JSON.parse(res.body) as { content: string }).content;
    },
    /** Saves `content` at `file` on the current head; returns the new commit. */
    async save(file: string, content: string): Promise<string> {
      const res = await request(base, 'PUT', `/api/files/${file}`, {
        cookie,
        host,
        body: { content, baseCommit: await client.head() },
      });
      if (res.status !== 200)
        throw new Error(`save of ${file} answered ${res.status}: ${res.body}`);
      return (JSON.parse(res.body) as { commit: string }).commit;
    },
  };
  return client;
}
