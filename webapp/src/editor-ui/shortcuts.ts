/** The keyboard shortcuts, listed in a dialog from the status bar. */
import { panelDialog } from './dialogs';
import { h } from './dom';

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

export function showShortcuts(): Promise<void> {
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

/**
 * The window's Ctrl+S (⌘+S) handler: `save` runs unless a dialog is open, and the browser's
 * own save never does.
 */
export function saveShortcut(save: () => void, modalOpen: () => boolean) {
  return (event: KeyboardEvent): void => {
    if (!isSaveKey(event)) return;
    event.preventDefault();
    event.stopPropagation();
    if (!modalOpen()) save();
  };
}

/** Whether `event` is Ctrl+S (⌘+S on a Mac). */
export function isSaveKey(event: KeyboardEvent): boolean {
  return (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 's';
}
