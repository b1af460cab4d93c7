/**
 * Session ids ended by sign-out, until their sessions would have expired anyway. Kept in
 * memory and, when a state folder is configured, in a JSON-lines file shared by the instances
 * of a host (blue and green), so a signed-out cookie stays dead across a deploy.
 */
import { readFile, stat } from 'node:fs/promises';
import { appendShared } from '../files';

export class RevocationList {
  private readonly revoked = new Map<string, number>();
  private fileMtime = -1;

  constructor(private readonly file?: string) {}

  async revoke(sid: string, untilMs: number): Promise<void> {
    this.revoked.set(sid, untilMs);
    // Shared by every instance (on EFS, by every task): appended under the file's lock.
    if (this.file) await appendShared(this.file, JSON.stringify({ sid, until: untilMs }) + '\n');
  }

  async isRevoked(sid: string, now = Date.now()): Promise<boolean> {
    await this.reload(now);
    const until = this.revoked.get(sid);
    return until !== undefined && until > now;
  }

  private async reload(now: number): Promise<void> {
    if (!this.file) return;
    let mtime: number;
    try {
      mtime = (await stat(this.file)).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (mtime === this.fileMtime) return;
    this.fileMtime = mtime;
    for (const line of (await readFile(this.file, 'utf8')).split('\n')) {
      if (!line) continue;
      try {
        const { sid, until } = JSON.parse(line) as { sid: string; until: number };
        if (until > now) this.revoked.set(sid, until);
      } catch {
        // A torn last line from a crash: ignore it.
      }
    }
    for (const [sid, until] of this.revoked) if (until <= now) this.revoked.delete(sid);
  }
}
