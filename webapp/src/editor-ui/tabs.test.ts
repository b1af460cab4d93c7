import {
  activeTab,
  emptyTabs,
  fileBarView,
  find,
  reduceTabs,
  type Tab,
  type TabAction,
  type TabsState,
} from './tabs';

const A = 'webapp/site/pages/index.html';
const B = 'webapp/site/styles.css';
const C = 'webapp/site/data.json';
const V1 = '1'.repeat(40);
const V2 = '2'.repeat(40);
const V3 = '3'.repeat(40);
const EDITABLE = { editable: true };
const LOCKED = { editable: false, reason: 'protected: .github/**' };

function fold(actions: TabAction[], state: TabsState = emptyTabs()): TabsState {
  return actions.reduce(reduceTabs, state);
}

function opened(path: string, content = 'v1', activate = true): TabAction {
  return { type: 'opened', path, file: { content, commit: V1 }, access: EDITABLE, activate };
}

function saved(commit: string, content: string, text = content): TabAction {
  return { type: 'saved', path: A, commit, content, text };
}

function tab(state: TabsState, path = A): Tab {
  const found = find(state, path);
  if (!found) throw new Error(`no tab ${path}`);
  return found;
}

const OPENED_LOCKED: TabAction = {
  type: 'opened',
  path: '.github/workflows/ci.yml',
  file: { content: 'on: push', commit: V1 },
  access: LOCKED,
  activate: true,
};

/** One tab on A at V1 with text 'v1', edited to 'mine'. */
const EDITED = fold([opened(A), { type: 'edited', path: A, text: 'mine' }]);
const UPSTREAM = { content: 'theirs', blobSha: 'b'.repeat(40), commit: V2 };
const CONFLICTED = reduceTabs(EDITED, {
  type: 'conflicted',
  path: A,
  upstream: UPSTREAM,
  mine: 'mine',
});

describe('the tab reducer', () => {
  it('opened: a clean tab on the commit it was read at, active when asked', () => {
    const state = fold([opened(A)]);
    expect(state.active).toBe(A);
    expect(tab(state)).toEqual({
      path: A,
      base: V1,
      original: 'v1',
      readAt: V1,
      editable: true,
      reason: undefined,
      dirty: false,
      conflict: undefined,
    });
    expect(fold([opened(B, 'b', false)], state).active).toBe(A);
  });

  it('opened: a read-only file keeps its reason; an editable one has none', () => {
    const state = reduceTabs(emptyTabs(), OPENED_LOCKED);
    expect(activeTab(state)).toMatchObject({ editable: false, reason: LOCKED.reason });
    const odd = reduceTabs(emptyTabs(), {
      ...(opened(A) as Extract<TabAction, { type: 'opened' }>),
      access: { editable: true, reason: 'stale' },
    });
    expect(tab(odd).reason).toBeUndefined();
  });

  it('opened: a file that is already open is only activated', () => {
    const state = fold([opened(A), opened(B)]);
    const again = reduceTabs(state, opened(A, 'something else'));
    expect(again.tabs).toBe(state.tabs);
    expect(again.active).toBe(A);
    expect(reduceTabs(state, opened(A, 'x', false))).toBe(state);
  });

  it('restored: a kept draft makes the tab dirty and based on the draft commit, read at the branch', () => {
    const state = reduceTabs(emptyTabs(), {
      type: 'restored',
      path: A,
      file: { content: 'branch now', commit: V2 },
      access: EDITABLE,
      draft: { base: V1, content: 'my draft' },
      activate: true,
    });
    expect(tab(state)).toMatchObject({
      base: V1,
      readAt: V2,
      original: 'branch now',
      dirty: true,
    });
  });

  it('restored: a draft equal to the branch, or of a file the user may not change, is not restored', () => {
    const restore = (content: string, access: { editable: boolean; reason?: string }) =>
      tab(
        reduceTabs(emptyTabs(), {
          type: 'restored',
          path: A,
          file: { content: 'branch now', commit: V2 },
          access,
          draft: { base: V1, content },
          activate: true,
        }),
      );
    expect(restore('branch now', EDITABLE)).toMatchObject({ base: V2, dirty: false });
    expect(restore('my draft', LOCKED)).toMatchObject({ base: V2, dirty: false });
  });

  it('activated: switches the active tab; an unknown or the same path changes nothing', () => {
    const state = fold([opened(A), opened(B)]);
    expect(reduceTabs(state, { type: 'activated', path: A }).active).toBe(A);
    expect(reduceTabs(state, { type: 'activated', path: B })).toBe(state);
    expect(reduceTabs(state, { type: 'activated', path: C })).toBe(state);
  });

  it('edited: dirty while the text differs from the branch, clean again when it matches', () => {
    expect(tab(EDITED).dirty).toBe(true);
    const back = reduceTabs(EDITED, { type: 'edited', path: A, text: 'v1' });
    expect(tab(back).dirty).toBe(false);
  });

  it('edited: typing that keeps the tab dirty returns the same state (nothing to render)', () => {
    expect(reduceTabs(EDITED, { type: 'edited', path: A, text: 'mine, more' })).toBe(EDITED);
  });

  it('saved: the tab is on the saved commit (base and readAt), clean unless typing went on', () => {
    const done = reduceTabs(EDITED, saved(V2, 'mine'));
    expect(tab(done)).toMatchObject({
      base: V2,
      readAt: V2,
      original: 'mine',
      dirty: false,
      conflict: undefined,
    });
    const typedOn = reduceTabs(EDITED, saved(V2, 'mine', 'mine and more'));
    expect(tab(typedOn)).toMatchObject({ base: V2, readAt: V2, dirty: true });
  });

  it('saved: when the branch already had the text, readAt moves with base too', () => {
    // The "branch already has this version" path once moved base but left readAt behind.
    const same = reduceTabs(EDITED, saved(V3, 'mine'));
    expect(tab(same).readAt).toBe(V3);
    expect(fileBarView(same).text).toBe(`Saved · ${V3.slice(0, 7)}`);
  });

  it('conflicted: the tab waits for a merge with their version and what the user tried to save', () => {
    expect(tab(CONFLICTED).conflict).toEqual({ upstream: UPSTREAM, mine: 'mine' });
    expect(tab(CONFLICTED)).toMatchObject({ base: V1, dirty: true });
  });

  it('mergeDeferred: back to the editor without merging; base stays, so the next save conflicts again', () => {
    const deferred = reduceTabs(CONFLICTED, { type: 'mergeDeferred', path: A });
    expect(tab(deferred)).toMatchObject({ conflict: undefined, base: V1, dirty: true });
  });

  it('merged: the tab is rebased on their commit, dirty when the merge differs from theirs', () => {
    const merged = reduceTabs(CONFLICTED, { type: 'merged', path: A, text: 'theirs\nmine' });
    expect(tab(merged)).toMatchObject({
      base: V2,
      readAt: V2,
      original: 'theirs',
      dirty: true,
      conflict: undefined,
    });
    const tookTheirs = reduceTabs(CONFLICTED, { type: 'merged', path: A, text: 'theirs' });
    expect(tab(tookTheirs).dirty).toBe(false);
  });

  it('merged: a file they deleted merges against empty text', () => {
    const deleted = reduceTabs(EDITED, {
      type: 'conflicted',
      path: A,
      upstream: { content: null, blobSha: null, commit: V2 },
      mine: 'mine',
    });
    const merged = reduceTabs(deleted, { type: 'merged', path: A, text: 'mine' });
    expect(tab(merged)).toMatchObject({ base: V2, original: '', dirty: true });
  });

  it('merged: without a conflict it changes nothing', () => {
    expect(reduceTabs(EDITED, { type: 'merged', path: A, text: 'x' })).toBe(EDITED);
  });

  it('discarded: back to the branch as read now, clean, with no conflict pending', () => {
    const discarded = reduceTabs(CONFLICTED, {
      type: 'discarded',
      path: A,
      file: { content: 'theirs', commit: V2 },
    });
    expect(tab(discarded)).toMatchObject({
      base: V2,
      readAt: V2,
      original: 'theirs',
      dirty: false,
      conflict: undefined,
    });
  });

  it('closed: the next tab (or the one before the last) becomes active; closing another keeps it', () => {
    const three = fold([opened(A), opened(B), opened(C), { type: 'activated', path: B }]);
    const closedB = reduceTabs(three, { type: 'closed', path: B });
    expect(closedB.tabs.map((t) => t.path)).toEqual([A, C]);
    expect(closedB.active).toBe(C);
    const closedLast = reduceTabs(fold([{ type: 'activated', path: C }], three), {
      type: 'closed',
      path: C,
    });
    expect(closedLast.active).toBe(B);
    expect(reduceTabs(three, { type: 'closed', path: A }).active).toBe(B);
    const none = fold([{ type: 'closed', path: A }], fold([opened(A)]));
    expect(none).toEqual(emptyTabs());
    expect(reduceTabs(three, { type: 'closed', path: 'not/open' })).toBe(three);
  });

  it('busy: the save flow is running; the same label again changes nothing', () => {
    const busy = reduceTabs(EDITED, { type: 'busy', label: 'Saving…' });
    expect(busy.busy).toBe('Saving…');
    expect(reduceTabs(busy, { type: 'busy', label: 'Saving…' })).toBe(busy);
    expect(reduceTabs(busy, { type: 'busy', label: undefined }).busy).toBeUndefined();
  });

  it('an action on a path that is not open changes nothing', () => {
    const actions: TabAction[] = [
      { type: 'edited', path: C, text: 'x' },
      { type: 'saved', path: C, commit: V2, content: 'x', text: 'x' },
      { type: 'conflicted', path: C, upstream: UPSTREAM, mine: 'x' },
      { type: 'mergeDeferred', path: C },
      { type: 'merged', path: C, text: 'x' },
      { type: 'discarded', path: C, file: { content: 'x', commit: V2 } },
    ];
    for (const action of actions) expect(reduceTabs(EDITED, action)).toBe(EDITED);
  });

  it('never changes the state it was given', () => {
    const before = JSON.stringify(CONFLICTED);
    fold(
      [{ type: 'merged', path: A, text: 'x' }, saved(V3, 'x'), { type: 'closed', path: A }],
      CONFLICTED,
    );
    expect(JSON.stringify(CONFLICTED)).toBe(before);
  });
});

describe('the file bar', () => {
  it('says what state the active file is in, and when it can be saved or discarded', () => {
    expect(fileBarView(emptyTabs())).toMatchObject({
      path: '',
      state: 'none',
      canSave: false,
      saveHidden: false,
      discardHidden: true,
    });
    expect(fileBarView(fold([opened(A)]))).toMatchObject({
      state: 'saved',
      text: `Saved · ${V1.slice(0, 7)}`,
      canSave: false,
      discardHidden: true,
    });
    expect(fileBarView(EDITED)).toMatchObject({
      path: A,
      state: 'dirty',
      text: 'Unsaved changes',
      canSave: true,
      discardHidden: false,
      saveLabel: 'Review and save',
    });
    expect(fileBarView(CONFLICTED)).toMatchObject({
      state: 'conflict',
      text: 'Changed on the branch: merge needed',
      canSave: false,
      discardHidden: true,
    });
  });

  it('a read-only file has no save button and says why', () => {
    const state = reduceTabs(emptyTabs(), OPENED_LOCKED);
    expect(fileBarView(state)).toMatchObject({
      state: 'readonly',
      text: ` Read-only: ${LOCKED.reason}`,
      saveHidden: true,
      discardHidden: true,
    });
  });

  it('while a save runs, the button names the step and cannot be pressed', () => {
    const view = fileBarView(reduceTabs(EDITED, { type: 'busy', label: 'Reviewing…' }));
    expect(view).toMatchObject({ saveLabel: 'Reviewing…', canSave: false });
  });
});
