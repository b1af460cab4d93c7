/**
 * Read your writes, whichever instance answers: the newest commit this page has seen, sent
 * with every listing and file read (`X-Reflex-Seen`) so that no instance answers with an older
 * one (servers that do not know the header ignore it). A commit moves it forward only when it
 * cannot be older: a write's own commit, or the answer to a read that carried the value still
 * current (a read sent before a save may answer after it). Pure, no DOM.
 */
export const SEEN_HEADER = 'X-Reflex-Seen';

export class SeenCommit {
  private commit: string | undefined;
  private version = 0;

  get value(): string | undefined {
    return this.commit;
  }

  /** What a read sends, and the ticket to hand back with its answer. */
  forRead(): { value: string | undefined; ticket: number } {
    return { value: this.commit, ticket: this.version };
  }

  /** The read sent with `ticket` was answered at `commit`. */
  read(ticket: number, commit: string): void {
    if (ticket === this.version && commit !== this.commit) this.moveTo(commit);
  }

  /** A write (a save, a rollback) landed as `commit`. */
  wrote(commit: string): void {
    this.moveTo(commit);
  }

  private moveTo(commit: string): void {
    this.commit = commit;
    this.version++;
  }
}
