/**
 * Reading files from the branch into tabs: opening one (with the unsaved text the browser kept
 * for it, if any), and discarding a tab's changes (back to the branch as it is now). Every
 * change to a tab goes through `dispatch`.
 */
import type { Access } from './access';
import { ApiError, api, type FileContent } from './api';
import { confirmDialog } from './dialogs';
import type { DraftKeeper } from './draftKeeper';
import type { EditorPane } from './editorPane';
import { formatAgo, shortSha } from './format';
import { openFailureMessage, type Message } from './messages';
import type { NoticeAction } from './notices';
import type { DraftStore } from './storage';
import { find, type TabAction, type TabsState } from './tabs';

export interface FileFlowDeps {
  state: () => TabsState;
  dispatch: (action: TabAction) => void;
  pane: EditorPane;
  store: DraftStore;
  drafts: DraftKeeper;
  access: (path: string) => Access;
  activate: (path: string, focus: boolean) => void;
  notify: (message: Message, actions?: NoticeAction[]) => void;
  /** What is loading, for the status bar ('' when nothing). */
  activity: (text: string) => void;
  failure: (err: unknown, doing: string) => void;
}

export class FileFlow {
  private readonly opening = new Set<string>();

  constructor(private readonly deps: FileFlowDeps) {}

  async open(path: string, activate: boolean): Promise<void> {
    const { deps } = this;
    if (find(deps.state(), path)) {
      if (activate) deps.activate(path, true);
      return;
    }
    if (this.opening.has(path)) return;
    this.opening.add(path);
    deps.activity(`Opening ${path}…`);
    let file: FileContent;
    try {
      file = await api.read(path);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      deps.notify(openFailureMessage(err, path));
      return;
    } finally {
      this.opening.delete(path);
      if (this.opening.size === 0) deps.activity('');
    }
    const access = deps.access(path);
    const draft = access.editable ? deps.store.get(path) : undefined;
    if (draft?.content === file.content) deps.store.remove(path);
    const restored = draft && draft.content !== file.content ? draft : undefined;
    deps.pane.open(path, restored?.content ?? file.content);
    deps.dispatch(
      restored
        ? { type: 'restored', path, file, access, draft: restored, activate }
        : { type: 'opened', path, file, access, activate },
    );
    if (activate) deps.activate(path, true); // focus, as a click on its tab does
    if (!restored) return;
    deps.notify(
      {
        kind: 'info',
        title: `Restored your unsaved changes to ${path}.`,
        detail: `Kept in this browser ${formatAgo(restored.savedAt)}, based on ${shortSha(restored.base)}.`,
      },
      [{ label: 'Discard them', run: () => void this.discard(path, false) }],
    );
  }

  /** Puts `path` back to its version on the branch, after asking when `ask`. */
  async discard(path: string | undefined, ask: boolean): Promise<void> {
    const { deps } = this;
    const tab = path === undefined ? undefined : find(deps.state(), path);
    if (!tab?.editable) return;
    if (ask) {
      const ok = await confirmDialog({
        title: `Discard your changes to ${tab.path}?`,
        body: ['The file goes back to its version on the branch. This cannot be undone.'],
        confirmLabel: 'Discard changes',
        danger: true,
      });
      if (!ok) return;
    }
    try {
      const file = await api.read(tab.path);
      deps.dispatch({ type: 'discarded', path: tab.path, file });
      deps.pane.setText(tab.path, file.content);
      deps.drafts.write(tab.path);
    } catch (err) {
      deps.failure(err, `reload ${tab.path}`);
    }
  }
}
