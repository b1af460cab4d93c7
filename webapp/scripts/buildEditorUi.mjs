// Builds the editor's browser UI (src/editor-ui, Monaco included) into `outdir`:
//   index.html       the page, naming the hashed assets (served with no-cache)
//   assets/<name>-<hash>.<ext>  (+ .gz)  scripts, styles, fonts (served immutable)
//   manifest.json    every asset with its type and sizes, and the page's entry points
// Monaco is bundled with esbuild from its ESM build: only the features and languages the
// editor imports (src/editor-ui/monaco.ts), split into chunks that load after the page.
//
// With `cacheDir`, a build is kept there under a key made of everything it is made from (the
// UI's sources, this script, the esbuild and monaco-editor versions); a later build with the
// same key copies it instead of bundling again. The local pipeline builds every release, and
// most releases change the site, not the editor.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zlib } from 'node:zlib';
import { build } from 'esbuild';

const webapp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(webapp, 'src/editor-ui');
/** Where the page is served from (the routes in src/routes/editorUi.ts). */
const ASSET_URL = '/editor/assets/';

/**
 * Files outside src/editor-ui the UI is built from: checked against esbuild's inputs, and, for
 * the type-only imports esbuild never sees, by webapp/test/editorUiInputs.test.ts.
 */
export const SHARED_INPUTS = ['src/api/contract.ts', 'src/pipeline/types.ts'];
/** Cached builds to keep. */
const CACHE_KEEP = 4;

const TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};
/** Compressed copies are kept for these (fonts like ttf compress well too; woff2 does not). */
const COMPRESSIBLE = new Set(['.js', '.css', '.ttf', '.txt', '.html']);

/**
 * @param {{ outdir: string, minify?: boolean, cacheDir?: string }} options
 * @returns {Promise<object>} the manifest
 */
export async function buildEditorUi({ outdir: out, minify = true, cacheDir }) {
  const outdir = path.resolve(out);
  if (!cacheDir) return bundle({ outdir, minify });
  const key = cacheKey(minify);
  const cached = path.join(cacheDir, key);
  if (existsSync(path.join(cached, 'manifest.json'))) {
    rmSync(outdir, { recursive: true, force: true });
    cpSync(cached, outdir, { recursive: true });
    return JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
  }
  const manifest = await bundle({ outdir, minify });
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${cached}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  cpSync(outdir, partial, { recursive: true });
  rmSync(cached, { recursive: true, force: true });
  renameSync(partial, cached);
  pruneCache(cacheDir);
  return manifest;
}

/** Everything the build is made from, hashed. */
function cacheKey(minify) {
  const hash = createHash('sha256');
  const files = [
    ...listFiles(source).map((f) => path.relative(webapp, f)),
    ...SHARED_INPUTS,
    'scripts/buildEditorUi.mjs',
  ].sort();
  for (const file of files) {
    hash
      .update(`${file}\0`)
      .update(readFileSync(path.join(webapp, file)))
      .update('\0');
  }
  for (const pkg of ['esbuild', 'monaco-editor']) {
    hash.update(`${pkg}@${JSON.parse(readFileSync(packageJson(pkg), 'utf8')).version}\0`);
  }
  hash.update(`minify=${minify}`);
  return `ui-${hash.digest('hex').slice(0, 24)}`;
}

function pruneCache(cacheDir) {
  const entries = readdirSync(cacheDir)
    .filter((name) => name.startsWith('ui-') && !name.endsWith('.partial'))
    .map((name) => ({ name, at: statSync(path.join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const old of entries.slice(CACHE_KEEP)) {
    rmSync(path.join(cacheDir, old.name), { recursive: true, force: true });
  }
}

function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? listFiles(full) : [full];
  });
}

function packageJson(name) {
  return path.join(webapp, '..', 'node_modules', name, 'package.json');
}

async function bundle({ outdir, minify }) {
  const assetsDir = path.join(outdir, 'assets');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(assetsDir, { recursive: true });

  const result = await build({
    absWorkingDir: webapp,
    entryPoints: {
      app: 'src/editor-ui/main.ts',
      'editor.worker': 'monaco-editor/editor/editor.worker.js',
      'json.worker': 'monaco-editor/languages/features/json/json.worker.js',
    },
    outdir: assetsDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome111', 'firefox115', 'safari16.4'],
    minify,
    sourcemap: false,
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    loader: { '.ttf': 'file' },
    metafile: true,
    logLevel: 'warning',
  });

  // The cache key covers src/editor-ui and SHARED_INPUTS; anything else the UI imports from
  // this project must be added there, or a cached build could go stale.
  for (const input of Object.keys(result.metafile.inputs)) {
    const inside = path.relative(webapp, path.resolve(webapp, input));
    if (inside.includes('node_modules') || inside.startsWith('..')) continue;
    if (!inside.startsWith('src/editor-ui/') && !SHARED_INPUTS.includes(inside)) {
      throw new Error(`the editor UI imports ${inside}: add it to SHARED_INPUTS`);
    }
  }

  const outputs = result.metafile.outputs;
  const nameOf = (output) => path.basename(output);
  const entry = (point) => {
    const found = Object.entries(outputs).find(
      ([, meta]) => meta.entryPoint && meta.entryPoint.endsWith(point),
    );
    if (!found) throw new Error(`no output for entry ${point}`);
    return found;
  };
  const [appJs, appMeta] = entry('src/editor-ui/main.ts');
  if (!appMeta.cssBundle) throw new Error('the app has no stylesheet');
  const [editorWorker] = entry('editor/editor.worker.js');
  const [jsonWorker] = entry('json/json.worker.js');

  // With code splitting esbuild also writes a stylesheet per chunk that imports CSS; the
  // entry's bundle already holds all of it, so those copies are never linked: drop them.
  for (const [output, meta] of Object.entries(outputs)) {
    if (output.endsWith('.css') && output !== appMeta.cssBundle && !meta.entryPoint) {
      rmSync(path.join(webapp, output));
    }
  }

  // Everything the page loads before it is usable: the app's static imports, and the
  // Monaco chunk it imports right away, with that chunk's own static imports.
  const preload = new Set();
  const visit = (output, follow) => {
    for (const imported of outputs[output]?.imports ?? []) {
      if (imported.kind === 'import-statement' || (follow && imported.kind === 'dynamic-import')) {
        if (preload.has(imported.path)) continue;
        preload.add(imported.path);
        visit(imported.path, false);
      }
    }
  };
  visit(appJs, true);

  const licenses = [
    'Reflex editor: third-party licenses\n',
    `monaco-editor (MIT)\n${readFileSync(path.join(monacoDir(), 'LICENSE'), 'utf8')}`,
    readFileSync(path.join(monacoDir(), 'ThirdPartyNotices.txt'), 'utf8'),
  ].join('\n');
  const licenseName = `licenses-${hash(licenses)}.txt`;
  writeFileSync(path.join(assetsDir, licenseName), licenses);

  const assets = {};
  for (const name of readdirSync(assetsDir).sort()) {
    const file = path.join(assetsDir, name);
    const ext = path.extname(name);
    const type = TYPES[ext];
    if (!type) throw new Error(`no content type for ${name}`);
    const bytes = statSync(file).size;
    assets[name] = { type, bytes };
    if (COMPRESSIBLE.has(ext)) assets[name].gzipBytes = writeGzip(file);
  }

  const url = (output) => ASSET_URL + nameOf(output);
  const template = readFileSync(path.join(source, 'index.html'), 'utf8');
  const html = fill(template, {
    appCss: url(appMeta.cssBundle),
    appJs: url(appJs),
    editorWorker: url(editorWorker),
    jsonWorker: url(jsonWorker),
    modulePreloads: [...preload]
      .map((p) => `<link rel="modulepreload" href="${url(p)}" />`)
      .join('\n    '),
  });
  writeFileSync(path.join(outdir, 'index.html'), html);
  const htmlGzip = writeGzip(path.join(outdir, 'index.html'));

  const manifest = {
    version: 1,
    builtAt: new Date().toISOString(),
    assetUrl: ASSET_URL,
    page: { file: 'index.html', bytes: Buffer.byteLength(html), gzipBytes: htmlGzip },
    entries: {
      app: nameOf(appJs),
      appCss: nameOf(appMeta.cssBundle),
      editorWorker: nameOf(editorWorker),
      jsonWorker: nameOf(jsonWorker),
      licenses: licenseName,
    },
    assets,
  };
  writeFileSync(path.join(outdir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

function monacoDir() {
  return path.dirname(packageJson('monaco-editor'));
}

function writeGzip(file) {
  const gz = gzipSync(readFileSync(file), { level: zlib.Z_BEST_COMPRESSION });
  writeFileSync(file + '.gz', gz);
  return gz.length;
}

function hash(text) {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function fill(template, values) {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key) => {
    if (!(key in values)) throw new Error(`index.html names an unknown value {{${key}}}`);
    return values[key];
  });
}
