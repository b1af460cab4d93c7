/**
 * Merges in the instance's bare clone, nothing checked out: the common ancestor of two
 * commits, one text merged three-way (a save whose file moved meanwhile), and two trees merged
 * (publishing a change request). Each is an answer, never a thrown conflict.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Plumbing } from './exec';

/** What git made of merging two versions of a text. */
export interface TextMerge {
  clean: boolean;
  /** The merged text; with conflict markers when not clean. */
  text: string;
}

export type TreeMerge = { tree: string; conflicts: [] } | { tree: undefined; conflicts: string[] };

export class GitMerges {
  /** `scratchDir`: a private folder of the clone, for the versions `text` compares. */
  constructor(
    private readonly git: Plumbing,
    private readonly scratchDir: string,
  ) {}

  /** The best common ancestor of two commits, or undefined when they share none. */
  async base(a: string, b: string): Promise<string | undefined> {
    const { exitCode, stdout } = await this.git.status(['merge-base', a, b], [1]);
    return exitCode === 0 ? stdout.toString().trim() : undefined;
  }

  /**
   * Three-way merge of one text (`git merge-file`): the changes from `base` to `ours` and from
   * `base` to `theirs`, combined when they do not overlap. The three versions are written to a
   * private folder of this clone (names of our own, never a path from a request).
   */
  async text(base: Buffer, ours: Buffer, theirs: Buffer): Promise<TextMerge> {
    const dir = path.join(this.scratchDir, `merge-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    try {
      const files = ['ours', 'base', 'theirs'].map((name) => path.join(dir, name));
      await Promise.all([ours, base, theirs].map((text, i) => writeFile(files[i]!, text)));
      // The exit status is the number of conflicts (capped at 127); negative ones are errors.
      const { exitCode, stdout } = await this.git.status(
        ['merge-file', '-p', '-L', 'yours', '-L', 'base', '-L', 'theirs', ...files],
        Array.from({ length: 127 }, (_, i) => i + 1),
        dir,
      );
      return { clean: exitCode === 0, text: stdout.toString('utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Merges the tree of `theirs` into `ours` (`git merge-tree --write-tree`): the merged tree,
   * or the paths that conflict.
   */
  async trees(ours: string, theirs: string): Promise<TreeMerge> {
    const { exitCode, stdout } = await this.git.status(
      ['merge-tree', '--write-tree', '--name-only', '--no-messages', ours, theirs],
      [1],
    );
    const [tree, ...conflicts] = stdout.toString('utf8').trim().split('\n');
    if (exitCode === 0) return { tree: tree!, conflicts: [] };
    return { tree: undefined, conflicts: [...new Set(conflicts.filter(Boolean))] };
  }
}
