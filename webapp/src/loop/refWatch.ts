/**
 * Learns that a branch of the local origin moved the moment git renames its ref into place
 * (inotify on the ref's folder), before git has even started the post-receive hook: a push
 * reaches the pipeline without a process start or a poll in between. The hook and the poll stay
 * as the safety nets (a packed ref, a watch the system refused).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** The commit a loose ref file names, or undefined (absent, packed, symbolic, half a name). */
export async function readLooseRef(gitDir: string, ref: string): Promise<string | undefined> {
  try {
    const sha = (await readFile(path.join(gitDir, ref), 'utf8')).trim();
    return COMMIT.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

export class RefWatch {
  private readonly watcher: FSWatcher | undefined;
  private last: string | undefined;
  private reading = Promise.resolve();

  /**
   * Calls `moved` with the new commit each time `refs/heads/<branch>` of `gitDir` names another
   * one. Never throws: without a watch (a system without inotify) it stays silent.
   */
  constructor(gitDir: string, branch: string, moved: (sha: string) => void) {
    const ref = `refs/heads/${branch}`;
    const file = path.join(gitDir, ref);
    const name = path.basename(file);
    try {
      this.watcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        // One read after another: two quick pushes are reported in the order they landed.
        this.reading = this.reading.then(async () => {
          const sha = await readLooseRef(gitDir, ref);
          if (sha && sha !== this.last) {
            this.last = sha;
            moved(sha);
          }
        });
      });
      this.watcher.on('error', () => this.close());
    } catch {
      this.watcher = undefined;
    }
  }

  /** Whether the system gave a watch (false: the hook and the poll do all the telling). */
  get active(): boolean {
    return this.watcher !== undefined;
  }

  close(): void {
    this.watcher?.close();
  }
}
