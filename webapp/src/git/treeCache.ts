/**
 * Listings of commits' trees, kept for the few commits asked about most (the deploy branch's
 * head and a few change requests'). A commit's tree never changes, so a listing is never stale;
 * after our own push the new listing is derived from its parent's and the one change.
 */
import type { Plumbing } from './exec';
import { parseTreeRecord, type TreeEntry } from './tree';

/** What a pushed commit changed relative to its parent (lets the tree cache follow along). */
export interface TreeChange {
  parent: string;
  path: string;
  /** The new entry, or null for a removal. */
  entry: TreeEntry | null;
}

/** Trees kept per commit: the deploy branch's head and a few change requests'. */
const TREES_KEPT = 8;

export class TreeCache {
  /** Listings by commit, most recently used last. */
  private readonly trees = new Map<string, Map<string, TreeEntry>>();

  constructor(private readonly git: Plumbing) {}

  /** All files of `commit`, by path. */
  async list(commit: string): Promise<Map<string, TreeEntry>> {
    const cached = this.trees.get(commit);
    if (cached) {
      this.keep(commit, cached);
      return cached;
    }
    const out = await this.git.run(['ls-tree', '-r', '-l', '-z', '--full-tree', commit]);
    const entries = new Map<string, TreeEntry>();
    for (const record of out.toString('utf8').split('\0')) {
      const parsed = parseTreeRecord(record);
      if (parsed) entries.set(parsed.path, entryOf(parsed));
    }
    this.keep(commit, entries);
    return entries;
  }

  /** The entry at `path` in `commit`, or undefined; one `ls-tree` when the tree is not kept. */
  async entryAt(commit: string, filePath: string): Promise<TreeEntry | undefined> {
    const cached = this.trees.get(commit);
    if (cached) return cached.get(filePath);
    const out = await this.git.run(['ls-tree', '-l', '-z', commit, '--', filePath]);
    const parsed = parseTreeRecord(out.toString('utf8').split('\0')[0] ?? '');
    if (!parsed || (parsed.type !== 'blob' && parsed.type !== 'commit')) return undefined;
    return { ...entryOf(parsed), path: filePath };
  }

  /**
   * After our own push, derive the new listing from the old one and the one change, instead
   * of listing a large tree again.
   */
  advance(commit: string, change: TreeChange | undefined): void {
    const parent = change && this.trees.get(change.parent);
    if (!change || !parent) return;
    const entries = new Map(parent);
    if (change.entry) entries.set(change.entry.path, change.entry);
    else entries.delete(change.path);
    this.keep(commit, entries);
  }

  private keep(commit: string, entries: Map<string, TreeEntry>): void {
    this.trees.delete(commit);
    this.trees.set(commit, entries);
    if (this.trees.size > TREES_KEPT) this.trees.delete(this.trees.keys().next().value!);
  }
}

function entryOf(parsed: TreeEntry): TreeEntry {
  return { path: parsed.path, mode: parsed.mode, blob: parsed.blob, size: parsed.size };
}
