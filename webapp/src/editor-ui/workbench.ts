/**
 * The signed-in editor: file tree, tabs, Monaco, the review-and-save flow, the merge view for
 * a conflicting save, the pipeline panel and recent commits.
 *
 * The rules a save goes through live on the server; this side keeps the user's text safe
 * (drafts in the browser until a save lands), explains every refusal, and never retries a
 * save on its own.
 */
import type { editor as MonacoEditor } from 'monaco-editor/editor/editor.api.js';
import {
  ApiError,
  api,
  type CommitSummary,
  type EditorSettings,
  type FileContent,
  type SessionUser,
} from './api';
import { confirmDialog, isModalOpen, panelDialog, reviewDialog } from './dialogs';
import { h, lockIcon, replaceChildren, srOnly } from './dom';
import { FileTree } from './fileTree';
import { firstLine, formatAgo, shortSha } from './format';
import { MergeView, type Conflict, type Upstream } from './mergeView';
import { saveFailureMessage, type Message } from './messages';
import type { Monaco } from './monaco';
import { Notices } from './notices';
import { basename, languageFor, pageUrlFor } from './paths';
import { PipelinePanel, type Followed } from './pipelinePanel';
import { openReleases } from './releasesView';
import { DraftStore, TabMemory, loadSettings, type StorageLike } from './storage';

interface Tab {
  path: string;
  model: MonacoEditor.ITextModel;
  /** The commit this tab's edits are based on: sent as `baseCommit`. */
  base: string;
  /** The file's text on the branch as last read or saved: the tab is dirty when it differs. */
  original: string;
  /** The commit the file was read at (a discard goes back to it). */
  readAt: string;
  editable: boolean;
  reason: string | undefined;
  dirty: boolean;
  viewState: MonacoEditor.ICodeEditorViewState | null;
  element: HTMLElement;
  label: HTMLButtonElement;
  draftTimer: number | undefined;
  hasMarkers: boolean;
  /** Set while a conflicting save waits for the user to merge. */
  conflict: Conflict | undefined;
}

export interface WorkbenchDeps {
  monaco: Monaco;
  user: SessionUser;
  settings: EditorSettings;
  storage: StorageLike;
  /** The session is over (signed out, or expired): show the sign-in page with `notice`. */
  onSignedOut: (notice?: string) => void;
}

const DRAFT_DELAY_MS = 300;
const REDIRECT_DELAY_MS = 1500;
const MARKER_OWNER = 'reflex-save';

export class Workbench {
  readonly element: HTMLElement;
  private readonly monaco: Monaco;
  private readonly user: SessionUser;
  private readonly settings: EditorSettings;
  private readonly drafts: DraftStore;
  private readonly signedOut: (notice?: string) => void;
  private readonly tabMemory: TabMemory;
  private readonly notices = new Notices();
  private readonly pipeline: PipelinePanel;
  private readonly editor: MonacoEditor.IStandaloneCodeEditor;
  private readonly tree: FileTree;
  private readonly merge: MergeView;

  private tabs: Tab[] = [];
  private active: Tab | undefined;
  private busy = false;
  private opening = new Set<string>();
  private storageWarned = false;
  private redirectTimer: number | undefined;

  // Elements that change.
  private readonly headLabel = h('code', { class: 'head' });
  // Plain buttons, not ARIA tabs: each open file also has its own close button.
  private readonly tabList = h('nav', { class: 'tabs', attrs: { 'aria-label': 'Open files' } });
  private readonly filePath = h('span', { class: 'file-path' });
  private readonly fileState = h('span', { class: 'file-state' });
  private readonly discardButton = h('button', {
    class: 'button',
    text: 'Discard changes',
    attrs: { type: 'button', hidden: true },
  });
  private readonly saveButton = h('button', {
    class: 'button primary',
    text: 'Review and save',
    attrs: { type: 'button', disabled: true, 'aria-keyshortcuts': 'Control+S Meta+S' },
  });
  private readonly emptyState = h('div', { class: 'empty-state' });
  private readonly editorHost = h('div', { class: 'editor-host', attrs: { hidden: true } });
  private readonly cursorLabel = h('span', { class: 'cursor-position' });
  private readonly languageLabel = h('span', { class: 'language' });
  private readonly activity = h('span', { class: 'activity' });
  private readonly commitList = h('ol', { class: 'commit-list', attrs: { 'aria-busy': 'true' } });

  private readonly onKeyDown = (event: KeyboardEvent) => this.keyDown(event);
  private readonly onPageHide = () => this.flushDrafts();

  constructor(deps: WorkbenchDeps) {
    this.monaco = deps.monaco;
    this.user = deps.user;
    this.settings = deps.settings;
    this.drafts = new DraftStore(deps.storage, deps.user.username);
    this.tabMemory = new TabMemory(deps.storage, deps.user.username);
    this.signedOut = deps.onSignedOut;
    this.pipeline = new PipelinePanel(loadSettings(deps.storage), deps.storage, (followed) =>
      this.live(followed),
    );
    this.tree = new FileTree({
      onOpen: (path) => void this.openFile(path),
      drafted: () => new Set(this.drafts.all().map((d) => d.path)),
    });
    this.merge = new MergeView(this.monaco, {
      branch: this.settings.branch,
      dark: prefersDark(),
      back: () => this.closeMerge(),
      save: () => void this.saveMerged(),
    });
    this.element = this.layout();
    this.editor = this.monaco.editor.create(this.editorHost, {
      automaticLayout: true,
      theme: prefersDark() ? 'vs-dark' : 'vs',
      minimap: { enabled: false },
      fontSize: 14,
      scrollBeyondLastLine: false,
      renderWhitespace: 'selection',
      // Typing a bracket or quote over a selection replaces it. Monaco 0.57's auto-surround,
      // followed by quick typing over a multi-line selection, corrupts the line tokens; in HTML
      // bracket matching then loops until the tab runs out of memory.
      autoSurround: 'never',
      ariaLabel: 'File editor',
      model: null,
    });
    this.editor.onDidChangeCursorPosition((e) => {
      this.cursorLabel.textContent = `Ln ${e.position.lineNumber}, Col ${e.position.column}`;
    });
    this.renderEmptyState();
  }

  /** Loads the tree, recent commits and the tabs open before; connects the pipeline. */
  async start(): Promise<void> {
    window.addEventListener('keydown', this.onKeyDown, true);
    window.addEventListener('pagehide', this.onPageHide);
    this.pipeline.connect();
    void this.refreshCommits();
    await this.refreshTree();
    const remembered = this.tabMemory.load();
    for (const path of remembered.paths) {
      if (this.tree.get(path)) await this.openFile(path, { activate: false });
    }
    const toActivate =
      this.tabs.find((t) => t.path === remembered.active) ?? this.tabs[this.tabs.length - 1];
    if (toActivate) this.activate(toActivate, { focus: false });
  }

  /** Shows a message that concerns the whole editor (e.g. a newer version of it is live). */
  notify(message: Message, actions: { label: string; run: () => void }[] = []): void {
    this.notices.show(message, actions);
  }

  dispose(): void {
    this.flushDrafts();
    window.removeEventListener('keydown', this.onKeyDown, true);
    window.removeEventListener('pagehide', this.onPageHide);
    if (this.redirectTimer !== undefined) window.clearTimeout(this.redirectTimer);
    this.pipeline.dispose();
    this.merge.dispose();
    this.editor.dispose();
    for (const tab of this.tabs) tab.model.dispose();
    this.tabs = [];
  }

  // ---- layout -------------------------------------------------------------------------------

  private layout(): HTMLElement {
    const releases = h('button', {
      class: 'button',
      text: 'Releases',
      attrs: { type: 'button' },
      on: { click: () => void this.showReleases() },
    });
    const signOut = h('button', {
      class: 'button',
      text: 'Sign out',
      attrs: { type: 'button' },
      on: { click: () => void this.signOut() },
    });
    const header = h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'skip-link', text: 'Skip to the editor', attrs: { href: '#editor-main' } }),
      h('span', { class: 'brand', text: 'Reflex' }),
      h(
        'span',
        { class: 'repo' },
        h('span', { text: this.settings.branch }),
        ' @ ',
        this.headLabel,
      ),
      h('span', { class: 'spacer' }),
      releases,
      h(
        'span',
        { class: 'user' },
        h('span', { class: 'user-name', text: this.user.name || this.user.username }),
        h('span', {
          class: `badge role-${this.user.role}`,
          text: this.user.role,
          attrs: { 'data-role': this.user.role },
        }),
      ),
      signOut,
    );
    const banner =
      this.user.role === 'viewer'
        ? h('p', {
            class: 'banner',
            attrs: { role: 'note' },
            text: 'You are signed in as a viewer: you can read files, the pipeline and the releases, but not change them.',
          })
        : null;

    this.saveButton.addEventListener('click', () => void this.save());
    this.discardButton.addEventListener('click', () => void this.discard());
    this.tabList.addEventListener('keydown', (event) => this.tabKeys(event));
    const shortcuts = h('button', {
      class: 'link-button',
      text: 'Keyboard shortcuts',
      attrs: { type: 'button' },
      on: { click: () => void showShortcuts() },
    });
    const main = h(
      'main',
      { class: 'editor-area', attrs: { id: 'editor-main', tabindex: -1, 'aria-label': 'Editor' } },
      this.tabList,
      h(
        'div',
        { class: 'file-bar' },
        this.filePath,
        this.fileState,
        h('span', { class: 'spacer' }),
        this.discardButton,
        this.saveButton,
      ),
      h(
        'div',
        { class: 'editor-stack' },
        this.emptyState,
        this.editorHost,
        this.merge.element,
        this.notices.element,
      ),
      h(
        'div',
        { class: 'statusbar' },
        this.cursorLabel,
        this.languageLabel,
        this.activity,
        h('span', { class: 'spacer' }),
        shortcuts,
      ),
    );
    const side = h(
      'aside',
      { class: 'side', attrs: { 'aria-label': 'Pipeline and history' } },
      this.pipeline.element,
      h(
        'section',
        { class: 'panel commits', attrs: { 'aria-labelledby': 'commits-heading' } },
        h(
          'div',
          { class: 'panel-head' },
          h('h2', { text: 'Recent commits', attrs: { id: 'commits-heading' } }),
        ),
        this.commitList,
      ),
    );
    return h(
      'div',
      { class: 'workbench' },
      header,
      banner,
      h('div', { class: 'layout' }, this.tree.element, main, side),
    );
  }

  private renderEmptyState(): void {
    const editable = this.settings.editable.join(', ');
    replaceChildren(
      this.emptyState,
      h('h2', { text: 'No file open' }),
      h('p', { text: 'Choose a file from the list on the left.' }),
      this.user.role !== 'viewer'
        ? h('p', {
            class: 'muted',
            text: `Files you can change: ${editable}. Others are read-only (marked with a lock).`,
          })
        : null,
    );
  }

  // ---- tree ---------------------------------------------------------------------------------

  private async refreshTree(): Promise<void> {
    try {
      const listing = await api.tree();
      this.headLabel.textContent = shortSha(listing.commit);
      this.headLabel.title = listing.commit;
      this.tree.setFiles(listing.files);
    } catch (err) {
      this.failure(err, 'load the file list');
      this.tree.showProblem(() => void this.refreshTree());
    }
  }

  // ---- tabs ---------------------------------------------------------------------------------

  async openFile(path: string, options: { activate?: boolean } = {}): Promise<void> {
    const activate = options.activate ?? true;
    const existing = this.tabs.find((t) => t.path === path);
    if (existing) {
      if (activate) this.activate(existing);
      return;
    }
    if (this.opening.has(path)) return;
    this.opening.add(path);
    this.activity.textContent = `Opening ${path}…`;
    let file: FileContent;
    try {
      file = await api.read(path);
    } catch (err) {
      this.openFailure(err, path);
      return;
    } finally {
      this.opening.delete(path);
      if (this.opening.size === 0) this.activity.textContent = '';
    }
    const entry = this.tree.get(path);
    const viewer = this.user.role === 'viewer';
    const editable = !viewer && (entry?.editable ?? false);
    const reason = viewer
      ? 'you are signed in as a viewer'
      : editable
        ? undefined
        : (entry?.reason ?? 'outside the editable scope');

    let base = file.commit;
    let content = file.content;
    const draft = this.drafts.get(path);
    let restored = false;
    if (draft && editable) {
      if (draft.content === file.content) {
        this.drafts.remove(path);
      } else {
        base = draft.base;
        content = draft.content;
        restored = true;
      }
    }
    const model = this.monaco.editor.createModel(
      content,
      languageFor(path),
      this.monaco.Uri.from({ scheme: 'file', path: `/${path}` }),
    );
    const label = h('button', {
      class: 'tab-label',
      attrs: { type: 'button', title: path },
    });
    const close = h('button', {
      class: 'tab-close',
      text: '×',
      attrs: { type: 'button', 'aria-label': `Close ${basename(path)}`, title: 'Close' },
    });
    const element = h('div', { class: 'tab', attrs: { 'data-path': path } }, label, close);
    const tab: Tab = {
      path,
      model,
      base,
      original: file.content,
      readAt: file.commit,
      editable,
      reason,
      dirty: content !== file.content,
      viewState: null,
      element,
      label,
      draftTimer: undefined,
      hasMarkers: false,
      conflict: undefined,
    };
    label.addEventListener('click', () => this.activate(tab));
    label.addEventListener('auxclick', (event) => {
      if (event.button === 1) this.closeTab(tab);
    });
    close.addEventListener('click', () => this.closeTab(tab));
    model.onDidChangeContent(() => this.edited(tab));
    this.tabs.push(tab);
    this.tabList.append(element);
    this.renderTab(tab);
    if (activate) this.activate(tab);
    this.rememberTabs();
    if (restored && draft) {
      this.notices.show(
        {
          kind: 'info',
          title: `Restored your unsaved changes to ${path}.`,
          detail: `Kept in this browser ${formatAgo(draft.savedAt)}, based on ${shortSha(draft.base)}.`,
        },
        [{ label: 'Discard them', run: () => void this.discard(tab, false) }],
      );
    }
  }

  private openFailure(err: unknown, path: string): void {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 401) return this.sessionEnded();
    const why: Record<number, string> = {
      404: 'it is not on the branch any more',
      413: `it is larger than the editor's limit`,
      415: 'it is not a text file (binary, or a link)',
    };
    this.notices.show({
      kind: 'error',
      title: `Could not open ${path}: ${why[err.status] ?? err.message}.`,
      ...(err.status === 413 ? { detail: err.message } : {}),
    });
  }

  private activate(tab: Tab, options: { focus?: boolean } = {}): void {
    if (this.active && this.active !== tab) {
      this.active.viewState = this.editor.saveViewState();
    }
    const previous = this.active;
    this.active = tab;
    if (previous !== tab) {
      this.editor.setModel(tab.model);
      if (tab.viewState) this.editor.restoreViewState(tab.viewState);
    }
    this.editor.updateOptions({
      readOnly: !tab.editable,
      readOnlyMessage: { value: `${tab.path} is read-only: ${tab.reason ?? ''}` },
      ariaLabel: `Editor for ${tab.path}${tab.editable ? '' : ' (read-only)'}`,
    });
    for (const t of this.tabs) this.renderTab(t);
    this.emptyState.hidden = true;
    this.showConflictOrEditor();
    this.updateFileBar();
    this.languageLabel.textContent = tab.model.getLanguageId();
    const position = this.editor.getPosition();
    this.cursorLabel.textContent = position
      ? `Ln ${position.lineNumber}, Col ${position.column}`
      : '';
    this.tree.setCurrent(tab.path);
    this.rememberTabs();
    if (options.focus !== false && !tab.conflict) this.editor.focus();
  }

  private closeTab(tab: Tab): void {
    this.writeDraft(tab);
    const index = this.tabs.indexOf(tab);
    this.tabs.splice(index, 1);
    tab.element.remove();
    if (this.active === tab) {
      this.active = undefined;
      this.editor.setModel(null);
      const next = this.tabs[Math.min(index, this.tabs.length - 1)];
      if (next) {
        this.activate(next);
      } else {
        this.editorHost.hidden = true;
        this.merge.hide();
        this.emptyState.hidden = false;
        this.updateFileBar();
        this.cursorLabel.textContent = '';
        this.languageLabel.textContent = '';
        this.tree.setCurrent(undefined);
      }
    }
    tab.model.dispose();
    this.rememberTabs();
    this.tree.render();
  }

  private renderTab(tab: Tab): void {
    const selected = tab === this.active;
    tab.element.classList.toggle('active', selected);
    tab.element.classList.toggle('dirty', tab.dirty);
    tab.element.classList.toggle('readonly', !tab.editable);
    if (selected) tab.label.setAttribute('aria-current', 'true');
    else tab.label.removeAttribute('aria-current');
    replaceChildren(
      tab.label,
      h('span', { class: 'tab-name', text: basename(tab.path) }),
      tab.editable ? null : h('span', { class: 'tab-lock' }, lockIcon()),
      tab.dirty
        ? h(
            'span',
            { class: 'dirty-marker', attrs: { title: 'Unsaved changes' } },
            '●',
            srOnly('(unsaved changes)'),
          )
        : null,
    );
  }

  /** Arrow keys, Home and End move between open files; Delete closes one. */
  private tabKeys(event: KeyboardEvent): void {
    const current = this.tabs.findIndex((t) => t.label === document.activeElement);
    if (current === -1) return;
    let next: number | undefined;
    if (event.key === 'ArrowRight') next = (current + 1) % this.tabs.length;
    else if (event.key === 'ArrowLeft') next = (current - 1 + this.tabs.length) % this.tabs.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = this.tabs.length - 1;
    else if (event.key === 'Delete') {
      event.preventDefault();
      this.closeTab(this.tabs[current]!);
      this.active?.label.focus();
      return;
    }
    if (next === undefined) return;
    event.preventDefault();
    const tab = this.tabs[next]!;
    this.activate(tab, { focus: false });
    tab.label.focus();
  }

  private rememberTabs(): void {
    this.tabMemory.save({ paths: this.tabs.map((t) => t.path), active: this.active?.path });
  }

  private updateFileBar(): void {
    const tab = this.active;
    this.filePath.textContent = tab?.path ?? '';
    const state: (Node | string)[] = [];
    if (tab && !tab.editable) {
      state.push(lockIcon(), ` Read-only: ${tab.reason ?? ''}`);
    } else if (tab?.conflict) {
      state.push('Changed on the branch: merge needed');
    } else if (tab?.dirty) {
      state.push('Unsaved changes');
    } else if (tab) {
      state.push(`Saved · ${shortSha(tab.base)}`);
    }
    replaceChildren(this.fileState, ...state);
    this.fileState.dataset.state = !tab
      ? 'none'
      : !tab.editable
        ? 'readonly'
        : tab.conflict
          ? 'conflict'
          : tab.dirty
            ? 'dirty'
            : 'saved';
    const canSave = !!tab && tab.editable && tab.dirty && !tab.conflict && !this.busy;
    this.saveButton.disabled = !canSave;
    this.saveButton.hidden = !!tab && !tab.editable;
    this.discardButton.hidden = !(tab && tab.editable && tab.dirty && !tab.conflict);
  }

  // ---- editing and drafts -------------------------------------------------------------------

  private edited(tab: Tab): void {
    if (tab.hasMarkers) {
      this.monaco.editor.setModelMarkers(tab.model, MARKER_OWNER, []);
      tab.hasMarkers = false;
    }
    const dirty = tab.model.getValue() !== tab.original;
    if (dirty !== tab.dirty) {
      tab.dirty = dirty;
      this.renderTab(tab);
      if (tab === this.active) this.updateFileBar();
    }
    if (tab.draftTimer !== undefined) window.clearTimeout(tab.draftTimer);
    tab.draftTimer = window.setTimeout(() => this.writeDraft(tab), DRAFT_DELAY_MS);
  }

  private writeDraft(tab: Tab): void {
    if (tab.draftTimer !== undefined) window.clearTimeout(tab.draftTimer);
    tab.draftTimer = undefined;
    if (!tab.editable || tab.model.isDisposed()) return;
    const hadDraft = this.drafts.get(tab.path) !== undefined;
    if (tab.dirty) {
      const kept = this.drafts.put(tab.path, tab.base, tab.model.getValue());
      if (!kept && !this.storageWarned) {
        this.storageWarned = true;
        this.notices.show({
          kind: 'warning',
          title: 'This browser is not keeping a copy of your unsaved changes.',
          detail: 'Its storage is full or switched off. Save soon.',
        });
      }
      if (!hadDraft) this.tree.render();
    } else if (hadDraft) {
      this.drafts.remove(tab.path);
      this.tree.render();
    }
  }

  private flushDrafts(): void {
    for (const tab of this.tabs) if (tab.draftTimer !== undefined) this.writeDraft(tab);
  }

  private async discard(tab = this.active, ask = true): Promise<void> {
    if (!tab || !tab.editable) return;
    if (ask) {
      const ok = await confirmDialog({
        title: `Discard your changes to ${tab.path}?`,
        body: ['The file goes back to its version on the branch. This cannot be undone.'],
        confirmLabel: 'Discard changes',
        danger: true,
      });
      if (!ok) return;
    }
    let fresh: FileContent;
    try {
      fresh = await api.read(tab.path);
    } catch (err) {
      this.failure(err, `reload ${tab.path}`);
      return;
    }
    tab.conflict = undefined;
    tab.base = fresh.commit;
    tab.original = fresh.content;
    tab.readAt = fresh.commit;
    tab.model.setValue(tab.original);
    this.drafts.remove(tab.path);
    tab.dirty = false;
    this.renderTab(tab);
    if (tab === this.active) {
      this.showConflictOrEditor();
      this.updateFileBar();
    }
    this.tree.render();
  }

  // ---- saving -------------------------------------------------------------------------------

  private keyDown(event: KeyboardEvent): void {
    if (!(event.ctrlKey || event.metaKey) || event.altKey || event.key.toLowerCase() !== 's')
      return;
    event.preventDefault();
    event.stopPropagation();
    if (isModalOpen()) return;
    if (this.active?.conflict) void this.saveMerged();
    else void this.save();
  }

  /** Review the diff, then commit and push: the whole save flow for the active tab. */
  async save(): Promise<void> {
    const tab = this.active;
    if (!tab || this.busy) return;
    if (!tab.editable) {
      this.notices.show({ kind: 'info', title: `${tab.path} is read-only: ${tab.reason ?? ''}.` });
      return;
    }
    const content = tab.model.getValue();
    if (!tab.dirty) {
      this.notices.show({ kind: 'info', title: 'No changes to save.' });
      return;
    }
    this.setBusy(true);
    try {
      const diff = await api.diff(tab.path, content, tab.base);
      if (!diff.diff.includes('\n@@')) {
        // The branch already has exactly this text (someone made the same change).
        tab.original = content;
        tab.base = diff.commit;
        tab.dirty = false;
        this.drafts.remove(tab.path);
        this.renderTab(tab);
        this.updateFileBar();
        this.notices.show({
          kind: 'info',
          title: `The branch already has this version of ${tab.path}.`,
        });
        return;
      }
      const defaultMessage = `Update ${tab.path}`;
      const review = await reviewDialog({
        path: tab.path,
        diff,
        defaultMessage,
        branch: this.settings.branch,
      });
      if (!review) {
        this.editor.focus();
        return;
      }
      this.setBusy(true, 'Saving…');
      this.notices.show({ kind: 'info', title: `Committing ${tab.path}…` });
      const result = await api.save(tab.path, content, tab.base, review.message || undefined);
      this.saved(tab, content, result.commit, review.message || defaultMessage);
    } catch (err) {
      this.saveFailed(tab, content, err);
    } finally {
      this.setBusy(false);
    }
  }

  private saved(tab: Tab, content: string, commit: string, message: string): void {
    const unchanged = commit === tab.base;
    tab.base = commit;
    tab.readAt = commit;
    tab.original = content;
    tab.conflict = undefined;
    tab.dirty = tab.model.getValue() !== content;
    this.writeDraft(tab);
    this.renderTab(tab);
    if (tab === this.active) {
      this.showConflictOrEditor();
      this.updateFileBar();
      this.editor.focus();
    }
    if (unchanged) {
      this.notices.show({
        kind: 'info',
        title: 'Nothing to commit: the branch already had this text.',
      });
      return;
    }
    this.notices.show({
      kind: 'success',
      title: `Committed ${shortSha(commit)} to ${this.settings.branch}.`,
      detail: firstLine(message),
    });
    this.committed({ sha: commit, title: message, target: pageUrlFor(tab.path) });
  }

  private saveFailed(tab: Tab, content: string, err: unknown): void {
    if (!(err instanceof ApiError)) {
      this.notices.show({ kind: 'error', title: `Not saved: ${String(err)}` });
      return;
    }
    if (err.status === 401) return this.sessionEnded();
    if (err.status === 409 && err.body.upstream) {
      this.openMerge(tab, err.body.upstream, content);
      void this.refreshTree();
      void this.refreshCommits();
    }
    const message = saveFailureMessage(err, {
      path: tab.path,
      maxFileBytes: this.settings.maxFileBytes,
    });
    this.notices.show(message);
    if (message.position) this.showProblemAt(tab, message, message.position);
  }

  private showProblemAt(tab: Tab, message: Message, at: { line: number; column: number }): void {
    const line = Math.min(Math.max(1, at.line), tab.model.getLineCount());
    const column = Math.min(Math.max(1, at.column), tab.model.getLineMaxColumn(line));
    this.monaco.editor.setModelMarkers(tab.model, MARKER_OWNER, [
      {
        severity: this.monaco.MarkerSeverity.Error,
        message: message.title,
        startLineNumber: line,
        startColumn: column,
        endLineNumber: line,
        endColumn: Math.max(column + 1, tab.model.getLineMaxColumn(line)),
      },
    ]);
    tab.hasMarkers = true;
    if (tab === this.active) {
      this.editor.setPosition({ lineNumber: line, column });
      this.editor.revealPositionInCenter({ lineNumber: line, column });
      this.editor.focus();
    }
  }

  private setBusy(busy: boolean, label = 'Reviewing…'): void {
    this.busy = busy;
    this.saveButton.textContent = busy ? label : 'Review and save';
    this.updateFileBar();
  }

  // ---- merge view (409) -----------------------------------------------------------------------

  private openMerge(tab: Tab, upstream: Upstream, mine: string): void {
    tab.conflict = { upstream, mine };
    this.renderTab(tab);
    if (tab === this.active) {
      this.showConflictOrEditor();
      this.updateFileBar();
    }
  }

  private showConflictOrEditor(): void {
    const tab = this.active;
    this.editorHost.hidden = !tab || !!tab.conflict;
    if (tab?.conflict) this.merge.show(tab.path, tab.model, tab.conflict);
    else this.merge.hide();
  }

  private closeMerge(): void {
    const tab = this.active;
    if (!tab) return;
    tab.conflict = undefined;
    this.showConflictOrEditor();
    this.updateFileBar();
    this.renderTab(tab);
    this.editor.focus();
  }

  /** Rebases the tab on the upstream commit it conflicted with, then runs the save flow. */
  private async saveMerged(): Promise<void> {
    const tab = this.active;
    if (!tab?.conflict || this.busy) return;
    const { upstream } = tab.conflict;
    tab.base = upstream.commit;
    tab.readAt = upstream.commit;
    tab.original = upstream.content ?? '';
    tab.conflict = undefined;
    tab.dirty = tab.model.getValue() !== tab.original;
    this.writeDraft(tab);
    this.renderTab(tab);
    this.showConflictOrEditor();
    this.updateFileBar();
    if (!tab.dirty) {
      this.notices.show({
        kind: 'info',
        title: `Your version is now the same as theirs: nothing to save.`,
      });
      this.editor.focus();
      return;
    }
    await this.save();
  }

  // ---- after a commit: tree, commits, pipeline, going live --------------------------------------

  private committed(followed: Followed): void {
    void this.refreshTree();
    void this.refreshCommits();
    this.pipeline.follow(followed);
  }

  private live(followed: Followed): void {
    const go = () => {
      this.flushDrafts();
      window.location.assign(followed.target);
    };
    if (!this.pipeline.followsDeploys) {
      this.notices.show({ kind: 'success', title: `${shortSha(followed.sha)} is live.` }, [
        { label: 'Open the app', run: go },
      ]);
      return;
    }
    this.notices.show(
      {
        kind: 'success',
        title: `${shortSha(followed.sha)} is live.`,
        detail: `Taking you to ${followed.target}…`,
      },
      [
        {
          label: 'Stay here',
          run: () => {
            if (this.redirectTimer !== undefined) window.clearTimeout(this.redirectTimer);
            this.redirectTimer = undefined;
          },
        },
      ],
    );
    this.redirectTimer = window.setTimeout(go, REDIRECT_DELAY_MS);
  }

  private async refreshCommits(): Promise<void> {
    try {
      const { commits } = await api.commits(10);
      replaceChildren(this.commitList, ...commits.map((c) => commitItem(c)));
      if (commits.length === 0)
        this.commitList.append(h('li', { class: 'muted', text: 'No commits yet.' }));
    } catch (err) {
      this.failure(err, 'load recent commits');
    } finally {
      this.commitList.setAttribute('aria-busy', 'false');
    }
  }

  private async showReleases(): Promise<void> {
    await openReleases({
      role: this.user.role,
      branch: this.settings.branch,
      onSignedOut: () => this.sessionEnded(),
      onRolledBack: (release, commit) => {
        this.notices.show({
          kind: 'success',
          title: `Rolling back to ${shortSha(release.sha)}: revert commit ${shortSha(commit)} is on ${this.settings.branch}.`,
          detail: 'It goes through the pipeline like any save.',
        });
        this.committed({
          sha: commit,
          title: `Roll back to ${shortSha(release.sha)}`,
          target: '/',
        });
      },
    });
  }

  // ---- session ------------------------------------------------------------------------------

  private async signOut(): Promise<void> {
    this.flushDrafts();
    await api.signOut().catch(() => undefined);
    this.signedOut();
  }

  private sessionEnded(): void {
    this.flushDrafts();
    this.signedOut(
      'Your session has ended. Sign in again; unsaved changes are kept in this browser.',
    );
  }

  /** A failed call that is not a save: sign-in again on 401, else say what failed. */
  private failure(err: unknown, doing: string): void {
    if (err instanceof ApiError && err.status === 401) return this.sessionEnded();
    this.notices.show({
      kind: 'error',
      title: `Could not ${doing}: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
}

function commitItem(commit: CommitSummary): HTMLLIElement {
  return h(
    'li',
    { attrs: { 'data-sha': commit.sha } },
    h('code', { text: shortSha(commit.sha), attrs: { title: commit.sha } }),
    ' ',
    h('span', { class: 'commit-message', text: firstLine(commit.message) }),
    h(
      'span',
      { class: 'commit-meta' },
      `${commit.author.name} · `,
      h('time', { text: formatAgo(commit.date), attrs: { datetime: commit.date } }),
    ),
  );
}

function prefersDark(): boolean {
  return window.matchMedia('(prefers-color-scheme: dark)').matches;
}

const SHORTCUTS: [string, string][] = [
  ['Ctrl+S / ⌘+S', 'Review and save the open file'],
  ['Ctrl+Enter / ⌘+Enter', 'Commit, in the review step'],
  ['Escape', 'Close a dialog (cancels it)'],
  ['← / → on the tabs', 'Move between open files; Delete closes one'],
  ['F1', 'All editor commands'],
  ['Ctrl+G', 'Go to line'],
  ['Ctrl+F / Ctrl+H', 'Find / replace'],
  ['Ctrl+M', 'Toggle whether Tab moves focus out of the editor (keyboard navigation)'],
];

function showShortcuts(): Promise<void> {
  return panelDialog('shortcuts', 'Keyboard shortcuts', (body) => {
    body.append(
      h(
        'dl',
        { class: 'shortcut-list' },
        ...SHORTCUTS.flatMap(([keys, what]) => [
          h('dt', {}, h('kbd', { text: keys })),
          h('dd', { text: what }),
        ]),
      ),
    );
  });
}
