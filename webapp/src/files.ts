/** File writes that readers (Prometheus, other processes, a restart) never see half done. */
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `content` to a temporary file beside `file`, then renames it into place: a reader sees
 * the old content or the new, never a part. The temporary name is unique per writer.
 */
export function writeAtomically(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}
