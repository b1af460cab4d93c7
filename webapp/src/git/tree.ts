/**
 * A commit's files as git lists them, and what their modes mean. File modes are git's
 * business: the layers above ask whether an entry is a regular file, or why it is not.
 */
import { createHash } from 'node:crypto';

/** Git's file modes, by what they stand for. */
export const FILE_MODE = {
  file: '100644',
  executable: '100755',
  symlink: '120000',
  submodule: '160000',
} as const;

export interface TreeEntry {
  path: string;
  /** One of FILE_MODE's values. */
  mode: string;
  blob: string;
  size: number;
}

/** Parses one record of `git ls-tree -l -z`: `<mode> <type> <id> <size>\t<path>`. */
export function parseTreeRecord(record: string): (TreeEntry & { type: string }) | undefined {
  if (!record) return undefined;
  const tab = record.indexOf('\t');
  const [mode, type, blob, size] = record.slice(0, tab).split(/ +/);
  return {
    path: record.slice(tab + 1),
    mode: mode!,
    type: type!,
    blob: blob!,
    size: size === '-' ? 0 : Number(size),
  };
}

/** Why an entry is not a plain file the editor may read or write, or undefined when it is. */
export function notRegular(entry: TreeEntry): 'symbolic link' | 'submodule' | undefined {
  if (entry.mode === FILE_MODE.symlink) return 'symbolic link';
  if (entry.mode === FILE_MODE.submodule) return 'submodule';
  return undefined;
}

/**
 * The entries of a tree that can never be edited for what they are, with the reason: links,
 * submodules, and anything beneath a link (a write there would land outside the tree).
 */
export function structuralLocks(entries: Iterable<TreeEntry>): Map<string, string> {
  const all = [...entries];
  const linkDirs = all.filter((e) => e.mode === FILE_MODE.symlink).map((e) => e.path + '/');
  const locks = new Map<string, string>();
  for (const entry of all) {
    const own = notRegular(entry);
    const below = own ? undefined : linkDirs.find((dir) => entry.path.startsWith(dir));
    if (own) locks.set(entry.path, own);
    else if (below) locks.set(entry.path, `beneath symbolic link ${below.slice(0, -1)}`);
  }
  return locks;
}

/** Git's object id of a blob (SHA-1 repositories; SHA-256 ones never match, so never skip). */
export function blobId(content: Buffer, idLength: number): string | undefined {
  if (idLength !== 40) return undefined;
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}
