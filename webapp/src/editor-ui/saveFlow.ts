/**
 * Saving the active tab: diff against the branch -> review -> commit and push -> the outcome,
 * and for a save refused with 409, the conflict the merge view shows and the save on the new
 * base. Every change to the tab goes through `dispatch`; the rules a save goes through live on
 * the server, and nothing here retries a save on its own.
 */
import type { DiffResult, SaveResult } from '../api/contract';
import { ApiError, api } from './api';
import { reviewDialog } from './dialogs';
import { firstLine, shortSha } from './format';
import { saveFailureMessage, type Message } from './messages';
import type { NoticeAction } from './notices';
import { activeTab, find, type Tab, type TabAction, type TabsState } from './tabs';
import { mergedMessage } from './together';

/** Where saves go: the deploy branch or a change request (collaboration.ts). */
export interface SavePlace {
  branch: string;
  /**
   * Whether a save may go there; when not, the user has been told what to do instead (open a
   * change request), and nothing is saved.
   */
  mayCommit: () => boolean;
  /**
   * The review's diff: the server's (against the deploy branch), or, on a change request
   * (`local`), against the tab's text as read from its branch.
   */
  review: 'server' | 'local';
  /** Who made `commit`, when a `saved` event said so. */
  savedBy: (commit: string) => string | undefined;
}

export interface SaveFlowDeps {
  place: SavePlace;
  /** Puts the tab's text to `text` (a save came back merged with someone else's change). */
  setText: (path: string, text: string) => void;
  maxFileBytes: number;
  state: () => TabsState;
  dispatch: (action: TabAction) => void;
  /** The tab's text now. */
  text: (path: string) => string;
  notify: (message: Message, actions?: NoticeAction[]) => void;
  focusEditor: () => void;
  showProblem: (path: string, message: Message, at: { line: number; column: number }) => void;
  /** The tab is on a new branch version: keep or drop its draft now. */
  settled: (path: string) => void;
  /** A save met a newer version of the file: the tree and the commits are behind. */
  behind: () => void;
  /** A commit landed on the branch. */
  committed: (path: string, commit: string, message: string) => void;
}

export class SaveFlow {
  constructor(private readonly deps: SaveFlowDeps) {}

  /** Review the diff, then commit and push: the whole save flow for the active tab. */
  async save(): Promise<void> {
    const { deps } = this;
    const tab = activeTab(deps.state());
    if (!tab || deps.state().busy !== undefined) return;
    if (!tab.editable) {
      deps.notify({ kind: 'info', title: `${tab.path} is read-only: ${tab.reason ?? ''}.` });
      return;
    }
    if (!tab.dirty) {
      deps.notify({ kind: 'info', title: 'No changes to save.' });
      return;
    }
    if (!deps.place.mayCommit()) return;
    const { path, base } = tab;
    const content = deps.text(path);
    deps.dispatch({ type: 'busy', label: 'Reviewing…' });
    try {
      const diff = await this.diff(tab, content);
      if (!diff.diff.includes('\n@@')) {
        // The branch already has exactly this text (someone made the same change).
        deps.dispatch({ type: 'saved', path, commit: diff.commit, content, text: deps.text(path) });
        deps.settled(path);
        deps.notify({ kind: 'info', title: `The branch already has this version of ${path}.` });
        return;
      }
      const defaultMessage = `Update ${path}`;
      const review = await reviewDialog({ path, diff, defaultMessage, branch: deps.place.branch });
      if (!review) {
        deps.focusEditor();
        return;
      }
      deps.dispatch({ type: 'busy', label: 'Saving…' });
      deps.notify({ kind: 'info', title: `Committing ${path}…` });
      const result = await api.save(path, content, base, review.message || undefined);
      this.saved(path, base, content, result, review.message || defaultMessage);
    } catch (err) {
      this.failed(path, content, err);
    } finally {
      deps.dispatch({ type: 'busy', label: undefined });
    }
  }

  /** Rebases the active tab on the commit it conflicted with, then runs the save flow. */
  async saveMerged(): Promise<void> {
    const { deps } = this;
    const tab = activeTab(deps.state());
    if (!tab?.conflict || deps.state().busy !== undefined) return;
    deps.dispatch({ type: 'merged', path: tab.path, text: deps.text(tab.path) });
    deps.settled(tab.path);
    if (!find(deps.state(), tab.path)?.dirty) {
      deps.notify({
        kind: 'info',
        title: `Your version is now the same as theirs: nothing to save.`,
      });
      deps.focusEditor();
      return;
    }
    await this.save();
  }

  private async diff(tab: Tab, content: string): Promise<DiffResult> {
    if (this.deps.place.review === 'server') return api.diff(tab.path, content, tab.base);
    const { createTwoFilesPatch } = await import('diff');
    const diff = createTwoFilesPatch(`a/${tab.path}`, `b/${tab.path}`, tab.original, content);
    return { diff, commit: tab.base, changedUpstream: false };
  }

  private saved(path: string, base: string, sent: string, result: SaveResult, message: string) {
    const { deps } = this;
    const { commit, merged } = result;
    // Merged: the branch has both changes; the tab takes them unless typing went on meanwhile.
    if (merged && deps.text(path) === sent) deps.setText(path, merged.content);
    const content = merged?.content ?? sent;
    deps.dispatch({ type: 'saved', path, commit, content, text: deps.text(path) });
    deps.settled(path);
    if (deps.state().active === path) deps.focusEditor();
    if (commit === base) {
      deps.notify({ kind: 'info', title: 'Nothing to commit: the branch already had this text.' });
      return;
    }
    deps.notify(
      merged
        ? mergedMessage(path, merged, commit, deps.place.savedBy)
        : {
            kind: 'success',
            title: `Committed ${shortSha(commit)} to ${deps.place.branch}.`,
            detail: firstLine(message),
          },
    );
    if (merged) deps.behind();
    deps.committed(path, commit, message);
  }

  private failed(path: string, content: string, err: unknown): void {
    const { deps } = this;
    if (!(err instanceof ApiError)) {
      deps.notify({ kind: 'error', title: `Not saved: ${String(err)}` });
      return;
    }
    if (err.status === 409 && err.body.upstream) {
      deps.dispatch({ type: 'conflicted', path, upstream: err.body.upstream, mine: content });
      deps.behind();
    }
    const message = saveFailureMessage(err, { path, maxFileBytes: deps.maxFileBytes });
    deps.notify(message);
    if (message.position) deps.showProblem(path, message, message.position);
  }
}
