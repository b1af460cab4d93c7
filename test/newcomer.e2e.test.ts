/**
 * `npm start` the way a newcomer runs it: a fresh clone, dependencies as `npm ci` leaves them,
 * no settings but a free port, the state folder where the README puts it (`.reflex/` inside the
 * checkout). A type-correct change that fails the site's own test must stay out, and the editor's
 * pipeline stream must name the failing test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SseReader } from '../webapp/src/pipeline/sse';
import type { StageEvent } from '../webapp/src/pipeline/types';
import { editorHost, git, makeProject, request, ROOT } from './support/loop';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The environment of a newcomer's shell: nothing of Reflex's own settings. */
function newcomerEnv(port: number): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('REFLEX_') && key !== 'CI'),
  );
  return { ...env, REFLEX_PORT: String(port) };
}

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${out}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] ?? match[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
}

/**
 * Follows the editor's own pipeline stream until `predicate` matches an event, reconnecting
 * as the browser does when a release drains (the stream replays recent events).
 */
function followPipeline(
  base: string,
  cookie: string,
  predicate: (event: StageEvent) => boolean,
  timeoutMs: number,
): Promise<StageEvent> {
  const seen: string[] = [];
  let current: http.ClientRequest | undefined;
  let done = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      done = true;
      current?.destroy();
      reject(new Error(`no such event within ${timeoutMs} ms; saw:\n${seen.join('\n')}`));
    }, timeoutMs);
    const connect = () => {
      if (done) return;
      const reader = new SseReader();
      current = http.get(
        new URL('/api/pipeline/events', base),
        {
          agent: false,
          headers: { cookie, accept: 'text/event-stream', host: editorHost(base) },
        },
        (res) => {
          res.on('data', (chunk: Buffer) => {
            for (const data of reader.push(chunk.toString('utf8'))) {
              const event = data as StageEvent;
              seen.push(`${event.sha.slice(0, 8)} ${event.stage} ${event.status}`);
              if (!done && predicate(event)) {
                done = true;
                clearTimeout(timer);
                current?.destroy();
                resolve(event);
              }
            }
          });
          res.on('end', () => setTimeout(connect, 200));
        },
      );
      current.on('error', () => setTimeout(connect, 200));
    };
    connect();
  });
}

describe('npm start the newcomer way (fresh clone, state in .reflex/ inside it)', () => {
  let project: string;
  let clone: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    project = makeProject();
    clone = path.join(mkdtempSync(path.join(os.tmpdir(), 'reflex-newcomer-')), 'reflex');
    git(path.dirname(clone), ['clone', '--quiet', project, clone]);
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
  });

  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null) {
      process.kill(-child.pid, 'SIGINT');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    rmSync(project, { recursive: true, force: true });
    rmSync(path.dirname(clone), { recursive: true, force: true });
  });

  it('keeps a type-correct change that fails the site test out, and names the failing test', async () => {
    const port = await freePort();
    child = spawn('npm', ['start'], {
      cwd: clone,
      env: newcomerEnv(port),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const password = waitForOutput(child, /password (\S{20,})\n/, 30_000);
    await waitForOutput(child, /Reflex is live at http:\/\/localhost:\d+/, 240_000);
    expect(existsSync(path.join(clone, '.reflex/releases'))).toBe(true);
    const base = `http://127.0.0.1:${port}`;
    const before = JSON.parse((await request(base, 'GET', '/version')).body) as { sha: string };

    const host = editorHost(base);
    const signIn = await request(base, 'POST', '/api/session', {
      body: { username: 'admin', password: await password },
      host,
    });
    expect(signIn.status).toBe(204);
    const cookie = signIn.headers['set-cookie']![0]!.split(';')[0]!;
    const file = 'webapp/site/routes.ts';
    const current = JSON.parse(
      (await request(base, 'GET', `/api/files/${file}`, { cookie, host })).body,
    ) as {
      content: string;
    };
    // Type-correct, and wrong by the site's own test ("Hello, Ada!").
    const broken = current.content.replace('`Hello, ${', '`Howdy, ${');
    expect(broken).not.toBe(current.content);
    const saved = await request(base, 'PUT', `/api/files/${file}`, {
      cookie,
      host,
      body: { content: broken, baseCommit: before.sha },
    });
    expect(saved.status).toBe(200);
    const commit = (JSON.parse(saved.body) as { commit: string }).commit;

    const gate = await followPipeline(
      base,
      cookie,
      (e) => e.sha === commit && e.stage === 'gate' && e.status !== 'started',
      240_000,
    );
    expect(gate.status).toBe('failed');
    expect(gate.log).toContain('greets by name, and the world when no name is given');
    const after = JSON.parse((await request(base, 'GET', '/version')).body) as { sha: string };
    expect(after.sha).toBe(before.sha);
  }, 360_000);
});
