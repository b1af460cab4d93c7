/**
 * Edit → live on the local loop: from the save request being sent to the edge serving the new
 * SHA, over real processes (supervisor, releases, edge) and real git. Three rows, one run:
 * a page edit with the gate on, the same with the gate off, and a TypeScript edit with the gate
 * on (which also runs the tests related to the change). Each stage's share is its median
 * duration over the median total.
 * Targets: p50 <= 3 s with the gate on, <= 1 s with it off.
 */
import http from 'node:http';
import { editorClient, makeProject, startLoop } from '../test/support/loop';
import type { GateStep } from '../webapp/src/loop/gate';
import { median, percentile, table, type BenchResult } from './support';

const PAGE = 'webapp/site/pages/index.html';
const ROUTES = 'webapp/site/routes.ts';
const STAGES = ['checkout', 'gate', 'build', 'start', 'healthy', 'live'] as const;

interface Mode {
  label: string;
  gate: GateStep[];
  file: string;
  content: (i: number) => string;
  targetMs?: number;
}

function versionOf(base: string): Promise<string> {
  return new Promise((resolve) => {
    http
      .get(`${base}/version`, { agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', () => resolve(''));
  });
}

async function measure(mode: Mode, runs: number) {
  const project = makeProject();
  const loop = await startLoop({ project, gate: mode.gate });
  try {
    await loop.supervisor.whenLive();
    const client = await editorClient(loop.url);
    const original = await client.read(mode.file);
    const totals: number[] = [];
    const stages: Record<string, number[]> = Object.fromEntries(STAGES.map((s) => [s, []]));
    // One unmeasured run first: caches (TypeScript build info, jest) warm up as in daily use.
    for (let i = 0; i <= runs; i++) {
      const started = process.hrtime.bigint();
      const commit = await client.save(mode.file, mode.content(i).replace('%ORIGINAL%', original));
      while (!(await versionOf(loop.url)).includes(commit))
        await new Promise((r) => setTimeout(r, 10));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (i === 0) continue;
      totals.push(ms);
      for (const stage of STAGES) {
        const done = loop.events.find(
          (e) => e.sha === commit && e.stage === stage && e.status === 'succeeded',
        );
        stages[stage]!.push(done?.durationMs ?? 0);
      }
    }
    return { totals, stages };
  } finally {
    await loop.close();
  }
}

export async function editToLiveBench(options: { runs: number }): Promise<BenchResult> {
  const modes: Mode[] = [
    {
      label: 'page edit, gate on',
      gate: ['typecheck', 'test'],
      file: PAGE,
      content: (i) => `<!doctype html><title>Reflex</title><h1 id="headline">Edit ${i}</h1>\n`,
      targetMs: 3000,
    },
    {
      label: 'page edit, gate off',
      gate: [],
      file: PAGE,
      content: (i) => `<!doctype html><title>Reflex</title><h1 id="headline">Edit ${i}</h1>\n`,
      targetMs: 1000,
    },
    {
      label: 'TypeScript edit, gate on',
      gate: ['typecheck', 'test'],
      file: ROUTES,
      content: (i) => `%ORIGINAL%\nexport const revision = ${i};\n`,
    },
  ];
  const rows: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  let pass = true;
  for (const mode of modes) {
    const { totals, stages } = await measure(mode, options.runs);
    const p50 = median(totals);
    const share = (stage: string) => `${Math.round((median(stages[stage]!) / p50) * 100)}%`;
    rows.push({
      run: mode.label,
      'p50 ms': Math.round(p50),
      'p95 ms': Math.round(percentile(totals, 95)),
      target: mode.targetMs ? `<= ${mode.targetMs}` : '-',
      ...Object.fromEntries(STAGES.map((s) => [s, share(s)])),
    });
    figures[`${mode.label} p50`] = p50;
    figures[`${mode.label} p95`] = percentile(totals, 95);
    if (mode.targetMs !== undefined && p50 > mode.targetMs) pass = false;
  }
  return {
    name: 'edit-to-live',
    report: [
      table(rows),
      `(${options.runs} measured saves per row after one warm-up; stage columns: the stage's median over the row's p50; the rest is the save request (commit + push) and the edge noticing)`,
    ].join('\n'),
    pass,
    figures,
  };
}
