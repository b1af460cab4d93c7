/**
 * `npm run bench [-- name ...] [--quick]`: runs the benchmarks side by side and prints each
 * one's figures and verdict. Exit status 1 when a benchmark misses its target.
 * Results are also written to bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { changeRequestPreviewBench, mergeOnSaveBench, presenceBench } from './changeRequests';
import { deployBench } from './deploy';
import { deployCriticalBench } from './deployCritical';
import { edgeAttackBench, edgePageBench, edgeScrapeBench } from './edge';
import { editToLiveBench } from './editToLive';
import { editorFirstLoadBench, editorSaveBench, editorTreeBench } from './editor';
import { healthzBench } from './healthz';
import { signinBench } from './signin';
import type { BenchResult } from './support';

const quick = process.argv.includes('--quick');
const benches: Record<string, () => Promise<BenchResult>> = {
  healthz: () => healthzBench(quick ? { rounds: 1, seconds: 2 } : { rounds: 5, seconds: 5 }),
  'edit-to-live': () => editToLiveBench({ runs: quick ? 3 : 10 }),
  deploy: () =>
    deployBench(quick ? { deploys: 5, buildRounds: 1 } : { deploys: 9, buildRounds: 3 }),
  deployCritical: () =>
    deployCriticalBench(
      quick ? { pageEdits: 1, platform: false } : { pageEdits: 3, platform: true },
    ),
  'edge-page': () => edgePageBench(quick ? { rounds: 1, seconds: 3 } : { rounds: 5, seconds: 5 }),
  'edge-attack': () =>
    edgeAttackBench(quick ? { rounds: 1, seconds: 3 } : { rounds: 3, seconds: 8 }),
  'edge-scrape': () =>
    edgeScrapeBench(quick ? { rounds: 1, seconds: 3 } : { rounds: 5, seconds: 5 }),
  'editor-js': () => editorFirstLoadBench(),
  'editor-tree': () =>
    editorTreeBench(quick ? { requests: 10, coldSamples: 3 } : { requests: 60, coldSamples: 10 }),
  'editor-save': () =>
    editorSaveBench(quick ? { rounds: 1, savesPerRound: 5 } : { rounds: 5, savesPerRound: 12 }),
  signin: () => signinBench({ seconds: quick ? 3 : 10 }),
  'change-request-preview': () => changeRequestPreviewBench({ saves: quick ? 3 : 10 }),
  presence: () => presenceBench({ reports: quick ? 10 : 50 }),
  'merge-on-save': () =>
    mergeOnSaveBench(quick ? { rounds: 1, savesPerRound: 5 } : { rounds: 3, savesPerRound: 10 }),
};

async function main() {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  for (const name of names) {
    if (!(name in benches))
      throw new Error(`unknown benchmark "${name}"; have: ${Object.keys(benches).join(', ')}`);
  }
  const results: BenchResult[] = [];
  for (const name of names.length > 0 ? names : Object.keys(benches)) {
    console.log(`\n=== bench: ${name}`);
    const result = await benches[name]!();
    console.log(result.report);
    console.log(result.pass ? 'PASS' : 'MISSED TARGET');
    results.push(result);
  }
  const out = path.join(__dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'latest.json'),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        results: results.map(({ name, pass, figures }) => ({ name, pass, figures })),
      },
      null,
      2,
    ) + '\n',
  );
  process.exit(results.every((r) => r.pass) ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
