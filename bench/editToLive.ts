/**
 * Edit → live on the local loop, until the public page shows the change: from the save request
 * being sent to the edge serving the new content (a page, or the site route's answer), over real
 * processes (supervisor, platform, site, edge) and real git, with the gate on (type-check and
 * the related tests run). Side by side in one run, each edit on two loops:
 *
 *   before   every release starts both processes from a new build, and the gate runs its
 *            commands cold in each release folder (the loop as it was)
 *   now      a release keeps the processes that can serve it; the gate is warm
 *
 * Targets (now): a page edit p50 <= 300 ms, a TypeScript (site route) edit p50 <= 1.5 s.
 * Also: the first start (fresh REFLEX_HOME) to the first release serving, gate on.
 */
import http from 'node:http';
import { editorClient, makeProject, startLoop, type Loop } from '../test/support/loop';
import { median, percentile, table, type BenchResult } from './support';

const PAGE = 'webapp/site/pages/index.html';
const ROUTES = 'webapp/site/routes.ts';
const STAGES = ['checkout', 'gate', 'build', 'start', 'healthy', 'live'] as const;

interface Edit {
  label: string;
  file: string;
  /** The new content of `file` for run `i`, from its original content. */
  content: (original: string, i: number) => string;
  /** What the public site shows once run `i` is live: path and text. */
  shows: (i: number) => { path: string; text: string };
  targetMs: number;
}

const EDITS: Edit[] = [
  {
    label: 'page edit',
    file: PAGE,
    content: (original, i) =>
      original.replace(/<h1 id="headline">[^<]*<\/h1>/, `<h1 id="headline">Edit ${i}</h1>`),
    shows: (i) => ({ path: '/', text: `Edit ${i}</h1>` }),
    targetMs: 300,
  },
  {
    label: 'TypeScript edit (site route)',
    file: ROUTES,
    // A new route: type-checked, and the routes' tests run (and still pass) in the gate.
    content: (original, i) =>
      original.replace(
        'export function registerSiteRoutes(router: Router, site: SiteContext): void {\n',
        (line) => `${line}  router.get('/bench', (ctx) => {\n    ctx.body = 'Bench ${i}';\n  });\n`,
      ),
    shows: (i) => ({ path: '/bench', text: `Bench ${i}` }),
    targetMs: 1500,
  },
];

function get(base: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    http
      .get(`${base}${path}`, { agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', () => resolve(''));
  });
}

async function timeEdits(loop: Loop, edit: Edit, runs: number) {
  const client = await editorClient(loop.url);
  const original = await client.read(edit.file);
  const totals: number[] = [];
  const stages: Record<string, number[]> = Object.fromEntries(STAGES.map((s) => [s, []]));
  // One unmeasured run first: caches warm up as in daily use.
  for (let i = 0; i <= runs; i++) {
    const { path, text } = edit.shows(i);
    const started = process.hrtime.bigint();
    const commit = await client.save(edit.file, edit.content(original, i));
    while (!(await get(loop.url, path)).includes(text)) {
      const failed = loop.events.find((e) => e.sha === commit && e.status === 'failed');
      if (failed)
        throw new Error(`${edit.label} ${i}: ${failed.stage} failed:\n${failed.log ?? ''}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (i === 0) continue;
    totals.push(ms);
    await loop.waitForEvent((e) => e.sha === commit && e.stage === 'live');
    const times = stageTimes(loop, commit);
    for (const stage of STAGES) stages[stage]!.push(times[stage]!);
  }
  return { totals, stages };
}

/** Each stage's duration for `sha` (0 for a stage it skipped). */
function stageTimes(loop: Loop, sha: string): Record<string, number> {
  return Object.fromEntries(
    STAGES.map((stage) => {
      const done = loop.events.find(
        (e) => e.sha === sha && e.stage === stage && e.status === 'succeeded',
      );
      return [stage, done?.durationMs ?? 0];
    }),
  );
}

async function firstStart(options: { warmGate: boolean; reuseProcesses: boolean }) {
  const started = Date.now();
  const loop = await startLoop({ project: makeProject(), ...options });
  // A first release that fails never goes live: say so with what the console printed.
  let timer: NodeJS.Timeout | undefined;
  let sha: string;
  try {
    sha = await Promise.race([
      loop.supervisor.whenLive(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no release went live in 180 s:\n${loop.lines.join('\n')}`)),
          180_000,
        );
      }),
    ]);
  } catch (err) {
    await loop.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const ms = Date.now() - started;
  await loop.waitForEvent((e) => e.sha === sha && e.stage === 'live');
  return { loop, ms, stages: stageTimes(loop, sha) };
}

export async function editToLiveBench(options: { runs: number }): Promise<BenchResult> {
  const ways = [
    { label: 'before', warmGate: false, reuseProcesses: false },
    { label: 'now', warmGate: true, reuseProcesses: true },
  ];
  const rows: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  let pass = true;
  const loops: Loop[] = [];
  try {
    for (const way of ways) {
      const { loop, ms, stages } = await firstStart(way);
      loops.push(loop);
      figures[`first start ${way.label} ms`] = ms;
      rows.push({
        run: `first start (${way.label})`,
        'p50 ms': ms,
        'p95 ms': '-',
        target: way.label === 'now' ? '<= 12000' : '-',
        ...Object.fromEntries(STAGES.map((s) => [s, `${Math.round((stages[s]! / ms) * 100)}%`])),
      });
      for (const s of STAGES) figures[`first start ${way.label} ${s} ms`] = stages[s]!;
      if (way.label === 'now' && ms > 12_000) pass = false;
    }
    for (const edit of EDITS) {
      for (const [index, way] of ways.entries()) {
        const { totals, stages } = await timeEdits(loops[index]!, edit, options.runs);
        const p50 = median(totals);
        const share = (stage: string) => `${Math.round((median(stages[stage]!) / p50) * 100)}%`;
        for (const s of STAGES) figures[`${edit.label} ${way.label} ${s} ms`] = median(stages[s]!);
        rows.push({
          run: `${edit.label} (${way.label})`,
          'p50 ms': Math.round(p50),
          'p95 ms': Math.round(percentile(totals, 95)),
          target: way.label === 'now' ? `<= ${edit.targetMs}` : '-',
          ...Object.fromEntries(STAGES.map((s) => [s, share(s)])),
        });
        figures[`${edit.label} ${way.label} p50`] = p50;
        figures[`${edit.label} ${way.label} p95`] = percentile(totals, 95);
        if (way.label === 'now' && p50 > edit.targetMs) pass = false;
      }
    }
  } finally {
    for (const loop of loops) await loop.close();
  }
  return {
    name: 'edit-to-live',
    report: [
      table(rows),
      `(${options.runs} measured saves per row after one warm-up, until the public page shows the change; ` +
        "stage columns: the stage's median over the row's p50 (the gate runs beside the checkout, so the two " +
        'overlap); the rest is the save request (commit + push), the push reaching the supervisor, and the ' +
        'poll of the public page)',
    ].join('\n'),
    pass,
    figures,
  };
}
