// In the browser tier, which runs one file at a time: a real esbuild build takes both cores
// for a few seconds, which would starve the unit tier's parallel tests.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { UiManifest } from '../src/routes/editorUi';

const SCRIPT = path.resolve(__dirname, '../scripts/buildEditorUi.mjs');

/** Runs the build in its own node process (it is an ES module; jest here runs CommonJS). */
function buildEditorUi(options: { outdir: string; cacheDir?: string }): Promise<UiManifest> {
  const code = `import(${JSON.stringify(SCRIPT)}).then((m) => m.buildEditorUi(${JSON.stringify(options)})).then((r) => process.stdout.write(JSON.stringify(r)))`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', code], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`build failed: ${stderr}`));
      else resolve(JSON.parse(stdout) as UiManifest);
    });
  });
}

jest.setTimeout(120_000);

describe('the editor UI build', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'reflex-ui-build-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('writes hashed assets with gzip copies, a manifest naming them, and a page that links them', async () => {
    const outdir = path.join(tmp, 'first');
    const cacheDir = path.join(tmp, 'cache');
    const manifest = await buildEditorUi({ outdir, cacheDir });
    const names = Object.keys(manifest.assets);
    expect(names).toContain(manifest.entries.app);
    expect(names).toContain(manifest.entries.editorWorker);
    expect(names).toContain(manifest.entries.jsonWorker);
    for (const name of names) {
      expect(name).toMatch(/-[A-Za-z0-9]{8,12}\.(js|css|ttf|txt)$/);
      expect(existsSync(path.join(outdir, 'assets', name))).toBe(true);
      if (manifest.assets[name]!.gzipBytes !== undefined)
        expect(existsSync(path.join(outdir, 'assets', `${name}.gz`))).toBe(true);
    }
    // Only what the manifest names is in the folder (no stray per-chunk stylesheets).
    const onDisk = readdirSync(path.join(outdir, 'assets')).filter((f) => !f.endsWith('.gz'));
    expect(onDisk.sort()).toEqual([...names].sort());
    const page = readFileSync(path.join(outdir, 'index.html'), 'utf8');
    expect(page).toContain(`src="/editor/assets/${manifest.entries.app}"`);
    expect(page).toContain(`href="/editor/assets/${manifest.entries.appCss}"`);
    expect(page).toContain(`data-editor-worker="/editor/assets/${manifest.entries.editorWorker}"`);
    expect(page).not.toMatch(/\{\{\w+\}\}/);
  });

  it('with a cache, an unchanged build is copied from it instead of bundled again', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const [entry] = readdirSync(cacheDir);
    expect(entry).toMatch(/^ui-[0-9a-f]{24}$/);
    // A mark only the cached copy has: if the second build bundled anew, it would be missing.
    writeFileSync(path.join(cacheDir, entry!, 'cached-copy'), 'yes');
    const outdir = path.join(tmp, 'second');
    const manifest = await buildEditorUi({ outdir, cacheDir });
    expect(readFileSync(path.join(outdir, 'cached-copy'), 'utf8')).toBe('yes');
    expect(manifest.entries).toEqual(
      JSON.parse(readFileSync(path.join(tmp, 'first', 'manifest.json'), 'utf8')).entries,
    );
    expect(readdirSync(cacheDir)).toEqual([entry]);
  });
});
