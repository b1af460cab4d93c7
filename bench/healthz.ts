/**
 * GET /healthz of the real app (request ids, JSON request logs, metrics) against node:http
 * doing the same work without a framework, alternated round by round in one run. Beside them:
 * the Koa floor (Koa with one middleware doing the same work), which splits the gap into Koa's
 * own cost and the app's middleware structure; and the published anchor measured on this
 * machine, Koa + @koa/router against plain node:http.
 * Target: app / same-work >= 0.65 (anchor published as ~0.70 by fastify/benchmarks).
 */
import path from 'node:path';
import { cpuSeconds, load, median, startChildServer, table, type BenchResult } from './support';

const TARGET_RATIO = 0.65;

const servers = {
  app: { file: 'koaHealthz.ts', label: 'reflex app: koa, logs, metrics' },
  sameWork: { file: 'bareHealthz.ts', label: 'node:http, same logs and metrics' },
  koaFloor: { file: 'koaSameWork.ts', label: 'koa, same work in one middleware' },
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
  const cpuMicros = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<
    ServerName,
    number[]
  >;
  try {
    for (const [i] of names.entries())
      await load(`http://127.0.0.1:${started[i]!.port}/healthz`, 1);
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, name] of names.entries()) {
        const cpuBefore = cpuSeconds(started[i]!.pid);
        const result = await load(`http://127.0.0.1:${started[i]!.port}/healthz`, options.seconds);
        const cpu = cpuSeconds(started[i]!.pid) - cpuBefore;
        if (result.non2xx + result.errors > 0)
          throw new Error(`${name}: non-2xx or errors under load`);
        rps[name].push(result.requestsPerSecond);
        p99[name].push(result.latencyP99Ms);
        cpuMicros[name].push((cpu / result.requests) * 1e6);
      }
    }
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
  const m = (name: ServerName) => median(rps[name]);
  const ratio = m('app') / m('sameWork');
  const floor = m('koaFloor') / m('sameWork');
  const structure = m('app') / m('koaFloor');
  const anchor = m('koaRouter') / m('bare');
  const cpu = (name: ServerName) => median(cpuMicros[name]);
  const cpuRatio = cpu('sameWork') / cpu('app');
  const report = [
    table(
      names.map((name) => ({
        server: servers[name].label,
        'req/s (median)': m(name),
        'p99 ms (median)': median(p99[name]),
        'server CPU µs/req (median)': median(cpuMicros[name]),
      })),
    ),
    `ratio app / same-work node:http = ${ratio.toFixed(3)} (target >= ${TARGET_RATIO})`,
    `same ratio from server CPU per request (the servers' own CPU time only) = ${cpuRatio.toFixed(3)}`,
    `koa floor / same-work node:http = ${floor.toFixed(3)} (Koa's own cost with this work)`,
    `app / koa floor = ${structure.toFixed(3)} (the app's middleware structure)`,
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
      ['cpuRatio', cpuRatio],
      ...names.map((n) => [`${n}CpuMicrosPerRequest`, cpu(n)]),
      ['koaFloorRatio', floor],
      ['structureRatio', structure],
      ['anchorRatio', anchor],
    ]),
  };
}
