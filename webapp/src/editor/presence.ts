/**
 * Who has which file open, and with unsaved changes or not, on this instance. Each signed-in
 * session reports its open files (`PUT /api/presence`) when they change; everyone's event
 * stream gets the new picture at once (`event: presence`), and a save's commit
 * (`event: saved`), so that someone who has the file open is told. A session's report
 * lapses after `ttlMs` without a new one (a browser that went away without saying so).
 *
 * Per instance: sessions served by another instance (the other colour during a deploy, another
 * task of a service) are not seen here. Nothing is written to disk.
 */
import type { OpenFile, PresenceEntry, SavedEvent } from '../api/contract';
import { DomainError } from '../errors';
import type { EditorUser } from './service';

export interface PresenceOptions {
  /** A report lapses after this long without a new one. */
  ttlMs?: number;
  /** Sessions tracked at once; the oldest report goes first beyond it. */
  maxSessions?: number;
  now?: () => number;
}

export type PresenceEvent =
  { kind: 'presence'; files: PresenceEntry[] } | { kind: 'saved'; saved: SavedEvent };

/** Files one session may report open at once. */
export const MAX_OPEN_FILES = 50;

interface Report {
  user: EditorUser;
  files: OpenFile[];
  since: Map<string, string>;
  at: number;
}

export class Presence {
  private readonly reports = new Map<string, Report>();
  private readonly listeners = new Set<(event: PresenceEvent) => void>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: PresenceOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxSessions = options.maxSessions ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Replaces what `session` has open; tells every listener when the picture changed. */
  report(session: string, user: EditorUser, files: OpenFile[]): PresenceEntry[] {
    if (files.length > MAX_OPEN_FILES) {
      throw new DomainError('invalid_request', `files: at most ${MAX_OPEN_FILES} open files`);
    }
    const previous = this.reports.get(session);
    const at = this.now();
    const since = new Map<string, string>();
    for (const file of files) {
      const key = `${file.branch}\u0000${file.path}`;
      since.set(key, previous?.since.get(key) ?? new Date(at).toISOString());
    }
    const changed = !previous || JSON.stringify(previous.files) !== JSON.stringify(files);
    this.reports.delete(session);
    if (files.length > 0) this.reports.set(session, { user, files, since, at });
    while (this.reports.size > this.maxSessions) {
      this.reports.delete(this.reports.keys().next().value!);
    }
    this.expire();
    if (changed) this.emit({ kind: 'presence', files: this.snapshot() });
    this.sweep();
    return this.snapshot();
  }

  /** Everyone's open files, on every branch. */
  snapshot(): PresenceEntry[] {
    this.expire();
    const entries: PresenceEntry[] = [];
    for (const { user, files, since } of this.reports.values()) {
      for (const file of files) {
        entries.push({
          ...file,
          user: user.username,
          name: user.name,
          since: since.get(`${file.branch}\u0000${file.path}`)!,
        });
      }
    }
    return entries;
  }

  /** A commit a save made: everyone who has the file open hears of it. */
  saved(saved: SavedEvent): void {
    this.emit({ kind: 'saved', saved });
  }

  subscribe(listener: (event: PresenceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearTimeout(this.sweeper);
  }

  private emit(event: PresenceEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Drops lapsed reports; true when any went. */
  private expire(): boolean {
    const cutoff = this.now() - this.ttlMs;
    let dropped = false;
    for (const [session, report] of this.reports) {
      if (report.at < cutoff) {
        this.reports.delete(session);
        dropped = true;
      }
    }
    return dropped;
  }

  /** While anyone is present, a lapsed report is noticed and told without waiting for a request. */
  private sweep(): void {
    clearTimeout(this.sweeper);
    if (this.reports.size === 0) return;
    this.sweeper = setTimeout(() => {
      if (this.expire()) this.emit({ kind: 'presence', files: this.snapshot() });
      this.sweep();
    }, this.ttlMs);
    this.sweeper.unref();
  }
}
