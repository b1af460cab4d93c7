/**
 * The workbench's frame: the top bar, the banners that stay while they are true (a viewer's
 * account, an editable scope that reaches the platform), and where each part goes. The parts
 * render themselves; this only places them.
 */
import type { EditorSettings, SessionUser } from '../api/contract';
import { beyondSite, canWrite } from './access';
import { h } from './dom';

export interface LayoutParts {
  user: SessionUser;
  settings: EditorSettings;
  headLabel: HTMLElement;
  /** The change request the workbench is on, and the way back to the deploy branch. */
  change?: { title: string; branch: string; leave: () => void } | undefined;
  showReleases: () => void;
  signOut: () => void;
  showShortcuts: () => void;
  tree: HTMLElement;
  tabBar: HTMLElement;
  fileBar: HTMLElement;
  /** The empty state, the editor, the merge view and the notices, stacked. */
  stack: HTMLElement[];
  status: HTMLElement[];
  side: HTMLElement[];
}

export function workbenchLayout(parts: LayoutParts): HTMLElement {
  const button = (text: string, click: () => void) =>
    h('button', { class: 'button', text, attrs: { type: 'button' }, on: { click } });
  const { user, settings, change } = parts;
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip-link', text: 'Skip to the editor', attrs: { href: '#editor-main' } }),
    h('span', { class: 'brand', text: 'Reflex' }),
    h(
      'span',
      { class: 'repo' },
      h('span', { text: change?.branch ?? settings.branch }),
      ' @ ',
      parts.headLabel,
    ),
    change
      ? h(
          'span',
          { class: 'on-change', attrs: { 'data-change-title': change.title } },
          'Change request: ',
          h('strong', { text: change.title }),
          ' ',
          button(`Back to ${settings.branch}`, change.leave),
        )
      : null,
    h('span', { class: 'spacer' }),
    button('Releases', parts.showReleases),
    h(
      'span',
      { class: 'user' },
      h('span', { class: 'user-name', text: user.name || user.username }),
      h('span', {
        class: `badge role-${user.role}`,
        text: user.role,
        attrs: { 'data-role': user.role },
      }),
    ),
    button('Sign out', parts.signOut),
  );
  const main = h(
    'main',
    { class: 'editor-area', attrs: { id: 'editor-main', tabindex: -1, 'aria-label': 'Editor' } },
    parts.tabBar,
    parts.fileBar,
    h('div', { class: 'editor-stack' }, ...parts.stack),
    h(
      'div',
      { class: 'statusbar' },
      ...parts.status,
      h('span', { class: 'spacer' }),
      h('button', {
        class: 'link-button',
        text: 'Keyboard shortcuts',
        attrs: { type: 'button' },
        on: { click: parts.showShortcuts },
      }),
    ),
  );
  const side = h(
    'aside',
    { class: 'side', attrs: { 'aria-label': 'Pipeline and history' } },
    ...parts.side,
  );
  return h(
    'div',
    { class: 'workbench' },
    header,
    ...banners(user, settings),
    h('div', { class: 'layout' }, parts.tree, main, side),
  );
}

function banners(user: SessionUser, settings: EditorSettings): HTMLElement[] {
  const shown: HTMLElement[] = [];
  if (settings.wideScope) {
    const globs = beyondSite(settings.editable);
    const named = globs.length > 0 ? ` (${globs.join(', ')})` : '';
    shown.push(
      h('p', {
        class: 'banner scope-platform',
        attrs: { role: 'note', 'data-scope': 'platform' },
        text: `Editable beyond the site${named}: a save there can change the platform itself (the editor, its API, how the app is built and tested), not only the site.`,
      }),
    );
  }
  if (!canWrite(user.role)) {
    shown.push(
      h('p', {
        class: 'banner',
        attrs: { role: 'note' },
        text: 'You are signed in as a viewer: you can read files, the pipeline and the releases, but not change them.',
      }),
    );
  }
  return shown;
}

/** What the editor says when no file is open. */
export function emptyState(user: SessionUser, settings: EditorSettings): HTMLElement {
  return h(
    'div',
    { class: 'empty-state' },
    h('h2', { text: 'No file open' }),
    h('p', { text: 'Choose a file from the list on the left.' }),
    canWrite(user.role)
      ? h('p', {
          class: 'muted',
          text: `Files you can change: ${settings.editable.join(', ')}. Others are read-only (marked with a lock).`,
        })
      : null,
  );
}
