// Browser tier, once after its files: removes the UI build of browserSetup.mjs.
import { rmSync } from 'node:fs';
import path from 'node:path';

export default function browserTeardown() {
  const outdir = process.env.REFLEX_TEST_UI_DIR;
  if (outdir) rmSync(path.dirname(outdir), { recursive: true, force: true });
}
