/**
 * Saving the active tab: diff against the branch -> review -> commit and push -> the outcome,
 * and for a save refused with 409, the conflict the merge view shows and the save on the new
 * base. Every change to the tab goes through `dispatch`; the rules a save goes through live on
 * the server, and nothing here retries a save on its own.
 */
import { ApiError, api } from './api';
import { reviewDialog } from './dialogs';
import { firstLine, shortSha } from './format';
import { saveFailureMessage, type Message } from './messages';
import type { NoticeAction } from './notices';
import { activeTab, find, type TabAction, type TabsState } from './tabs';

export interface SaveFlowDeps {
  branch: string;
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
    const { path, base } = tab;
    const content = deps.text(path);
    deps.dispatch({ type: 'busy', label: 'Reviewing…' });
    try {
      const diff = await api.diff(path, content, base);
      if (!diff.diff.includes('\n@@')) {
        // The branch already has exactly this text (someone made the same change).
        deps.dispatch({ type: 'saved', path, commit: diff.commit, content, text: deps.text(path) });
        deps.settled(path);
        deps.notify({ kind: 'info', title: `The branch already has this version of ${path}.` });
        return;
      }
      const defaultMessage = `Update ${path}`;
      const review = await reviewDialog({ path, diff, defaultMessage, branch: deps.branch });
      if (!review) {
        deps.focusEditor();
        return;
      }
      deps.dispatch({ type: 'busy', label: 'Saving…' });
      deps.notify({ kind: 'info', title: `Committing ${path}…` });
      const result = await api.save(path, content, base, review.message || undefined);
      this.saved(path, base, content, result.commit, review.message || defaultMessage);
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

  private saved(path: string, base: string, content: string, commit: string, message: string) {
    const { deps } = this;
    deps.dispatch({ type: 'saved', path, commit, content, text: deps.text(path) });
    deps.settled(path);
    if (deps.state().active === path) deps.focusEditor();
    if (commit === base) {
      deps.notify({ kind: 'info', title: 'Nothing to commit: the branch already had this text.' });
      return;
    }
    deps.notify({
      kind: 'success',
      title: `Committed ${shortSha(commit)} to ${deps.branch}.`,
      detail: firstLine(message),
    });
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
