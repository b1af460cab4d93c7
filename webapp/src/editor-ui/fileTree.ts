/**
 * The file list: folders that open on demand (a 10,000-file repository renders only what is
 * open), a filter that searches every path, and on each file a lock with the reason when the
 * signed-in user may not change it and a dot when the browser holds unsaved changes for it.
 * Folders open at first and filter results come first by the editable scope, whatever the role.
 */
import type { Access } from './access';
import { h, lockIcon, replaceChildren, srOnly } from './dom';
import { basename } from './paths';
import { buildTree, filterFiles, initiallyOpen, type Folder, type TreeFile } from './tree';

const FILTER_LIMIT = 200;

export interface FileTreeOptions {
  onOpen: (path: string) => void;
  /** Paths with unsaved changes kept in the browser. */
  drafted: () => Set<string>;
  /** Whether the signed-in user may change a file, and if not, why (access.ts). */
  access: (file: TreeFile) => Access;
}

export class FileTree {
  readonly element: HTMLElement;
  private readonly filter = h('input', {
    class: 'input filter',
    attrs: {
      id: 'file-filter',
      type: 'search',
      placeholder: 'Filter files',
      'aria-label': 'Filter files',
      autocomplete: 'off',
      spellcheck: 'false',
    },
  });
  private readonly host = h('div', { class: 'tree', attrs: { 'aria-busy': 'true' } });
  private files = new Map<string, TreeFile>();
  private openFolders: Set<string> | undefined;
  private current: string | undefined;

  constructor(private readonly options: FileTreeOptions) {
    this.filter.addEventListener('input', () => this.render());
    this.filter.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.filter.value !== '') {
        this.filter.value = '';
        this.render();
      }
    });
    this.element = h(
      'nav',
      { class: 'sidebar', attrs: { 'aria-label': 'Files' } },
      h('div', { class: 'sidebar-head' }, h('h2', { text: 'Files' }), this.filter),
      this.host,
    );
  }

  get(path: string): TreeFile | undefined {
    return this.files.get(path);
  }

  setFiles(files: TreeFile[]): void {
    this.files = new Map(files.map((f) => [f.path, f]));
    this.host.setAttribute('aria-busy', 'false');
    this.render();
  }

  /** Shown when the list could not be loaded and there is none to show. */
  showProblem(retry: () => void): void {
    if (this.files.size > 0) return;
    replaceChildren(
      this.host,
      h('p', { class: 'muted', text: 'The file list could not be loaded.' }),
      h('button', {
        class: 'button small',
        text: 'Try again',
        attrs: { type: 'button' },
        on: { click: retry },
      }),
    );
  }

  /** Marks the file open in the editor. */
  setCurrent(path: string | undefined): void {
    this.current = path;
    for (const el of this.host.querySelectorAll<HTMLButtonElement>('button.file')) {
      if (el.dataset.path === path) el.setAttribute('aria-current', 'true');
      else el.removeAttribute('aria-current');
    }
  }

  render(): void {
    const files = [...this.files.values()];
    const drafted = this.options.drafted();
    const query = this.filter.value.trim();
    if (query) {
      const { matches, total } = filterFiles(files, query, FILTER_LIMIT);
      replaceChildren(
        this.host,
        matches.length === 0
          ? h('p', { class: 'muted', text: 'No file matches.' })
          : h(
              'ul',
              { class: 'tree-list flat' },
              ...matches.map((f) => h('li', {}, this.fileButton(f, drafted, true))),
            ),
        total > matches.length
          ? h('p', { class: 'muted', text: `${total - matches.length} more; type more to narrow.` })
          : null,
      );
      return;
    }
    const root = buildTree(files);
    this.openFolders ??= initiallyOpen(root);
    replaceChildren(
      this.host,
      files.length === 0
        ? h('p', { class: 'muted', text: 'The repository is empty.' })
        : this.folderList(root, drafted),
    );
  }

  private folderList(folder: Folder, drafted: Set<string>): HTMLUListElement {
    const list = h('ul', { class: 'tree-list' });
    for (const child of folder.folders) {
      const details = h(
        'details',
        { attrs: { 'data-folder': child.path } },
        h('summary', { class: child.hasEditable ? 'folder' : 'folder readonly', text: child.name }),
      );
      let rendered = false;
      const fill = () => {
        if (rendered) return;
        rendered = true;
        details.append(this.folderList(child, drafted));
      };
      if (this.openFolders?.has(child.path)) {
        details.open = true;
        fill();
      }
      details.addEventListener('toggle', () => {
        if (details.open) {
          fill();
          this.openFolders?.add(child.path);
        } else {
          this.openFolders?.delete(child.path);
        }
      });
      list.append(h('li', {}, details));
    }
    for (const file of folder.files)
      list.append(h('li', {}, this.fileButton(file, drafted, false)));
    return list;
  }

  private fileButton(file: TreeFile, drafted: Set<string>, fullPath: boolean): HTMLButtonElement {
    const { editable, reason = '' } = this.options.access(file);
    return h(
      'button',
      {
        class: editable ? 'file' : 'file readonly',
        attrs: {
          type: 'button',
          'data-path': file.path,
          title: editable ? file.path : `${file.path} — read-only: ${reason}`,
          'aria-current': this.current === file.path ? 'true' : undefined,
        },
        on: { click: () => this.options.onOpen(file.path) },
      },
      h('span', { class: 'file-name', text: fullPath ? file.path : basename(file.path) }),
      editable
        ? null
        : h(
            'span',
            { class: 'lock-marker', attrs: { title: reason } },
            lockIcon(),
            srOnly(`read-only: ${reason}`),
          ),
      drafted.has(file.path)
        ? h(
            'span',
            { class: 'draft-marker', attrs: { title: 'Unsaved changes in this browser' } },
            '●',
            srOnly('unsaved changes'),
          )
        : null,
    );
  }
}
