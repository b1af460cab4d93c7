/**
 * GET /healthz of the real app (request ids, JSON request logs, metrics) against node:http
 * doing the same work without a framework, alternated round by round in one run; beside it,
 * the published anchor measured on this machine: Koa + @koa/router against plain node:http.
 * Target: app / same-work >= 0.65 (anchor published as ~0.70 by fastify/benchmarks).
 */
import path from 'node:path';
import { load, median, startChildServer, table, type BenchResult } from './support';

const TARGET_RATIO = 0.65;

const servers = {
  app: { file: 'koaHealthz.ts', label: 'reflex app: koa, logs, metrics' },
  sameWork: { file: 'bareHealthz.ts', label: 'node:http, same logs and metrics' },
  koaRouter: { file: 'koaRouterHello.ts', label: 'anchor: koa + @koa/router only' },
  bare: { file: 'bareHello.ts', label: 'anchor: node:http only' },
} as const;
type ServerName = keyof typeof servers;

export async function healthzBench(options: {
  rounds: number;
  seconds: number;
}): Promise<BenchResult> {
  const names = Object.keys(servers) as ServerName[];
  const started = await Promise.all(
    names.map((name) => startChildServer(path.join(__dirname, 'servers', servers[name].file))),
  );
  const rps = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<
    ServerName,
    number[]
  >;
  const p99 = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<
    ServerName,
    number[]
  >;
  try {
    for (const [i] of names.entries())
      await load(`http://127.0.0.1:${started[i]!.port}/healthz`, 1);
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, name] of names.entries()) {
        const result = await load(`http://127.0.0.1:${started[i]!.port}/healthz`, options.seconds);
        if (result.non2xx + result.errors > 0)
          throw new Error(`${name}: non-2xx or errors under load`);
        rps[name].push(result.requestsPerSecond);
        p99[name].push(result.latencyP99Ms);
      }
    }
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
  const m = (name: ServerName) => median(rps[name]);
  const ratio = m('app') / m('sameWork');
  const anchor = m('koaRouter') / m('bare');
  const report = [
    table(
      names.map((name) => ({
        server: servers[name].label,
        'req/s (median)': m(name),
        'p99 ms (median)': median(p99[name]),
      })),
    ),
    `ratio app / same-work node:http = ${ratio.toFixed(3)} (target >= ${TARGET_RATIO})`,
    `anchor koa+@koa/router / node:http = ${anchor.toFixed(3)} on this machine (published ~0.70)`,
    `(${options.rounds} alternating rounds of ${options.seconds} s each, 32 connections, autocannon on loopback)`,
  ].join('\n');
  return {
    name: 'healthz',
    report,
    pass: ratio >= TARGET_RATIO,
    figures: Object.fromEntries([
      ...names.map((n) => [`${n}Rps`, m(n)]),
      ['ratio', ratio],
      ['anchorRatio', anchor],
    ]),
  };
}
