/** The bar above the editor: the active file's path and state, Discard and Review and save. */
import { h, lockIcon, replaceChildren } from './dom';
import type { FileBarView } from './tabs';

export class FileBar {
  readonly element: HTMLElement;
  private readonly path = h('span', { class: 'file-path' });
  private readonly state = h('span', { class: 'file-state' });
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

  constructor(actions: { save: () => void; discard: () => void }) {
    this.saveButton.addEventListener('click', actions.save);
    this.discardButton.addEventListener('click', actions.discard);
    this.element = h(
      'div',
      { class: 'file-bar' },
      this.path,
      this.state,
      h('span', { class: 'spacer' }),
      this.discardButton,
      this.saveButton,
    );
  }

  render(view: FileBarView): void {
    this.path.textContent = view.path;
    replaceChildren(this.state, view.state === 'readonly' ? lockIcon() : null, view.text);
    this.state.dataset.state = view.state;
    this.saveButton.textContent = view.saveLabel;
    this.saveButton.disabled = !view.canSave;
    this.saveButton.hidden = view.saveHidden;
    this.discardButton.hidden = view.discardHidden;
  }
}
