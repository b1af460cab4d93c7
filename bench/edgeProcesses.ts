/**
 * The processes the edge benchmarks measure: the loop as it was at BASELINE (its own server
 * and edge) and the loop of now, each in processes of their own as they run in use.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT } from './support';

/** The last commit where the platform served the site itself. */
export const BASELINE = '3cb5910833d4bfd92d4168d0efbd6c0e4bd9704f';

export interface Running {
  url: string;
  stop(): Promise<void>;
}

/** The first JSON line on a child's stdout that `pick` accepts, picked. */
function announced<T>(
  child: ChildProcess,
  pick: (line: Record<string, unknown>) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const picked = pick(JSON.parse(line) as Record<string, unknown>);
        if (picked !== undefined) resolve(picked);
      } catch {
        // not JSON
      }
    });
  });
}

/** Waits for `{"msg":"listening","port":N}` or `{"listening":N}` on a child's stdout. */
function listening(child: ChildProcess): Promise<number> {
  return announced(child, (line) => {
    if (typeof line.listening === 'number') return line.listening;
    if (line.msg === 'listening' && typeof line.port === 'number') return line.port;
    return undefined;
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** The loop as it was at BASELINE: its own build, its server (site inside), its edge. */
export async function startBaseline(): Promise<Running> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-baseline-'));
  try {
    execFileSync('sh', ['-c', `git -C "${ROOT}" archive ${BASELINE} | tar -x -C "${dir}"`]);
  } catch {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the baseline commit ${BASELINE} is not in this clone (fetch its history)`);
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(process.execPath, ['webapp/scripts/build.mjs'], {
    cwd: dir,
    env: { ...process.env, REFLEX_BUILD_SHA: BASELINE },
    stdio: 'ignore',
  });
  const server = spawn(process.execPath, ['webapp/dist/server.js'], {
    cwd: dir,
    // Logs at info, as the site process of now does (an access-log line per request).
    env: { PATH: process.env.PATH, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await listening(server);
  writeFileSync(
    path.join(dir, 'edge-runner.ts'),
    `import { Edge } from './webapp/src/loop/edge';
import { createLogger } from './webapp/src/logger';
const edge = new Edge(createLogger('silent'));
void edge.listen(0, '127.0.0.1').then((port) => {
  edge.switchTo(Edge.upstream(${port}, '${BASELINE}'));
  console.log(JSON.stringify({ listening: port }));
});
`,
  );
  const edge = spawn(process.execPath, ['--import', 'tsx', 'edge-runner.ts'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const edgePort = await listening(edge);
  return {
    url: `http://127.0.0.1:${edgePort}`,
    stop: async () => {
      await Promise.all([stopChild(edge), stopChild(server)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The loop of now in a process of its own (bench/servers/loop.ts), as `npm start` runs it and
 * as BASELINE's edge runs above: the edge never shares an event loop with the load generator.
 */
export async function startNowApart(): Promise<Running & { control: number; home: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers/loop.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const started = announced(child, (line) =>
    typeof line.listening === 'number'
      ? (line as { listening: number; control: number; home: string })
      : undefined,
  );
  const { listening: port, control, home } = await started;
  return {
    url: `http://127.0.0.1:${port}`,
    control,
    home,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
