/**
 * Read your writes: a client that has seen commit X must never get a listing or file older
 * than X, whichever instance answers. When the branch as this clone last fetched it does not
 * contain X, the request waits for a fetch that starts after it arrived. Fetches are shared (one
 * queued fetch serves every request waiting on it) and spaced, so a client naming a commit that
 * never comes cannot make the instance fetch more than once per interval; it gets what the
 * origin has.
 */
import { isFullSha } from './sha';
import type { GitWorkspace } from './workspace';

const MIN_INTERVAL_MS = 500;

/** What Freshness needs of a clone. */
export type FreshnessWorkspace = Pick<
  GitWorkspace,
  'head' | 'hasCommit' | 'isAncestor' | 'exclusive' | 'fetch'
>;

export class Freshness {
  private running: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private lastStartedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly minIntervalMs = MIN_INTERVAL_MS) {}

  /** Whether the branch (as last fetched) contains `sha`. */
  async contains(workspace: FreshnessWorkspace, sha: string): Promise<boolean> {
    if (sha === workspace.head) return true;
    return (await workspace.hasCommit(sha)) && (await workspace.isAncestor(sha, workspace.head));
  }

  /** Makes the clone contain `seen` if the origin has it; returns whether it does. */
  async catchUp(workspace: FreshnessWorkspace, seen: string | undefined): Promise<boolean> {
    if (seen === undefined || !isFullSha(seen)) return true;
    if (await this.contains(workspace, seen)) return true;
    await this.fetchAfterNow(workspace);
    return this.contains(workspace, seen);
  }

  /** A fetch that starts after this call: the queued one if there is one, else a new one. */
  private fetchAfterNow(workspace: FreshnessWorkspace): Promise<void> {
    this.queued ??= (async () => {
      await this.running;
      const wait = this.lastStartedAt + this.minIntervalMs - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // From here on, a new request needs a fetch that starts after this one.
      this.queued = undefined;
      this.lastStartedAt = Date.now();
      this.running = workspace
        .exclusive(() => workspace.fetch())
        .then(
          () => undefined,
          () => undefined,
        );
      await this.running;
    })();
    return this.queued;
  }
}
