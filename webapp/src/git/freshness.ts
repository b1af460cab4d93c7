/**
 * Read your writes: a client that has seen commit X must never get a listing or file older
 * than X, whichever instance answers. When the branch as this clone last fetched it does not
 * contain X, the clone fetches once before answering. Fetches asked for this way are shared
 * (one in flight serves every request waiting on it) and spaced, so a client naming a commit
 * that never comes cannot make the instance fetch on every request.
 */
import { isFullSha } from './sha';
import type { GitWorkspace } from './workspace';

const MIN_INTERVAL_MS = 500;

export class Freshness {
  private inFlight: Promise<void> | undefined;
  private lastFetchedAt = 0;

  /** Whether the branch (as last fetched) contains `sha`. */
  async contains(workspace: GitWorkspace, sha: string): Promise<boolean> {
    if (sha === workspace.head) return true;
    return (await workspace.hasCommit(sha)) && (await workspace.isAncestor(sha, workspace.head));
  }

  /** Makes the clone contain `seen` if the origin has it; returns whether it does. */
  async catchUp(workspace: GitWorkspace, seen: string | undefined): Promise<boolean> {
    if (seen === undefined || !isFullSha(seen)) return true;
    if (await this.contains(workspace, seen)) return true;
    if (!this.inFlight && Date.now() - this.lastFetchedAt >= MIN_INTERVAL_MS) {
      this.inFlight = workspace
        .exclusive(() => workspace.fetch())
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => {
          this.lastFetchedAt = Date.now();
          this.inFlight = undefined;
        });
    }
    await this.inFlight;
    return this.contains(workspace, seen);
  }
}
