/**
 * The text of `.github/workflows/protected-paths.txt`, the one list of paths the editor may
 * never change. It lives where the editor's push credential cannot write. The server bundle
 * carries it inlined at build time (esbuild defines REFLEX_PROTECTED_PATHS_TEXT), so an
 * image without `.github/` still has it; run from source (tests, tsx) it is read from the
 * checkout. Without either, the instance does not start: no list is no policy.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

declare const REFLEX_PROTECTED_PATHS_TEXT: string | undefined;

export const PROTECTED_LIST_FILE = '.github/workflows/protected-paths.txt';

/** Where the list is in a checkout, seen from `webapp/src/editor/` and from `webapp/dist/`. */
const CHECKOUT_CANDIDATES = [
  path.resolve(__dirname, '..', '..', '..', PROTECTED_LIST_FILE),
  path.resolve(__dirname, '..', '..', PROTECTED_LIST_FILE),
];

export function protectedListText(): string {
  if (typeof REFLEX_PROTECTED_PATHS_TEXT === 'string') return REFLEX_PROTECTED_PATHS_TEXT;
  for (const file of CHECKOUT_CANDIDATES) {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Error(
    `the protected-path list ${PROTECTED_LIST_FILE} was neither built into this bundle nor found in the checkout`,
  );
}
