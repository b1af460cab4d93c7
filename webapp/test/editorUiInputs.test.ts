/**
 * The editor UI's build cache (scripts/buildEditorUi.mjs) is keyed by src/editor-ui and the
 * project files named in its SHARED_INPUTS. esbuild lists only the modules it bundles, so a
 * type-only import (the API contract) would go unseen there: this reads the imports as
 * TypeScript does, type-only ones included.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const WEBAPP = path.resolve(__dirname, '..');
const UI = path.join(WEBAPP, 'src/editor-ui');
const SCRIPT = path.join(WEBAPP, 'scripts/buildEditorUi.mjs');

/** The list as the build reads it (an ES module: read in a node process of its own). */
function sharedInputs(): string[] {
  const code = `import(${JSON.stringify(SCRIPT)}).then((m) => process.stdout.write(JSON.stringify(m.SHARED_INPUTS)))`;
  return JSON.parse(execFileSync(process.execPath, ['-e', code]).toString()) as string[];
}

/** Project files outside src/editor-ui that the UI's (non-test) sources import, by any import. */
function importedFromOutside(): string[] {
  const found = new Set<string>();
  const sources = readdirSync(UI).filter(
    (f) => f.endsWith('.ts') && !/\.(test|types)\.ts$/.test(f),
  );
  for (const file of sources) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(UI, file), 'utf8'), true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = path.relative(WEBAPP, path.resolve(UI, `${fileName}.ts`));
      if (!target.startsWith('src/editor-ui/')) found.add(target);
    }
  }
  return [...found].sort();
}

describe('the editor UI build cache', () => {
  it('is keyed by every project file the UI imports, type-only imports included', () => {
    const imported = importedFromOutside();
    expect(imported).toContain('src/api/contract.ts');
    expect(sharedInputs()).toEqual(expect.arrayContaining(imported));
  });
});
