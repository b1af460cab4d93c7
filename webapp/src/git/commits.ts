/**
 * Commits built in the instance's bare clone, never pushed here (the workspace pushes): a
 * save's one-file commit (`git fast-import`), and commits of a whole tree (`git commit-tree`):
 * a merge of two trees, a rollback to an earlier commit's tree, the first commit of a change
 * request.
 */
import type { Plumbing } from './exec';
import { fastImportScript, type OneFileCommit, type Person } from './fastImport';

export class GitCommits {
  constructor(
    private readonly git: Plumbing,
    private readonly committer: Person,
  ) {}

  /**
   * A commit on `parent` that writes `content` at `path`, or removes `path` when content is
   * null. One `git fast-import` writes the blob, the trees and the commit and reports their ids
   * (a save spends most of its time starting git processes). Small imports are stored as loose
   * objects (`fastimport.unpackLimit`), so saves leave no packs behind. `branch`'s ref moves to
   * the new commit at once (one process less per save).
   */
  async oneFile(
    change: Omit<OneFileCommit, 'committer' | 'when'>,
  ): Promise<{ commit: string; blob: string | undefined }> {
    const out = (
      await this.git.run(
        ['-c', 'fastimport.unpackLimit=100', 'fast-import', '--quiet', '--force', '--done'],
        {
          input: fastImportScript({
            ...change,
            committer: this.committer,
            when: Math.floor(Date.now() / 1000),
          }),
        },
      )
    )
      .toString()
      .trim()
      .split('\n');
    return { commit: out.at(-1)!, blob: change.content === null ? undefined : out[0] };
  }

  /** A commit of `tree` with `parents` (a merge has two), authored by `author`. */
  async ofTree(
    tree: string,
    parent: string | readonly string[],
    author: Person,
    message: string,
  ): Promise<string> {
    const parents = (typeof parent === 'string' ? [parent] : parent).flatMap((p) => ['-p', p]);
    const identity = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: this.committer.name,
      GIT_COMMITTER_EMAIL: this.committer.email,
    };
    return (
      await this.git.run(['commit-tree', tree, ...parents, '-F', '-'], {
        env: { ...this.git.env, ...identity },
        input: message.endsWith('\n') ? message : `${message}\n`,
      })
    )
      .toString()
      .trim();
  }

  /** A commit on `parent` whose tree is exactly `sourceCommit`'s (a rollback). */
  async restoring(
    parent: string,
    sourceCommit: string,
    author: Person,
    message: string,
  ): Promise<string> {
    const tree = (await this.git.run(['rev-parse', `${sourceCommit}^{tree}`])).toString().trim();
    return this.ofTree(tree, parent, author, message);
  }
}
