/**
 * One message at a time above the status bar: errors and warnings are announced as alerts,
 * the rest politely. It floats over the editor, so showing one never moves the layout.
 */
import { h, replaceChildren } from './dom';
import type { Message } from './messages';

export interface NoticeAction {
  label: string;
  run: () => void;
}

export class Notices {
  readonly element = h('div', { class: 'notices' });
  private readonly polite = h('div', { class: 'sr-only', attrs: { 'aria-live': 'polite' } });
  private readonly assertive = h('div', { class: 'sr-only', attrs: { 'aria-live': 'assertive' } });

  constructor() {
    this.element.append(this.polite, this.assertive);
  }

  show(message: Message, actions: NoticeAction[] = []): void {
    this.clear();
    const close = h('button', {
      class: 'icon-button notice-close',
      text: '×',
      attrs: { type: 'button', 'aria-label': 'Dismiss message' },
      on: { click: () => this.clear() },
    });
    const notice = h(
      'div',
      { class: `notice notice-${message.kind}`, attrs: { 'data-kind': message.kind } },
      h(
        'div',
        { class: 'notice-text' },
        h('strong', { class: 'notice-title', text: message.title }),
        message.detail ? h('span', { class: 'notice-detail', text: message.detail }) : null,
      ),
      ...actions.map((action) =>
        h('button', {
          class: 'button small',
          text: action.label,
          attrs: { type: 'button' },
          on: {
            click: () => {
              this.clear();
              action.run();
            },
          },
        }),
      ),
      close,
    );
    this.element.append(notice);
    const announcement = message.detail ? `${message.title} ${message.detail}` : message.title;
    const region =
      message.kind === 'error' || message.kind === 'warning' ? this.assertive : this.polite;
    region.textContent = announcement;
  }

  clear(): void {
    replaceChildren(this.element, this.polite, this.assertive);
    this.polite.textContent = '';
    this.assertive.textContent = '';
  }
}
