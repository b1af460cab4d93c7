#!/usr/bin/env node
// Builds the webapp into webapp/dist: the server bundle (esbuild; type-checking is the
// `typecheck` script's job) and dist/build-info.json, which /version reports.
//   REFLEX_BUILD_SHA  commit to record (default: `git rev-parse HEAD`, else "unknown")
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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

const info = { sha: commitSha(), builtAt: new Date().toISOString() };
writeFileSync(path.join(dist, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
console.log(`built webapp/dist for ${info.sha} in ${Date.now() - started} ms`);
