/**
 * Monaco for the open files: one model per tab (its text), the editor showing the active one
 * (with its scroll and cursor kept per tab), the merge view while a save conflicts, markers for
 * a save refused at a position, and the cursor and language in the status bar. `render` follows
 * the tabs state; nothing here changes it.
 */
import type { editor as MonacoEditor } from 'monaco-editor/editor/editor.api.js';
import { h } from './dom';
import { MergeView } from './mergeView';
import type { Message } from './messages';
import type { Monaco } from './monaco';
import { languageFor } from './paths';
import { activeTab, type Conflict, type TabsState } from './tabs';

const MARKER_OWNER = 'reflex-save';

export interface EditorPaneOptions {
  branch: string;
  /** Shown while no file is open. */
  emptyState: HTMLElement;
  /** The text of `path` changed (typing, undo, or a merge action). */
  edited: (path: string, text: string) => void;
  /** The merge view's buttons. */
  back: () => void;
  saveMerged: () => void;
}

interface OpenModel {
  model: MonacoEditor.ITextModel;
  viewState: MonacoEditor.ICodeEditorViewState | null;
  hasMarkers: boolean;
}

export class EditorPane {
  readonly host = h('div', { class: 'editor-host', attrs: { hidden: true } });
  readonly cursorLabel = h('span', { class: 'cursor-position' });
  readonly languageLabel = h('span', { class: 'language' });
  readonly merge: MergeView;
  private readonly editor: MonacoEditor.IStandaloneCodeEditor;
  private readonly models = new Map<string, OpenModel>();
  private shown: string | undefined;
  private shownConflict: Conflict | undefined;
  private disposed = false;

  constructor(
    private readonly monaco: Monaco,
    private readonly options: EditorPaneOptions,
  ) {
    const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
    this.merge = new MergeView(monaco, {
      branch: options.branch,
      dark,
      back: options.back,
      save: options.saveMerged,
    });
    this.editor = monaco.editor.create(this.host, {
      automaticLayout: true,
      theme: dark ? 'vs-dark' : 'vs',
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
  }

  /** A model for `path` holding `content`; its changes are reported to `edited`. */
  open(path: string, content: string): void {
    if (this.disposed) return; // a read that finished after the session ended
    const model = this.monaco.editor.createModel(
      content,
      languageFor(path),
      this.monaco.Uri.from({ scheme: 'file', path: `/${path}` }),
    );
    const entry: OpenModel = { model, viewState: null, hasMarkers: false };
    this.models.set(path, entry);
    model.onDidChangeContent(() => {
      if (entry.hasMarkers) {
        this.monaco.editor.setModelMarkers(model, MARKER_OWNER, []);
        entry.hasMarkers = false;
      }
      this.options.edited(path, model.getValue());
    });
  }

  /** The text of an open file; undefined once it is closed. */
  text(path: string): string | undefined {
    const model = this.models.get(path)?.model;
    return model && !model.isDisposed() ? model.getValue() : undefined;
  }

  setText(path: string, text: string): void {
    this.models.get(path)?.model.setValue(text);
  }

  close(path: string): void {
    this.models.get(path)?.model.dispose();
    this.models.delete(path);
  }

  render(state: TabsState): void {
    const tab = activeTab(state);
    if (tab?.path !== this.shown) {
      const previous = this.shown === undefined ? undefined : this.models.get(this.shown);
      if (previous) previous.viewState = this.editor.saveViewState();
      const next = tab && this.models.get(tab.path);
      this.editor.setModel(next?.model ?? null);
      if (next?.viewState) this.editor.restoreViewState(next.viewState);
      this.shown = tab?.path;
      if (tab) {
        this.editor.updateOptions({
          readOnly: !tab.editable,
          readOnlyMessage: { value: `${tab.path} is read-only: ${tab.reason ?? ''}` },
          ariaLabel: `Editor for ${tab.path}${tab.editable ? '' : ' (read-only)'}`,
        });
      }
      const position = this.editor.getPosition();
      this.cursorLabel.textContent =
        tab && position ? `Ln ${position.lineNumber}, Col ${position.column}` : '';
      this.languageLabel.textContent = next?.model.getLanguageId() ?? '';
    }
    this.options.emptyState.hidden = tab !== undefined;
    this.host.hidden = !tab || tab.conflict !== undefined;
    if (tab?.conflict !== this.shownConflict) {
      const model = tab && this.models.get(tab.path)?.model;
      if (tab?.conflict && model) this.merge.show(tab.path, model, tab.conflict);
      else this.merge.hide();
      this.shownConflict = tab?.conflict;
    }
  }

  focus(): void {
    this.editor.focus();
  }

  /** Underlines where a save was refused and, when the file is shown, puts the cursor there. */
  showProblem(path: string, message: Message, at: { line: number; column: number }): void {
    const entry = this.models.get(path);
    if (!entry) return;
    const { model } = entry;
    const line = Math.min(Math.max(1, at.line), model.getLineCount());
    const column = Math.min(Math.max(1, at.column), model.getLineMaxColumn(line));
    this.monaco.editor.setModelMarkers(model, MARKER_OWNER, [
      {
        severity: this.monaco.MarkerSeverity.Error,
        message: message.title,
        startLineNumber: line,
        startColumn: column,
        endLineNumber: line,
        endColumn: Math.max(column + 1, model.getLineMaxColumn(line)),
      },
    ]);
    entry.hasMarkers = true;
    if (path === this.shown) {
      this.editor.setPosition({ lineNumber: line, column });
      this.editor.revealPositionInCenter({ lineNumber: line, column });
      this.editor.focus();
    }
  }

  dispose(): void {
    this.disposed = true;
    this.merge.dispose();
    this.editor.dispose();
    for (const { model } of this.models.values()) model.dispose();
    this.models.clear();
  }
}
