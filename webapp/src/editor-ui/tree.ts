/** The file list of `GET /api/tree` as folders and files, and filtering it. Pure, no DOM. */
import type { TreeFile } from '../api/contract';

export interface Folder {
  name: string;
  /** The folder's path from the repository root ('' for the root). */
  path: string;
  folders: Folder[];
  files: TreeFile[];
  /** Whether any file below is editable. */
  hasEditable: boolean;
}

const byName = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Folders first, then files, each sorted by name the way people sort (2 before 10). */
export function buildTree(files: readonly TreeFile[]): Folder {
  const root: Folder = { name: '', path: '', folders: [], files: [], hasEditable: false };
  const index = new Map<string, Folder>([['', root]]);
  const folderFor = (folderPath: string): Folder => {
    const known = index.get(folderPath);
    if (known) return known;
    const slash = folderPath.lastIndexOf('/');
    const parent = folderFor(slash === -1 ? '' : folderPath.slice(0, slash));
    const folder: Folder = {
      name: folderPath.slice(slash + 1),
      path: folderPath,
      folders: [],
      files: [],
      hasEditable: false,
    };
    parent.folders.push(folder);
    index.set(folderPath, folder);
    return folder;
  };
  for (const file of files) {
    const slash = file.path.lastIndexOf('/');
    const folder = folderFor(slash === -1 ? '' : file.path.slice(0, slash));
    folder.files.push(file);
  }
  const sort = (folder: Folder) => {
    folder.folders.sort((a, b) => byName.compare(a.name, b.name));
    folder.files.sort((a, b) => byName.compare(a.path, b.path));
    folder.folders.forEach(sort);
    folder.hasEditable =
      folder.files.some((f) => f.editable) || folder.folders.some((f) => f.hasEditable);
  };
  sort(root);
  return root;
}

/**
 * Files whose path contains every word of `query` (case-insensitive), editable ones first,
 * at most `limit` of them; `total` is how many matched.
 */
export function filterFiles(
  files: readonly TreeFile[],
  query: string,
  limit: number,
): { matches: TreeFile[]; total: number } {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { matches: [], total: 0 };
  const hits = files.filter((f) => {
    const p = f.path.toLowerCase();
    return words.every((w) => p.includes(w));
  });
  hits.sort((a, b) => Number(b.editable) - Number(a.editable) || byName.compare(a.path, b.path));
  return { matches: hits.slice(0, limit), total: hits.length };
}

/** Folders to show open at first: those leading to editable files, when there are few of them. */
export function initiallyOpen(root: Folder, maxEditable = 200): Set<string> {
  const open = new Set<string>();
  let editable = 0;
  const walk = (folder: Folder) => {
    editable += folder.files.filter((f) => f.editable).length;
    for (const child of folder.folders) {
      if (child.hasEditable) {
        open.add(child.path);
        walk(child);
      }
    }
  };
  walk(root);
  return editable <= maxEditable ? open : new Set();
}
