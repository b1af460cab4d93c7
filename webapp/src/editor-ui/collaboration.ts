/**
 * The workbench's place among others' work: which branch it is on (the deploy branch or one
 * change request, whose files it then reads and saves), the change requests panel, presence,
 * and whether a save may go where the workbench is. Composition only; the rules are in
 * changes.ts and together.ts.
 */
import type { ChangeRequest, EditorSettings, SessionUser } from '../api/contract';
import { useFilesRoot } from './api';
import {
  changeRequestNeeded,
  filesRoot,
  saveAllowed,
  targetBranch,
  workScope,
  type Target,
} from './changes';
import { ChangesPanel } from './changesPanel';
import type { Message } from './messages';
import type { NoticeAction } from './notices';
import { PresenceView } from './presenceView';
import type { SavePlace } from './saveFlow';
import type { StreamEvent } from './stream';

export interface CollaborationDeps {
  user: SessionUser;
  settings: EditorSettings;
  change?: ChangeRequest | undefined;
  /**
   * Start the workbench again on `change` (undefined: the deploy branch); `carry`: with the
   * unsaved work of the deploy branch (a change request just made for it).
   */
  switchTo: (change: ChangeRequest | undefined, carry?: boolean) => void;
  notify: (message: Message, actions?: NoticeAction[]) => void;
  /** A publish put `sha` on the deploy branch (and the workbench stays where it is). */
  published: (sha: string, title: string) => void;
  /** Marks the open files someone else has open: what to say, by path. */
  markOthers: (others: ReadonlyMap<string, string>) => void;
}

export class Collaboration implements SavePlace {
  readonly target: Target;
  readonly branch: string;
  /** What drafts and remembered tabs are kept under: a change request's are its own. */
  readonly scope: string;
  readonly presence: PresenceView;
  readonly changes: ChangesPanel;
  readonly review: SavePlace['review'];
  private refreshTimer: number | undefined;

  constructor(private readonly deps: CollaborationDeps) {
    const { user, settings, change } = deps;
    this.target = change ? { kind: 'change', change } : { kind: 'branch', branch: settings.branch };
    this.branch = targetBranch(this.target);
    this.scope = workScope(user.username, change);
    this.review = change ? 'local' : 'server';
    useFilesRoot(filesRoot(this.target));
    this.presence = new PresenceView(
      user.username,
      this.branch,
      (m) => deps.notify(m),
      deps.markOthers,
      settings.branch,
    );
    this.changes = new ChangesPanel({
      user,
      settings,
      current: change,
      switchTo: (next, carry) => deps.switchTo(next, carry),
      notify: (message) => deps.notify(message),
      published: (sha, published) => {
        if (published.id === change?.id) deps.switchTo(undefined);
        else deps.published(sha, published.title);
      },
    });
  }

  get change(): ChangeRequest | undefined {
    return this.deps.change;
  }

  readonly savedBy = (commit: string): string | undefined => this.presence.savedBy.user(commit);

  /** Whether a save may go here; when not, the user is told to use a change request. */
  readonly mayCommit = (): boolean => {
    if (saveAllowed(this.deps.settings, this.target)) return true;
    this.deps.notify(changeRequestNeeded(this.deps.settings), [
      { label: 'New change request', run: () => void this.changes.create() },
    ]);
    return false;
  };

  /** What the top bar shows of the change request the workbench is on. */
  onChange(leave: () => void): { title: string; branch: string; leave: () => void } | undefined {
    const { change } = this.deps;
    return change ? { title: change.title, branch: this.branch, leave } : undefined;
  }

  /** An event of the stream: presence, and what changes the list (a save, a preview's state). */
  readonly received = (event: StreamEvent): void => {
    this.presence.received(event);
    if (event.event === 'saved' || (event.event === 'stage' && event.data.includes('"preview"'))) {
      window.clearTimeout(this.refreshTimer);
      this.refreshTimer = window.setTimeout(() => void this.changes.refresh(), 300);
    }
  };

  dispose(): void {
    window.clearTimeout(this.refreshTimer);
    this.presence.dispose();
  }
}
