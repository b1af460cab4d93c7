/**
 * The local edge, side by side in one run.
 *
 * edge-page      a site page through the edge: the loop as it was before the site got its own
 *                process (the platform served it; BASELINE in edgeProcesses.ts) against now
 *                (the sandboxed site process). Target: now >= 0.9 of before, req/s.
 * edge-attack    the live loop while 500 sockets hold request bodies open and 300 event streams
 *                idle, against the same loop unloaded: /version p99 from another client, and a
 *                page's req/s. Targets: p99 <= 100 ms under attack; page req/s >= 0.8 of quiet.
 * edge-scrape    a page's req/s through the edge while the supervisor's /metrics is scraped
 *                four times a second, against no scrape. Target: >= 0.98. The scraper is a
 *                process of its own, as Prometheus is (its HTTP client once shared the load
 *                generator's event loop, and so lowered the figure it measured), and the
 *                rounds alternate which goes first.
 *
 * In edge-page and edge-scrape every edge runs in a process of its own, as it does in use: the
 * load generator (and the scraper) never share the event loop of the edge they measure.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {
  ADMIN_PASSWORD,
  editorHost,
  makeProject,
  request,
  startLoop,
  type Loop,
} from '../test/support/loop';
import { startBaseline, startNowApart, type Running } from './edgeProcesses';
import { load, median, percentile, table, type BenchResult } from './support';

async function startNow(): Promise<{ loop: Loop; running: Running }> {
  const loop = await startLoop({ project: makeProject(), gate: [] });
  await loop.supervisor.whenLive();
  return { loop, running: { url: loop.url, stop: () => loop.close() } };
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

/**
 * Scrapes `/metrics` on the control port every `everyMs` from a process of its own, as
 * Prometheus does: the scraper's own work never runs in the load generator's event loop, and
 * it keeps its connection to the target open from one scrape to the next.
 */
const SCRAPER = `
const http = require('node:http');
const [port, token, everyMs] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const scrape = () =>
  http
    .get({ host: '127.0.0.1', port: Number(port), path: '/metrics', agent,
      headers: { authorization: 'Bearer ' + token } }, (res) => {
      if (res.statusCode !== 200) process.exit(2);
      res.resume();
      res.on('end', () => setTimeout(scrape, Number(everyMs)));
    })
    .on('error', () => setTimeout(scrape, Number(everyMs)));
scrape();
`;

function startScraper(port: number, token: string, everyMs: number): () => Promise<void> {
  const child = spawn(process.execPath, ['-e', SCRAPER, String(port), token, String(everyMs)], {
    stdio: 'ignore',
  });
  return () =>
    new Promise<void>((resolve, reject) => {
      if (child.exitCode !== null) return reject(new Error('the scraper got no 200 from /metrics'));
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
}

export async function edgeScrapeBench(options: {
  rounds: number;
  seconds: number;
}): Promise<BenchResult> {
  const loop = await startNowApart();
  const { token } = JSON.parse(
    readFileSync(path.join(loop.home, 'run/supervisor.json'), 'utf8'),
  ) as { token: string };
  const rps = { quiet: [] as number[], scraped: [] as number[] };
  try {
    await load(`${loop.url}/`, 1);
    for (let round = 0; round < options.rounds; round++) {
      // Each round swaps which goes first: a drift over the run favours neither.
      for (const scraped of round % 2 === 0 ? [false, true] : [true, false]) {
        const stopScraper = scraped ? startScraper(loop.control, token, 250) : undefined;
        // Node's own start is not a scrape: let the scraper start before the load does.
        if (stopScraper) await new Promise((r) => setTimeout(r, 500));
        try {
          const result = await load(`${loop.url}/`, options.seconds, 16);
          rps[scraped ? 'scraped' : 'quiet'].push(result.requestsPerSecond);
        } finally {
          await stopScraper?.();
        }
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
