// Browser tier, once before its files: builds the editor's UI (as `npm run build` does) into a
// temporary folder and names it in REFLEX_TEST_UI_DIR for test/support/browser.ts.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildEditorUi } from '../webapp/scripts/buildEditorUi.mjs';

export default async function browserSetup() {
  const outdir = path.join(mkdtempSync(path.join(os.tmpdir(), 'reflex-ui-')), 'ui');
  await buildEditorUi({ outdir });
  process.env.REFLEX_TEST_UI_DIR = outdir;
}
