/**
 * File writes that readers (Prometheus, other processes, a restart) never see half done, and
 * appends that several writers (the instances of a host, the tasks of a service on one EFS
 * volume) can share.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

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

/** How a line reaches the end of a file (the default: one O_APPEND write). */
export type Append = (file: string, text: string, mode: number) => Promise<void>;

const appendOnce: Append = (file, text, mode) => appendFile(file, text, { mode });

/**
 * Appends `text` to `file` under `<file>.lock` (see withFileLock). On a local disk one O_APPEND
 * write is atomic already; on NFS, and so on EFS, it is not: a client writes at the end it last
 * saw, and two clients appending at once overwrite each other's lines.
 */
export async function appendShared(
  file: string,
  text: string,
  options: { mode?: number; append?: Append } = {},
): Promise<void> {
  const append = options.append ?? appendOnce;
  await withFileLock(`${file}.lock`, () => append(file, text, options.mode ?? 0o600));
}

export interface FileLockOptions {
  /** A lock older than this was left by a writer that died: it is taken over. */
  staleMs?: number;
  /** Give up waiting after this long. */
  timeoutMs?: number;
}

/**
 * Runs `job` holding the lock `lockDir`: an atomic `mkdir` (atomic on NFS too) with a file
 * saying who holds it. Held for milliseconds; one older than `staleMs` is moved aside (one
 * rename wins) and taken.
 */
export async function withFileLock<T>(
  lockDir: string,
  job: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  await acquire(lockDir, options.staleMs ?? 10_000, options.timeoutMs ?? 15_000);
  try {
    return await job();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function acquire(lockDir: string, staleMs: number, timeoutMs: number): Promise<void> {
  const started = Date.now();
  for (let delay = 1; ; delay = Math.min(delay * 2, 40)) {
    try {
      await mkdir(lockDir, { mode: 0o700 });
      await writeFile(
        path.join(lockDir, 'holder'),
        `${hostname()} pid ${process.pid} since ${new Date().toISOString()}\n`,
      );
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    await takeOverIfStale(lockDir, staleMs);
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${lockDir} has been held for over ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
  }
}

async function takeOverIfStale(lockDir: string, staleMs: number): Promise<void> {
  try {
    if (Date.now() - (await stat(lockDir)).mtimeMs < staleMs) return;
    const aside = `${lockDir}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
    await rename(lockDir, aside);
    await rm(aside, { recursive: true, force: true });
  } catch (err) {
    // Released, or moved aside by another writer, meanwhile: try again.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
