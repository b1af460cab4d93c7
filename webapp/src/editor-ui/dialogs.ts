/**
 * Modal dialogs on the native <dialog> element: focus moves in and is trapped, Escape
 * cancels, and focus returns where it was when the dialog closes.
 */
import { h } from './dom';
import type { DiffResult } from '../api/contract';
import { parseUnifiedDiff } from './format';

let dialogIds = 0;

interface ModalParts {
  dialog: HTMLDialogElement;
  titleId: string;
}

function modal(className: string, title: string): ModalParts {
  const titleId = `dialog-title-${++dialogIds}`;
  const dialog = h('dialog', {
    class: `modal ${className}`,
    attrs: { 'aria-labelledby': titleId },
  });
  dialog.append(h('h2', { text: title, attrs: { id: titleId } }));
  return { dialog, titleId };
}

/** Shows `dialog`, resolves with what `settle` was called with once it closes. */
function run<T>(
  dialog: HTMLDialogElement,
  wire: (settle: (value: T | undefined) => void) => void,
): Promise<T | undefined> {
  const returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  return new Promise((resolve) => {
    let result: T | undefined;
    const settle = (value: T | undefined) => {
      result = value;
      dialog.close();
    };
    dialog.addEventListener('close', () => {
      dialog.remove();
      returnFocus?.focus();
      resolve(result);
    });
    wire(settle);
    document.body.append(dialog);
    dialog.showModal();
  });
}

export interface ConfirmOptions {
  title: string;
  body: (string | Node)[];
  confirmLabel: string;
  danger?: boolean;
}

export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  const { dialog } = modal('confirm', options.title);
  const confirm = h('button', {
    class: options.danger ? 'button danger' : 'button primary',
    text: options.confirmLabel,
    attrs: { type: 'button' },
  });
  const cancel = h('button', { class: 'button', text: 'Cancel', attrs: { type: 'button' } });
  dialog.append(
    h(
      'div',
      { class: 'modal-body' },
      ...options.body.map((b) => (typeof b === 'string' ? h('p', { text: b }) : b)),
    ),
    h('div', { class: 'modal-actions' }, cancel, confirm),
  );
  return run<boolean>(dialog, (settle) => {
    confirm.addEventListener('click', () => settle(true));
    cancel.addEventListener('click', () => settle(false));
    queueMicrotask(() => cancel.focus());
  }).then((v) => v === true);
}

export interface ReviewOptions {
  path: string;
  diff: DiffResult;
  defaultMessage: string;
  branch: string;
}

/** The review step before a commit: the diff against the branch and an optional message. */
export function reviewDialog(options: ReviewOptions): Promise<{ message: string } | undefined> {
  const { dialog } = modal('review', `Review changes to ${options.path}`);
  const parsed = parseUnifiedDiff(options.diff.diff);
  const messageId = `commit-message-${dialogIds}`;
  const message = h('input', {
    class: 'input',
    attrs: {
      id: messageId,
      type: 'text',
      name: 'message',
      maxlength: 4000,
      placeholder: options.defaultMessage,
      autocomplete: 'off',
    },
  });
  const commit = h('button', {
    class: 'button primary',
    text: `Commit and push to ${options.branch}`,
    attrs: { type: 'submit' },
  });
  const cancel = h('button', { class: 'button', text: 'Cancel', attrs: { type: 'button' } });
  const diffView = h(
    'pre',
    { class: 'diff', attrs: { tabindex: 0, 'aria-label': `Changes to ${options.path}` } },
    ...parsed.lines.map((line) =>
      h('span', { class: `diff-line diff-${line.kind}`, text: line.text }),
    ),
  );
  const form = h(
    'form',
    { class: 'modal-body' },
    h(
      'p',
      { class: 'diff-stats' },
      h('span', { class: 'added', text: `+${parsed.added}` }),
      ' ',
      h('span', { class: 'removed', text: `−${parsed.removed}` }),
      ` against ${options.branch} at ${options.diff.commit.slice(0, 7)}`,
    ),
    options.diff.changedUpstream
      ? h('p', {
          class: 'callout warning',
          text: `${options.path} changed on ${options.branch} since you opened it. Saving will show both versions so you can merge them.`,
        })
      : null,
    diffView,
    h('label', {
      class: 'field-label',
      text: 'Commit message (optional)',
      attrs: { for: messageId },
    }),
    message,
    h('p', { class: 'hint', text: 'Ctrl+Enter (⌘+Enter on a Mac) commits.' }),
    h('div', { class: 'modal-actions' }, cancel, commit),
  );
  dialog.append(form);
  return run<{ message: string }>(dialog, (settle) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      settle({ message: message.value.trim() });
    });
    cancel.addEventListener('click', () => settle(undefined));
    dialog.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    queueMicrotask(() => message.focus());
  });
}

/** Asks for a new change request's title and description; `problem` checks the title. */
export function changeRequestDialog(
  branch: string,
  problem: (title: string) => string | undefined,
): Promise<{ title: string; description: string } | undefined> {
  const { dialog } = modal('new-change', 'New change request');
  const titleId = `change-title-${dialogIds}`;
  const descriptionId = `change-description-${dialogIds}`;
  const title = h('input', {
    class: 'input',
    attrs: { id: titleId, type: 'text', name: 'title', maxlength: 200, autocomplete: 'off' },
  });
  const description = h('textarea', {
    class: 'input',
    attrs: { id: descriptionId, name: 'description', rows: 4 },
  });
  const error = h('p', { class: 'field-error', attrs: { role: 'alert', hidden: true } });
  const create = h('button', {
    class: 'button primary',
    text: 'Create',
    attrs: { type: 'submit' },
  });
  const cancel = h('button', { class: 'button', text: 'Cancel', attrs: { type: 'button' } });
  const form = h(
    'form',
    { class: 'modal-body' },
    h('p', {
      text: `Your saves go to a branch of their own, with a preview of the site, until someone who may publish brings them into ${branch}. Unsaved changes you made on ${branch} go with it.`,
    }),
    h('label', { class: 'field-label', text: 'Title', attrs: { for: titleId } }),
    title,
    h('label', {
      class: 'field-label',
      text: 'Description (optional)',
      attrs: { for: descriptionId },
    }),
    description,
    error,
    h('div', { class: 'modal-actions' }, cancel, create),
  );
  dialog.append(form);
  return run<{ title: string; description: string }>(dialog, (settle) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const why = problem(title.value);
      error.textContent = why ?? '';
      error.hidden = why === undefined;
      if (why === undefined)
        settle({ title: title.value.trim(), description: description.value.trim() });
    });
    cancel.addEventListener('click', () => settle(undefined));
    queueMicrotask(() => title.focus());
  });
}

/** A dialog whose content the caller fills; resolves when it closes. */
export function panelDialog(
  className: string,
  title: string,
  fill: (body: HTMLElement, close: () => void) => void,
): Promise<void> {
  const { dialog } = modal(className, title);
  const body = h('div', { class: 'modal-body' });
  const close = h('button', { class: 'button', text: 'Close', attrs: { type: 'button' } });
  dialog.append(body, h('div', { class: 'modal-actions' }, close));
  return run<void>(dialog, (settle) => {
    close.addEventListener('click', () => settle(undefined));
    fill(body, () => settle(undefined));
    queueMicrotask(() => close.focus());
  }).then(() => undefined);
}

export function isModalOpen(): boolean {
  return document.querySelector('dialog[open]') !== null;
}

/** Cancels every open dialog (the page behind them is going away). */
export function closeDialogs(): void {
  for (const dialog of document.querySelectorAll('dialog[open]')) {
    if (dialog instanceof HTMLDialogElement) dialog.close();
  }
}
