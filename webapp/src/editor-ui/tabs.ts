/**
 * The open files as state, and every change to them as an action through one pure reducer:
 * the workbench dispatches, the DOM renders the result and never edits a tab by hand. A tab's
 * text lives in its Monaco model; the state keeps what that text is compared with and saved
 * on. Pure, no DOM.
 */
import type { Access } from './access';
import type { ErrorBody } from './messages';

export type Upstream = NonNullable<ErrorBody['upstream']>;

/** A save refused with 409, waiting for the user to merge. */
export interface Conflict {
  upstream: Upstream;
  /** The text the user tried to save. */
  mine: string;
}

/** A file as read from the branch. */
export interface BranchFile {
  content: string;
  commit: string;
}

export interface Tab {
  path: string;
  /** The commit this tab's edits are based on: sent as `baseCommit`. */
  base: string;
  /** The file's text on the branch as last read or saved: the tab is dirty when it differs. */
  original: string;
  /** The commit `original` was read (or saved) at. */
  readAt: string;
  editable: boolean;
  reason: string | undefined;
  dirty: boolean;
  conflict: Conflict | undefined;
}

export interface TabsState {
  /** In the order they were opened. */
  tabs: readonly Tab[];
  active: string | undefined;
  /** What the save flow is doing (`Reviewing…`, `Saving…`) while it runs. */
  busy: string | undefined;
}

export type TabAction =
  | { type: 'opened'; path: string; file: BranchFile; access: Access; activate: boolean }
  | {
      type: 'restored';
      path: string;
      file: BranchFile;
      access: Access;
      /** Unsaved edits kept in the browser, made on `base`. */
      draft: { base: string; content: string };
      activate: boolean;
    }
  | { type: 'activated'; path: string }
  /** `text`: the tab's text now. */
  | { type: 'edited'; path: string; text: string }
  /** `content` is on the branch at `commit`; `text` is the tab's text now (typing goes on). */
  | { type: 'saved'; path: string; commit: string; content: string; text: string }
  | { type: 'conflicted'; path: string; upstream: Upstream; mine: string }
  /** Back to the editor without merging: the next save conflicts again. */
  | { type: 'mergeDeferred'; path: string }
  /** The user's merge is rebased on the upstream commit it conflicted with. */
  | { type: 'merged'; path: string; text: string }
  /** The file went back to its version on the branch. */
  | { type: 'discarded'; path: string; file: BranchFile }
  | { type: 'closed'; path: string }
  | { type: 'busy'; label: string | undefined };

export function emptyTabs(): TabsState {
  return { tabs: [], active: undefined, busy: undefined };
}

/** Applies one action; returns the same state object when it changes nothing. */
export function reduceTabs(state: TabsState, action: TabAction): TabsState {
  switch (action.type) {
    case 'opened':
    case 'restored':
      return open(state, action);
    case 'activated':
      return state.active === action.path || !find(state, action.path)
        ? state
        : { ...state, active: action.path };
    case 'edited':
      return update(state, action.path, (tab) => ({ dirty: action.text !== tab.original }));
    case 'saved':
      return update(state, action.path, () => ({
        ...onBranch(action.commit, action.content),
        dirty: action.text !== action.content,
      }));
    case 'conflicted':
      return update(state, action.path, () => ({
        conflict: { upstream: action.upstream, mine: action.mine },
      }));
    case 'mergeDeferred':
      return update(state, action.path, () => ({ conflict: undefined }));
    case 'merged':
      return update(state, action.path, (tab) => {
        if (!tab.conflict) return {};
        const { commit, content } = tab.conflict.upstream;
        return { ...onBranch(commit, content ?? ''), dirty: action.text !== (content ?? '') };
      });
    case 'discarded':
      return update(state, action.path, () => ({
        ...onBranch(action.file.commit, action.file.content),
        dirty: false,
      }));
    case 'closed':
      return close(state, action.path);
    case 'busy':
      return state.busy === action.label ? state : { ...state, busy: action.label };
  }
}

export function activeTab(state: TabsState): Tab | undefined {
  return state.active === undefined ? undefined : find(state, state.active);
}

export function find(state: TabsState, path: string): Tab | undefined {
  return state.tabs.find((t) => t.path === path);
}

export type FileState = 'none' | 'readonly' | 'conflict' | 'dirty' | 'saved';

/** What the file bar shows for the active tab. */
export interface FileBarView {
  path: string;
  state: FileState;
  text: string;
  canSave: boolean;
  saveHidden: boolean;
  saveLabel: string;
  discardHidden: boolean;
}

export function fileBarView(state: TabsState): FileBarView {
  const tab = activeTab(state);
  const fileState: FileState = !tab
    ? 'none'
    : !tab.editable
      ? 'readonly'
      : tab.conflict
        ? 'conflict'
        : tab.dirty
          ? 'dirty'
          : 'saved';
  const text = {
    none: '',
    readonly: ` Read-only: ${tab?.reason ?? ''}`,
    conflict: 'Changed on the branch: merge needed',
    dirty: 'Unsaved changes',
    saved: `Saved · ${(tab?.readAt ?? '').slice(0, 7)}`,
  }[fileState];
  const changed = fileState === 'dirty';
  return {
    path: tab?.path ?? '',
    state: fileState,
    text,
    canSave: changed && state.busy === undefined,
    saveHidden: fileState === 'readonly',
    saveLabel: state.busy ?? 'Review and save',
    discardHidden: !changed,
  };
}

function open(
  state: TabsState,
  action: Extract<TabAction, { type: 'opened' | 'restored' }>,
): TabsState {
  if (find(state, action.path)) {
    return action.activate ? reduceTabs(state, { type: 'activated', path: action.path }) : state;
  }
  const { file, access } = action;
  // A draft of a file the user may not change, or one equal to the branch, is not restored.
  const draft =
    action.type === 'restored' && access.editable && action.draft.content !== file.content
      ? action.draft
      : undefined;
  const tab: Tab = {
    path: action.path,
    ...onBranch(file.commit, file.content),
    base: draft?.base ?? file.commit,
    editable: access.editable,
    reason: access.editable ? undefined : access.reason,
    dirty: draft !== undefined,
  };
  return {
    ...state,
    tabs: [...state.tabs, tab],
    active: action.activate ? tab.path : state.active,
  };
}

function close(state: TabsState, path: string): TabsState {
  const index = state.tabs.findIndex((t) => t.path === path);
  if (index === -1) return state;
  const tabs = state.tabs.filter((t) => t.path !== path);
  const active =
    state.active === path ? tabs[Math.min(index, tabs.length - 1)]?.path : state.active;
  return { ...state, tabs, active };
}

/** The tab is now on the branch's `content` at `commit`, with no conflict pending. */
function onBranch(commit: string, content: string) {
  return { base: commit, readAt: commit, original: content, conflict: undefined };
}

function update(
  state: TabsState,
  path: string,
  change: (tab: Tab) => Partial<Omit<Tab, 'path'>>,
): TabsState {
  const tab = find(state, path);
  if (!tab) return state;
  const next = { ...tab, ...change(tab) };
  const keys = Object.keys(next) as (keyof Tab)[];
  if (keys.every((k) => next[k] === tab[k])) return state;
  return { ...state, tabs: state.tabs.map((t) => (t === tab ? next : t)) };
}
