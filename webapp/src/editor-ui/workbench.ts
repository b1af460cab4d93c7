/**
 * The signed-in editor, composed: the file tree, the tabs (state in tabs.ts, changed only by
 * `dispatch`, then rendered by the tab bar, the file bar and the editor pane), the save flow,
 * drafts, the pipeline panel, recent commits and going live; the branch it is on (the deploy
 * branch or a change request), change requests and presence (collaboration.ts).
 *
 * The rules a save goes through live on the server; this side keeps the user's text safe
 * (drafts in the browser until a save lands), explains every refusal, and never retries a
 * save on its own. An ended session is handled once, by the `onUnauthorized` hook of api.ts.
 */
import type { ChangeRequest, EditorSettings, SessionUser } from '../api/contract';
import { canWrite, fileAccess } from './access';
import { api } from './api';
import { Collaboration } from './collaboration';
import { CommitsPanel } from './commitsPanel';
import { closeDialogs, isModalOpen } from './dialogs';
import { h } from './dom';
import { DraftKeeper } from './draftKeeper';
import { EditorPane } from './editorPane';
import { FileBar } from './fileBar';
import { FileFlow } from './fileFlow';
import { FileTree } from './fileTree';
import { shortSha } from './format';
import { goLive } from './goLive';
import { emptyState, workbenchLayout } from './layout';
import { failureMessage, type Message } from './messages';
import type { Monaco } from './monaco';
import { Notices, type NoticeAction } from './notices';
import { liveUrlFor, siteBase } from './paths';
import { PipelinePanel, type Followed } from './pipelinePanel';
import { showReleases } from './releasesView';
import { SaveFlow } from './saveFlow';
import { saveShortcut, showShortcuts } from './shortcuts';
import { DraftStore, TabMemory, loadSettings, type StorageLike } from './storage';
import { TabBar } from './tabBar';
import { activeTab, emptyTabs, fileBarView, find, reduceTabs, type TabAction } from './tabs';

export interface WorkbenchDeps {
  monaco: Monaco;
  user: SessionUser;
  settings: EditorSettings;
  storage: StorageLike;
  /** The change request to edit; none: the deploy branch. */
  change?: ChangeRequest | undefined;
  /** Start again on `change` (undefined: the deploy branch), `carry`ing unsaved work along. */
  switchTo: (change: ChangeRequest | undefined, carry?: boolean) => void;
  /** The user signed out: show the sign-in page. */
  onSignedOut: () => void;
}

export class Workbench {
  readonly element: HTMLElement;
  private state = emptyTabs();
  private disposed = false;
  private stayHere: () => void = () => undefined;
  private readonly site: string;
  private readonly store: DraftStore;
  private readonly tabMemory: TabMemory;
  private readonly notices = new Notices();
  private readonly headLabel = h('code', { class: 'head' });
  private readonly activity = h('span', { class: 'activity' });
  private readonly commits = new CommitsPanel();
  private readonly tree: FileTree;
  private readonly tabBar: TabBar;
  private readonly fileBar: FileBar;
  private readonly pane: EditorPane;
  private readonly drafts: DraftKeeper;
  private readonly saving: SaveFlow;
  private readonly files: FileFlow;
  private readonly pipeline: PipelinePanel;
  private readonly together: Collaboration;
  private readonly onKeyDown = saveShortcut(
    () => void (activeTab(this.state)?.conflict ? this.saving.saveMerged() : this.saving.save()),
    isModalOpen,
  );
  private readonly onPageHide = () => this.drafts.flush();

  constructor(private readonly deps: WorkbenchDeps) {
    const { user, settings, storage } = deps;
    const together = (this.together = new Collaboration({
      ...deps,
      notify: (message, actions) => this.notify(message, actions),
      published: (sha, title) => this.committed({ sha, title, target: this.site }),
      markOthers: (others) => this.tabBar.markOthers(others),
    }));
    const { branch, presence } = together;
    this.site = deps.change?.previewUrl ?? siteBase(settings.siteUrl, window.location);
    this.store = new DraftStore(storage, together.scope);
    this.tabMemory = new TabMemory(storage, together.scope);
    this.pipeline = new PipelinePanel(
      loadSettings(storage),
      storage,
      (f) => this.live(f),
      together.received,
    );
    this.tree = new FileTree({
      onOpen: (path) => void this.files.open(path, true),
      drafted: () => this.drafts.paths(),
      access: (file) => fileAccess(file, user.role),
    });
    this.tabBar = new TabBar({
      activate: (path, { focus }) => this.activate(path, focus),
      close: (path) => this.closeTab(path),
    });
    this.fileBar = new FileBar({
      save: () => void this.saving.save(),
      discard: () => void this.files.discard(this.state.active, true),
    });
    const empty = emptyState(user, settings);
    this.pane = new EditorPane(deps.monaco, {
      branch,
      emptyState: empty,
      edited: (path, text) => {
        this.dispatch({ type: 'edited', path, text });
        this.drafts.schedule(path);
      },
      back: () => this.deferMerge(),
      saveMerged: () => void this.saving.saveMerged(),
    });
    this.drafts = new DraftKeeper(this.store, {
      tab: (path) => find(this.state, path),
      text: (path) => this.pane.text(path),
      changed: () => this.tree.render(),
      warn: (message) => this.notify(message),
    });
    this.saving = new SaveFlow({
      place: together,
      setText: (path, text) => this.pane.setText(path, text),
      maxFileBytes: settings.maxFileBytes,
      state: () => this.state,
      dispatch: (action) => this.dispatch(action),
      text: (path) => this.pane.text(path) ?? '',
      notify: (message, actions) => this.notify(message, actions),
      focusEditor: () => this.focusEditor(),
      showProblem: (path, message, at) => this.pane.showProblem(path, message, at),
      settled: (path) => this.drafts.write(path),
      behind: () => this.refreshLists(),
      committed: (path, sha, title) =>
        this.committed({ sha, title, target: liveUrlFor(path, this.site) }),
    });
    this.files = new FileFlow({
      state: () => this.state,
      dispatch: (action) => this.dispatch(action),
      pane: this.pane,
      store: this.store,
      drafts: this.drafts,
      access: (path) => fileAccess(this.tree.get(path), user.role),
      activate: (path, focus) => this.activate(path, focus),
      notify: (message, actions) => this.notify(message, actions),
      activity: (text) => (this.activity.textContent = text),
      failure: (err, doing) => this.notify(failureMessage(err, doing)),
    });
    this.element = workbenchLayout({
      user,
      settings,
      headLabel: this.headLabel,
      change: together.onChange(() => deps.switchTo(undefined)),
      showReleases: () =>
        void showReleases({
          canRollBack: canWrite(user.role),
          branch: settings.branch,
          notify: (message) => this.notify(message),
          committed: (sha, title) => this.committed({ sha, title, target: this.site }),
        }),
      signOut: () => void this.signOut(),
      showShortcuts: () => void showShortcuts(),
      tree: this.tree.element,
      tabBar: this.tabBar.element,
      fileBar: this.fileBar.element,
      stack: [empty, this.pane.host, this.pane.merge.element, this.notices.element],
      status: [presence.element, this.pane.cursorLabel, this.pane.languageLabel, this.activity],
      side: [together.changes.element, this.pipeline.element, this.commits.element],
    });
    this.render();
  }

  /** Loads the tree, recent commits and the tabs open before; connects the pipeline. */
  async start(): Promise<void> {
    window.addEventListener('keydown', this.onKeyDown, true);
    window.addEventListener('pagehide', this.onPageHide);
    this.pipeline.connect();
    void this.refreshCommits();
    void this.together.changes.refresh();
    await this.refreshTree();
    const remembered = this.tabMemory.load();
    for (const path of remembered.paths) {
      if (this.tree.get(path)) await this.files.open(path, false);
    }
    const paths = this.state.tabs.map((t) => t.path);
    const toActivate = paths.includes(remembered.active ?? '') ? remembered.active : paths.at(-1);
    if (toActivate !== undefined) this.activate(toActivate, false);
  }

  /** Shows a message that concerns the whole editor (e.g. a newer version of it is live). */
  notify(message: Message, actions: NoticeAction[] = []): void {
    if (!this.disposed) this.notices.show(message, actions);
  }

  dispose(): void {
    if (this.disposed) return;
    this.drafts.flush();
    this.disposed = true;
    closeDialogs();
    window.removeEventListener('keydown', this.onKeyDown, true);
    window.removeEventListener('pagehide', this.onPageHide);
    this.stayHere();
    this.together.dispose();
    this.pipeline.dispose();
    this.pane.dispose();
  }

  /** The one way tab state changes; every part then renders the new state. */
  private dispatch(action: TabAction): void {
    if (this.disposed) return;
    const previous = this.state;
    this.state = reduceTabs(previous, action);
    if (this.state !== previous) this.render(previous);
  }

  private render(previous = this.state): void {
    const { tabs, active } = this.state;
    this.tabBar.render(this.state);
    this.fileBar.render(fileBarView(this.state));
    this.pane.render(this.state);
    this.together.presence.tabs(this.state);
    if (active !== previous.active) this.tree.setCurrent(active);
    if (active !== previous.active || tabs.length !== previous.tabs.length) {
      // Tabs are only added or removed one at a time: a different count is a different set.
      this.tabMemory.save({ paths: tabs.map((t) => t.path), active });
    }
  }

  private focusEditor(): void {
    if (!this.disposed) this.pane.focus();
  }

  private async refreshTree(): Promise<void> {
    try {
      const listing = await api.tree();
      this.headLabel.textContent = shortSha(listing.commit);
      this.headLabel.title = listing.commit;
      this.tree.setFiles(listing.files);
    } catch (err) {
      this.notify(failureMessage(err, 'load the file list'));
      this.tree.showProblem(() => void this.refreshTree());
    }
  }

  private refreshCommits(): Promise<void> {
    return this.commits.refresh((err) => this.notify(failureMessage(err, 'load recent commits')));
  }

  private activate(path: string, focus: boolean): void {
    this.dispatch({ type: 'activated', path });
    if (focus && !find(this.state, path)?.conflict) this.focusEditor();
  }

  private closeTab(path: string): void {
    this.drafts.write(path);
    const wasActive = this.state.active === path;
    this.dispatch({ type: 'closed', path });
    this.pane.close(path);
    if (wasActive && this.state.active !== undefined) this.activate(this.state.active, true);
    this.tree.render();
  }

  private deferMerge(): void {
    const path = this.state.active;
    if (path !== undefined) this.dispatch({ type: 'mergeDeferred', path });
    this.focusEditor();
  }

  private committed(followed: Followed): void {
    this.refreshLists();
    if (!this.deps.change) this.pipeline.follow(followed); // a preview is never /version's
  }

  /** The branch moved: the file list and the recent commits are behind. */
  private refreshLists(): void {
    void this.refreshTree();
    void this.refreshCommits();
  }

  private live(followed: Followed): void {
    this.stayHere = goLive(followed, {
      follows: this.pipeline.followsDeploys,
      notify: (message, actions) => this.notify(message, actions),
      leave: (url) => {
        this.drafts.flush();
        window.location.assign(url);
      },
    });
  }

  private async signOut(): Promise<void> {
    this.drafts.flush();
    await api.signOut().catch(() => undefined);
    this.deps.onSignedOut();
  }
}
