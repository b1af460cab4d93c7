/**
 * The merge view for a save refused with 409: Monaco's diff editor with the branch's version
 * (theirs, read-only) on the left and the user's (the tab's own model, editable) on the right.
 * The user takes theirs, keeps their own, or edits, then saves on the new base.
 */
import type { editor as MonacoEditor } from 'monaco-editor/editor/editor.api.js';
import { h } from './dom';
import type { Monaco } from './monaco';
import { shortSha } from './format';
import type { Conflict } from './tabs';

export interface MergeActions {
  back: () => void;
  save: () => void;
}

export class MergeView {
  readonly element = h('div', { class: 'merge', attrs: { hidden: true } });
  private readonly title = h('p', { class: 'merge-title' });
  private readonly theirsLabel = h('span', { class: 'merge-label-theirs' });
  private readonly editorHost = h('div', { class: 'merge-editor' });
  private diffEditor: MonacoEditor.IStandaloneDiffEditor | undefined;
  private theirs: MonacoEditor.ITextModel | undefined;
  private shown: { model: MonacoEditor.ITextModel; conflict: Conflict } | undefined;

  constructor(
    private readonly monaco: Monaco,
    private readonly options: { branch: string; dark: boolean } & MergeActions,
  ) {
    const button = (text: string, cls: string, run: () => void) =>
      h('button', { class: `button ${cls}`, text, attrs: { type: 'button' }, on: { click: run } });
    this.element.append(
      h(
        'div',
        { class: 'merge-head' },
        this.title,
        h('p', {
          class: 'muted',
          text: 'Left: the branch now (theirs, read-only). Right: your version — take theirs, keep yours, or edit it until it is right, then save it on the new base.',
        }),
        h(
          'div',
          { class: 'merge-actions' },
          button('Take theirs', '', () => this.take('theirs')),
          button('Keep mine', '', () => this.take('mine')),
          h('span', { class: 'spacer' }),
          button('Back to the editor', '', options.back),
          button('Save on the new base', 'primary', options.save),
        ),
        h(
          'div',
          { class: 'merge-labels', attrs: { 'aria-hidden': 'true' } },
          this.theirsLabel,
          h('span', { text: 'Yours' }),
        ),
      ),
      this.editorHost,
    );
  }

  show(path: string, model: MonacoEditor.ITextModel, conflict: Conflict): void {
    const { upstream } = conflict;
    // Under a change request, theirs may be the deploy branch's version, which its save takes in.
    const branch = upstream.from?.branch ?? this.options.branch;
    const at = upstream.from?.commit ?? upstream.commit;
    this.shown = { model, conflict };
    this.theirs?.dispose();
    this.theirs = this.monaco.editor.createModel(upstream.content ?? '', model.getLanguageId());
    this.diffEditor ??= this.monaco.editor.createDiffEditor(this.editorHost, {
      automaticLayout: true,
      theme: this.options.dark ? 'vs-dark' : 'vs',
      originalEditable: false,
      renderSideBySide: true,
      useInlineViewWhenSpaceIsLimited: false,
      ignoreTrimWhitespace: false,
      autoSurround: 'never', // see the editor's options in editorPane.ts
      minimap: { enabled: false },
      fontSize: 14,
      originalAriaLabel: 'Their version on the branch (read-only)',
      modifiedAriaLabel: 'Your version (editable)',
    });
    this.diffEditor.setModel({ original: this.theirs, modified: model });
    this.title.textContent =
      upstream.content === null
        ? `${path} was deleted on ${branch} (at ${shortSha(at)}) while you edited it. Saving recreates it.`
        : `${path} changed on ${branch} (now at ${shortSha(at)}) while you edited it.`;
    this.theirsLabel.textContent = `Theirs: ${branch} at ${shortSha(at)}`;
    this.element.hidden = false;
    this.diffEditor.getModifiedEditor().focus();
  }

  hide(): void {
    this.element.hidden = true;
    this.shown = undefined;
    this.diffEditor?.setModel(null);
    this.theirs?.dispose();
    this.theirs = undefined;
  }

  dispose(): void {
    this.hide();
    this.diffEditor?.dispose();
  }

  /** Replaces the user's side with theirs or with what they tried to save (undoable). */
  private take(which: 'theirs' | 'mine'): void {
    if (!this.shown) return;
    const { model, conflict } = this.shown;
    const text = which === 'theirs' ? (conflict.upstream.content ?? '') : conflict.mine;
    model.pushEditOperations([], [{ range: model.getFullModelRange(), text }], () => null);
    this.diffEditor?.getModifiedEditor().focus();
  }
}
