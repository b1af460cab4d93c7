import type { UiManifest } from '../src/routes/editorUi';

/** Builds the editor's browser UI into `outdir` (see buildEditorUi.mjs); returns its manifest. */
export function buildEditorUi(options: {
  outdir: string;
  minify?: boolean;
  /** Keep builds here and reuse one whose sources are unchanged. */
  cacheDir?: string;
}): Promise<UiManifest>;
