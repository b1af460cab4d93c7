/**
 * Keeps the unsaved text of every editable tab in the browser (storage.ts's DraftStore) a
 * moment after the user stops typing, and at once when asked (before a page goes away, after
 * a save lands). A clean tab's draft is dropped.
 */
import type { Message } from './messages';
import type { DraftStore } from './storage';
import type { Tab } from './tabs';

const DRAFT_DELAY_MS = 300;

export interface DraftKeeperDeps {
  tab: (path: string) => Tab | undefined;
  text: (path: string) => string | undefined;
  /** The set of paths with drafts changed (the tree shows a dot on each). */
  changed: () => void;
  warn: (message: Message) => void;
}

export class DraftKeeper {
  private readonly timers = new Map<string, number>();
  private warned = false;

  constructor(
    private readonly store: DraftStore,
    private readonly deps: DraftKeeperDeps,
  ) {}

  /** Writes the draft of `path` once the user pauses. */
  schedule(path: string): void {
    window.clearTimeout(this.timers.get(path));
    this.timers.set(
      path,
      window.setTimeout(() => this.write(path), DRAFT_DELAY_MS),
    );
  }

  /** Writes (or drops) the draft of `path` now. */
  write(path: string): void {
    window.clearTimeout(this.timers.get(path));
    this.timers.delete(path);
    const tab = this.deps.tab(path);
    const text = this.deps.text(path);
    if (!tab?.editable || text === undefined) return;
    const hadDraft = this.store.get(path) !== undefined;
    if (tab.dirty) {
      const kept = this.store.put(path, tab.base, text);
      if (!kept && !this.warned) {
        this.warned = true;
        this.deps.warn({
          kind: 'warning',
          title: 'This browser is not keeping a copy of your unsaved changes.',
          detail: 'Its storage is full or switched off. Save soon.',
        });
      }
      if (!hadDraft) this.deps.changed();
    } else if (hadDraft) {
      this.store.remove(path);
      this.deps.changed();
    }
  }

  /** Writes every draft still waiting for its pause. */
  flush(): void {
    for (const path of [...this.timers.keys()]) this.write(path);
  }

  paths(): Set<string> {
    return new Set(this.store.all().map((d) => d.path));
  }
}
