#!/usr/bin/env node
// Builds the webapp into webapp/dist (esbuild; type-checking is the `typecheck` script's job):
//   server.js, cli.js   the platform (editor, git, accounts, pipeline view); dependencies external
//   site.js             the site (webapp/site and what serves it), every dependency bundled in, so
//                       that it can run with file reads limited to this file and its content
//   site-inputs.json    the repository files site.js was built from: a change to none of them
//                       leaves the site's code as it is (the local pipeline then reuses it)
//   ui/                 the editor's browser UI (see buildEditorUi.mjs)
//   build-info.json     the commit and build time, which /version reports
// The platform's bundle may not contain the site's code: the build fails when it does.
//   REFLEX_BUILD_SHA    commit to record (default: `git rev-parse HEAD`, else "unknown")
//   REFLEX_BUILD_CACHE  folder for build caches kept between builds (the local pipeline's);
//                       the editor UI is copied from there when its sources did not change
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const common = {
  absWorkingDir: webapp,
  outdir: dist,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The bundles are CommonJS: lazy `await import(x)` becomes a lazy require(x).
  supported: { 'dynamic-import': false },
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
};
const repoRoot = path.dirname(webapp);
/** esbuild's inputs (relative to webapp/) as repository paths, dependencies left out. */
const sourcesOf = (metafile) =>
  Object.keys(metafile.inputs)
    .filter((input) => !input.includes('node_modules/'))
    .map((input) => path.relative(repoRoot, path.join(webapp, input)).split(path.sep).join('/'))
    .sort();

const [platform, site] = await Promise.all([
  build({
    ...common,
    entryPoints: { server: 'src/server.ts', cli: 'src/cli/reflex.ts' },
    packages: 'external',
    // The list of paths the editor may never change, carried inside the platform's bundle: an
    // image has no .github/ to read it from (webapp/src/editor/protectedList.ts).
    define: {
      REFLEX_PROTECTED_PATHS_TEXT: JSON.stringify(
        readFileSync(path.join(repoRoot, '.github/workflows/protected-paths.txt'), 'utf8'),
      ),
    },
  }),
  build({ ...common, entryPoints: { site: 'src/site/server.ts' } }),
]);
const leaked = sourcesOf(platform.metafile).filter((file) => file.startsWith('webapp/site/'));
if (leaked.length > 0) {
  throw new Error(
    `the platform's bundle imports the site's code (${leaked.join(', ')}): the site runs in its ` +
      'own process and reaches the platform only through webapp/src/site/',
  );
}
writeFileSync(
  path.join(dist, 'site-inputs.json'),
  JSON.stringify(sourcesOf(site.metafile), null, 2) + '\n',
);

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
