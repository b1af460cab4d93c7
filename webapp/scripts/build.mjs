#!/usr/bin/env node
// Builds the webapp into webapp/dist: the server bundle (esbuild; type-checking is the
// `typecheck` script's job), the editor's browser UI (dist/ui, see buildEditorUi.mjs) and
// dist/build-info.json, which /version reports.
//   REFLEX_BUILD_SHA    commit to record (default: `git rev-parse HEAD`, else "unknown")
//   REFLEX_BUILD_CACHE  folder for build caches kept between builds (the local pipeline's);
//                       the editor UI is copied from there when its sources did not change
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildEditorUi } from './buildEditorUi.mjs';

const webapp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(webapp, 'dist');

function commitSha() {
  if (process.env.REFLEX_BUILD_SHA) return process.env.REFLEX_BUILD_SHA;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: webapp,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

const started = Date.now();
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  absWorkingDir: webapp,
  entryPoints: { server: 'src/server.ts', cli: 'src/cli/reflex.ts' },
  outdir: dist,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  // The bundle is CommonJS: lazy `await import(x)` becomes a lazy require(x).
  supported: { 'dynamic-import': false },
  sourcemap: 'linked',
  logLevel: 'warning',
});

const ui = await buildEditorUi({
  outdir: path.join(dist, 'ui'),
  ...(process.env.REFLEX_BUILD_CACHE
    ? { cacheDir: path.join(process.env.REFLEX_BUILD_CACHE, 'editor-ui') }
    : {}),
});

const info = { sha: commitSha(), builtAt: new Date().toISOString() };
writeFileSync(path.join(dist, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
const uiFiles = Object.keys(ui.assets).length;
console.log(
  `built webapp/dist for ${info.sha} in ${Date.now() - started} ms (editor UI: ${uiFiles} assets)`,
);
