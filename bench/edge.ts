/**
 * The local edge, side by side in one run.
 *
 * edge-page      a site page through the edge: the loop as it was before the site got its own
 *                process (the platform served it; BASELINE below) against now (the sandboxed
 *                site process). Target: now >= 0.9 of before, req/s.
 * edge-attack    the live loop while 500 sockets hold request bodies open and 300 event streams
 *                idle, against the same loop unloaded: /version p99 from another client, and a
 *                page's req/s. Targets: p99 <= 100 ms under attack; page req/s >= 0.8 of quiet.
 * edge-scrape    a page's req/s through the edge while the supervisor's /metrics is scraped
 *                four times a second, against no scrape. Target: >= 0.98.
 *
 * In edge-page and edge-scrape every edge runs in a process of its own, as it does in use: the
 * load generator (and the scraper) never share the event loop of the edge they measure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import {
  ADMIN_PASSWORD,
  editorHost,
  makeProject,
  request,
  startLoop,
  type Loop,
} from '../test/support/loop';
import { load, median, percentile, ROOT, table, type BenchResult } from './support';

/** The last commit where the platform served the site itself. */
export const BASELINE = '3cb5910833d4bfd92d4168d0efbd6c0e4bd9704f';

interface Running {
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
async function startBaseline(): Promise<Running> {
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

async function startNow(): Promise<{ loop: Loop; running: Running }> {
  const loop = await startLoop({ project: makeProject(), gate: [] });
  await loop.supervisor.whenLive();
  return { loop, running: { url: loop.url, stop: () => loop.close() } };
}

/**
 * The loop of now in a process of its own (bench/servers/loop.ts), as `npm start` runs it and
 * as BASELINE's edge runs above: the edge never shares an event loop with the load generator.
 */
async function startNowApart(): Promise<Running & { control: number; home: string }> {
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

export async function edgePageBench(options: {
  rounds: number;
  seconds: number;
}): Promise<BenchResult> {
  const before = await startBaseline();
  const now = await startNowApart();
  const rps = { before: [] as number[], now: [] as number[] };
  const p99 = { before: [] as number[], now: [] as number[] };
  try {
    await load(`${before.url}/`, 1);
    await load(`${now.url}/`, 1);
    for (let round = 0; round < options.rounds; round++) {
      for (const [name, target] of [
        ['before', before],
        ['now', now],
      ] as const) {
        const result = await load(`${target.url}/`, options.seconds, 16);
        if (result.non2xx + result.errors > 0) throw new Error(`${name}: errors under load`);
        rps[name].push(result.requestsPerSecond);
        p99[name].push(result.latencyP99Ms);
      }
    }
  } finally {
    await Promise.all([before.stop(), now.stop()]);
  }
  const ratio = median(rps.now) / median(rps.before);
  return {
    name: 'edge-page',
    report: [
      table([
        {
          path: 'before: edge -> platform serving the site',
          'req/s': median(rps.before),
          'p99 ms': median(p99.before),
        },
        {
          path: 'now: edge -> sandboxed site process',
          'req/s': median(rps.now),
          'p99 ms': median(p99.now),
        },
      ]),
      `now / before = ${ratio.toFixed(2)} (target >= 0.90); ${options.rounds} rounds of ${options.seconds} s, alternated, 16 connections, GET /`,
    ].join('\n'),
    pass: ratio >= 0.9,
    figures: { 'before req/s': median(rps.before), 'now req/s': median(rps.now), ratio },
  };
}

/** Keeps `count` sockets open, spread over `addresses`, each re-opened when closed. */
function holdOpen(count: number, addresses: string[], open: (local: string) => net.Socket) {
  const sockets = new Set<net.Socket>();
  let stopped = false;
  const keep = (local: string) => {
    if (stopped) return;
    const socket = open(local);
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      setTimeout(() => keep(local), 50);
    });
  };
  for (let i = 0; i < count; i++) keep(addresses[i % addresses.length]!);
  return {
    get open() {
      return sockets.size;
    },
    stop() {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

function addresses(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);
}

/** Latencies of GET /version from its own address, one request after another, for `ms`. */
async function probeVersion(port: number, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const started = process.hrtime.bigint();
    const status = await new Promise<number>((resolve) => {
      http
        .get(
          {
            host: '127.0.0.1',
            port,
            path: '/version',
            agent: false,
            localAddress: '127.0.0.3',
            timeout: 5000,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        )
        .on('error', () => resolve(0))
        .on('timeout', function (this: http.ClientRequest) {
          this.destroy();
        });
    });
    latencies.push(status === 200 ? Number(process.hrtime.bigint() - started) / 1e6 : 5000);
    await new Promise((r) => setTimeout(r, 20));
  }
  return latencies;
}

export async function edgeAttackBench(options: {
  rounds: number;
  seconds: number;
}): Promise<BenchResult> {
  const { loop } = await startNow();
  const port = loop.supervisor.edgePort;
  const host = editorHost(loop.url);
  const signIn = await request(loop.url, 'POST', '/api/session', {
    body: { username: 'admin', password: ADMIN_PASSWORD },
    host,
  });
  const cookie = signIn.headers['set-cookie']![0]!.split(';')[0]!;
  const quiet = { p99: [] as number[], rps: [] as number[] };
  const attacked = {
    p99: [] as number[],
    rps: [] as number[],
    slow: [] as number[],
    streams: [] as number[],
  };
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const underAttack of [false, true]) {
        const slow = underAttack
          ? holdOpen(500, addresses('127.0.1', 50), (local) => {
              const s = net.connect({ port, host: '127.0.0.1', localAddress: local });
              s.write(
                `POST /api/session HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
              );
              return s;
            })
          : undefined;
        const streams = underAttack
          ? holdOpen(300, addresses('127.0.2', 30), (local) => {
              const s = net.connect({ port, host: '127.0.0.1', localAddress: local });
              s.write(
                `GET /api/pipeline/events HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}\r\nAccept: text/event-stream\r\n\r\n`,
              );
              return s;
            })
          : undefined;
        await new Promise((r) => setTimeout(r, 1000));
        const [latencies, page] = await Promise.all([
          probeVersion(port, options.seconds * 1000),
          load(`${loop.url}/`, options.seconds, 8),
        ]);
        const bucket = underAttack ? attacked : quiet;
        bucket.p99.push(percentile(latencies, 99));
        bucket.rps.push(page.requestsPerSecond);
        if (slow && streams) {
          attacked.slow.push(slow.open);
          attacked.streams.push(streams.open);
        }
        slow?.stop();
        streams?.stop();
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await loop.close();
  }
  const p99 = median(attacked.p99);
  const ratio = median(attacked.rps) / median(quiet.rps);
  return {
    name: 'edge-attack',
    report: [
      table([
        { edge: 'quiet', '/version p99 ms': median(quiet.p99), 'page req/s': median(quiet.rps) },
        {
          edge: `500 slow bodies + 300 event streams (${Math.round(median(attacked.slow))} + ${Math.round(median(attacked.streams))} sockets held)`,
          '/version p99 ms': p99,
          'page req/s': median(attacked.rps),
        },
      ]),
      `under attack: /version p99 ${p99.toFixed(1)} ms (target <= 100), page req/s ${ratio.toFixed(2)} of quiet (target >= 0.80); ${options.rounds} rounds of ${options.seconds} s, alternated`,
    ].join('\n'),
    pass: p99 <= 100 && ratio >= 0.8,
    figures: {
      'attack /version p99 ms': p99,
      'quiet /version p99 ms': median(quiet.p99),
      'page ratio': ratio,
    },
  };
}

export async function edgeScrapeBench(options: {
  rounds: number;
  seconds: number;
}): Promise<BenchResult> {
  const loop = await startNowApart();
  const { token } = JSON.parse(
    readFileSync(path.join(loop.home, 'run/supervisor.json'), 'utf8'),
  ) as { token: string };
  const control = loop.control;
  const rps = { quiet: [] as number[], scraped: [] as number[] };
  try {
    await load(`${loop.url}/`, 1);
    for (let round = 0; round < options.rounds; round++) {
      for (const scraped of [false, true]) {
        let scraping = scraped;
        const scraper = (async () => {
          while (scraping) {
            await new Promise<void>((resolve) => {
              http
                .get(
                  {
                    host: '127.0.0.1',
                    port: control,
                    path: '/metrics',
                    agent: false,
                    headers: { authorization: `Bearer ${token}` },
                  },
                  (res) => {
                    res.resume();
                    res.on('end', () => resolve());
                  },
                )
                .on('error', () => resolve());
            });
            await new Promise((r) => setTimeout(r, 250));
          }
        })();
        const result = await load(`${loop.url}/`, options.seconds, 16);
        scraping = false;
        await scraper;
        rps[scraped ? 'scraped' : 'quiet'].push(result.requestsPerSecond);
      }
    }
  } finally {
    await loop.stop();
  }
  const ratio = median(rps.scraped) / median(rps.quiet);
  return {
    name: 'edge-scrape',
    report: [
      table([
        { edge: 'no scrape', 'page req/s': median(rps.quiet) },
        {
          edge: "supervisor's /metrics scraped 4 times a second",
          'page req/s': median(rps.scraped),
        },
      ]),
      `scraped / quiet = ${ratio.toFixed(3)} (target >= 0.98); ${options.rounds} rounds of ${options.seconds} s, alternated`,
    ].join('\n'),
    pass: ratio >= 0.98,
    figures: { ratio, 'quiet req/s': median(rps.quiet), 'scraped req/s': median(rps.scraped) },
  };
}
