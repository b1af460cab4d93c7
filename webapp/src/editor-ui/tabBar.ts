/**
 * The strip of open files, rendered from the tabs state: one button per file (plain buttons,
 * not ARIA tabs: each also has its own close button), a lock on read-only files and a dot on
 * unsaved ones. Arrow keys, Home and End move between open files; Delete closes one.
 */
import { h, lockIcon, replaceChildren, srOnly } from './dom';
import { basename } from './paths';
import { emptyTabs, type Tab, type TabsState } from './tabs';

export interface TabBarActions {
  activate: (path: string, options: { focus: boolean }) => void;
  close: (path: string) => void;
}

interface TabElements {
  element: HTMLElement;
  label: HTMLButtonElement;
}

export class TabBar {
  readonly element = h('nav', { class: 'tabs', attrs: { 'aria-label': 'Open files' } });
  private readonly shown = new Map<string, TabElements>();
  private state: TabsState = emptyTabs();

  constructor(private readonly actions: TabBarActions) {
    this.element.addEventListener('keydown', (event) => this.keys(event));
  }

  render(state: TabsState): void {
    this.state = state;
    for (const [path, { element }] of this.shown) {
      if (state.tabs.some((t) => t.path === path)) continue;
      element.remove();
      this.shown.delete(path);
    }
    for (const tab of state.tabs) this.renderTab(tab, tab.path === state.active);
  }

  /** Marks the tabs of files someone else has open; `others`: what to say, by path. */
  markOthers(others: ReadonlyMap<string, string>): void {
    for (const [path, { element }] of this.shown) {
      const said = others.get(path) ?? '';
      let mark = element.querySelector<HTMLElement>('.tab-others');
      if (said === '') {
        mark?.remove();
        continue;
      }
      if (!mark) {
        mark = h('span', { class: 'tab-others', attrs: { role: 'img' } }, '👥');
        element.insertBefore(mark, element.lastChild);
      }
      mark.title = said;
      mark.setAttribute('aria-label', said);
    }
  }

  /** Moves the keyboard focus to the active tab's button. */
  focusActive(): void {
    if (this.state.active !== undefined) this.shown.get(this.state.active)?.label.focus();
  }

  private renderTab(tab: Tab, selected: boolean): void {
    const { element, label } = this.elementsOf(tab.path);
    element.classList.toggle('active', selected);
    element.classList.toggle('dirty', tab.dirty);
    element.classList.toggle('readonly', !tab.editable);
    if (selected) label.setAttribute('aria-current', 'true');
    else label.removeAttribute('aria-current');
    replaceChildren(
      label,
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

  private elementsOf(path: string): TabElements {
    const known = this.shown.get(path);
    if (known) return known;
    const label = h('button', {
      class: 'tab-label',
      attrs: { type: 'button', title: path },
      on: {
        click: () => this.actions.activate(path, { focus: true }),
        auxclick: (event) => {
          if (event.button === 1) this.actions.close(path);
        },
      },
    });
    const close = h('button', {
      class: 'tab-close',
      text: '×',
      attrs: { type: 'button', 'aria-label': `Close ${basename(path)}`, title: 'Close' },
      on: { click: () => this.actions.close(path) },
    });
    const created = {
      element: h('div', { class: 'tab', attrs: { 'data-path': path } }, label, close),
      label,
    };
    this.shown.set(path, created);
    this.element.append(created.element);
    return created;
  }

  private keys(event: KeyboardEvent): void {
    const tabs = this.state.tabs;
    const current = tabs.findIndex((t) => this.shown.get(t.path)?.label === document.activeElement);
    if (current === -1) return;
    let next: number | undefined;
    if (event.key === 'ArrowRight') next = (current + 1) % tabs.length;
    else if (event.key === 'ArrowLeft') next = (current - 1 + tabs.length) % tabs.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = tabs.length - 1;
    else if (event.key === 'Delete') {
      event.preventDefault();
      this.actions.close(tabs[current]!.path);
      this.focusActive();
      return;
    }
    if (next === undefined) return;
    event.preventDefault();
    this.actions.activate(tabs[next]!.path, { focus: false });
    this.focusActive();
  }
}
