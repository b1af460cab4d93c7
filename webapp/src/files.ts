/** File writes that readers (Prometheus, other processes, a restart) never see half done. */
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `content` to a temporary file beside `file`, then renames it into place: a reader sees
 * the old content or the new, never a part. The temporary name is unique per writer. `mode`
 * is the new file's permission bits (default 0666 less the umask); a secret gets 0600 from the
 * start, never a moment of wider ones.
 */
export function writeAtomically(
  file: string,
  content: string,
  options: { mode?: number } = {},
): void {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, options.mode === undefined ? {} : { mode: options.mode });
  renameSync(temporary, file);
}
