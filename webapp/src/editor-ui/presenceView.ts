/**
 * Presence in the workbench: reports this page's open files (`PUT /api/presence`, only when
 * they change), shows who else has the active file open (from the stream's `presence`), and
 * tells the user when someone else saves a file they have open (`saved`). The rules are in
 * together.ts.
 */
import type { OpenFile, PresenceEntry, PresenceSnapshot, SavedEvent } from '../api/contract';
import { api } from './api';
import { h } from './dom';
import type { Message } from './messages';
import type { StreamEvent } from './stream';
import type { TabsState } from './tabs';
import { SavedBy, openFiles, othersOn, presenceText, sameReport, savedElsewhere } from './together';

export class PresenceView {
  readonly element = h('span', { class: 'presence', attrs: { 'aria-live': 'polite' } });
  readonly savedBy = new SavedBy();
  private files: readonly PresenceEntry[] = [];
  private reported: OpenFile[] = [];
  private pending: OpenFile[] | undefined;
  private active: string | undefined;
  private open: string[] = [];
  private timer: number | undefined;

  constructor(
    private readonly me: string,
    private readonly branch: string,
    private readonly notify: (message: Message) => void,
    /** Marks the open files someone else has open (the tab bar): what to say, by path. */
    private readonly mark: (others: ReadonlyMap<string, string>) => void = () => undefined,
    /** The deploy branch, whose saves a change request's next save takes in. */
    private readonly deployBranch?: string,
  ) {}

  /** The tabs changed: report them (soon, once) when what is open or unsaved changed. */
  tabs(state: TabsState): void {
    this.active = state.active;
    this.open = state.tabs.map((t) => t.path);
    this.render();
    const report = openFiles(state, this.branch);
    if (sameReport(report, this.pending ?? this.reported)) return;
    this.pending = report;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.send(), 100);
  }

  readonly received = (event: StreamEvent): void => {
    try {
      if (event.event === 'presence') {
        this.files = (JSON.parse(event.data) as PresenceSnapshot).files;
        this.render();
      } else if (event.event === 'saved') {
        const saved = JSON.parse(event.data) as SavedEvent;
        this.savedBy.add(saved);
        const message = savedElsewhere(saved, this.me, this.reported, this.deployBranch);
        if (message) this.notify(message);
      }
    } catch {
      // A frame this page cannot read changes nothing it shows.
    }
  };

  /** Leaves: this page has nothing open any more. */
  dispose(): void {
    window.clearTimeout(this.timer);
    if (this.reported.length > 0) void api.reportPresence([]).catch(() => undefined);
  }

  private async send(): Promise<void> {
    const report = this.pending;
    if (!report) return;
    try {
      await api.reportPresence(report);
      this.reported = report;
    } catch {
      // Presence is a courtesy: the next change of tabs reports again.
    } finally {
      if (this.pending === report) this.pending = undefined;
    }
  }

  private render(): void {
    const path = this.active;
    const others = path === undefined ? [] : othersOn(this.files, this.me, path, this.branch);
    this.element.textContent = presenceText(others);
    this.element.dataset.others = others.map((o) => o.user).join(' ');
    const marks = new Map<string, string>();
    for (const open of this.open) {
      marks.set(open, presenceText(othersOn(this.files, this.me, open, this.branch)));
    }
    this.mark(marks);
  }
}
