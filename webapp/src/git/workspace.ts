/**
 * The instance's own clone of the repository: a bare clone in a scratch folder, so there is
 * no working tree to keep in sync and no file on disk a request could reach through a
 * symlink. Commits are built with plumbing (commits.ts) on top of a branch as last fetched,
 * and pushed without force; merges are merge.ts's, listings treeCache.ts's. The deploy branch
 * (`branch`) is always there; other branches (change requests) are fetched when asked for,
 * and may not exist.
 *
 * Every method that touches refs or the index must run inside `exclusive` (one queue per
 * instance). Reads of immutable objects (blobs, trees of a given commit) need not.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SimpleGit } from 'simple-git';
import { DomainError } from '../errors';
import type { Logger } from '../logger';
import {
  gitEnvironment,
  installAskpass,
  redact,
  simpleGitFor,
  type GitCredentials,
} from './credentials';
import { GitCommandError, Plumbing } from './exec';
import type { OneFileCommit, Person } from './fastImport';
import { GitCommits } from './commits';
import { GitMerges } from './merge';
import { SerialQueue } from './queue';
import type { TreeEntry } from './tree';
import { TreeCache, type TreeChange } from './treeCache';

export type { Person } from './fastImport';
export type { TreeEntry } from './tree';

export interface CommitSummary {
  sha: string;
  author: Person;
  date: string;
  message: string;
}

export interface WorkspaceOptions {
  repoUrl: string;
  branch: string;
  /** Scratch folder to create the clone in; default: a new temporary folder, removed on close. */
  scratchDir?: string | undefined;
  credentials: GitCredentials;
  committer: Person;
  logger: Logger;
  /** Observes each push's duration in seconds. */
  onPush?: (seconds: number, ok: boolean) => void;
}

export type PushResult = { ok: true } | { ok: false; rejected: true; detail: string };

/** Where a branch is: as last fetched or pushed (`known`), and its local ref (`local`). */
interface BranchState {
  known: string | undefined;
  /** The known head, or a commit built and not yet pushed. */
  local: string | undefined;
}

export class GitWorkspace {
  readonly gitDir: string;
  readonly branch: string;
  /** Merges: a common ancestor, a text three-way, two trees. */
  readonly merges: GitMerges;
  /** Commits built, not pushed: a save's, a merge, a rollback. */
  readonly commits: GitCommits;
  private readonly queue = new SerialQueue();
  private readonly plumbing: Plumbing;
  private readonly git: SimpleGit;
  private readonly branches = new Map<string, BranchState>();
  private readonly trees: TreeCache;

  private constructor(
    private readonly options: WorkspaceOptions,
    private readonly scratchDir: string,
    private readonly ownsScratch: boolean,
    plumbing: Plumbing,
    head: string,
  ) {
    this.gitDir = plumbing.gitDir;
    this.branch = options.branch;
    this.plumbing = plumbing;
    this.merges = new GitMerges(plumbing, scratchDir);
    this.commits = new GitCommits(plumbing, options.committer);
    this.trees = new TreeCache(plumbing);
    this.branches.set(options.branch, { known: head, local: head });
    this.git = simpleGitFor(this.gitDir, plumbing.env);
  }

  /** Clones `repoUrl` at `branch` into a scratch folder. */
  static async clone(options: WorkspaceOptions): Promise<GitWorkspace> {
    const ownsScratch = !options.scratchDir;
    const scratchDir =
      options.scratchDir ?? (await mkdtemp(path.join(os.tmpdir(), 'reflex-workspace-')));
    await mkdir(scratchDir, { recursive: true, mode: 0o700 });
    const askpass = options.credentials.token ? await installAskpass(scratchDir) : undefined;
    const plumbing = new Plumbing(
      path.join(scratchDir, 'repo.git'),
      gitEnvironment(options.credentials, askpass),
      (text) => redact(text, [options.credentials.token]),
    );
    await rm(plumbing.gitDir, { recursive: true, force: true });
    const started = Date.now();
    try {
      await simpleGitFor(scratchDir, plumbing.env).clone(options.repoUrl, plumbing.gitDir, [
        '--bare',
        '--single-branch',
        '--branch',
        options.branch,
      ]);
    } catch (err) {
      throw new Error(
        `cannot clone ${plumbing.redact(options.repoUrl)} (branch ${options.branch}): ` +
          plumbing.redact((err as Error).message),
        { cause: err },
      );
    }
    const head = (await plumbing.run(['rev-parse', `refs/heads/${options.branch}`]))
      .toString()
      .trim();
    options.logger.info(
      { branch: options.branch, head, ms: Date.now() - started },
      'workspace cloned',
    );
    return new GitWorkspace(options, scratchDir, ownsScratch, plumbing, head);
  }

  /** The deploy branch's head as last fetched or pushed. */
  get head(): string {
    return this.branches.get(this.branch)!.known!;
  }

  /** A branch's head as last fetched or pushed; undefined when it is not known to exist. */
  headOf(branch: string): string | undefined {
    return this.branches.get(branch)?.known;
  }

  private state(branch: string): BranchState {
    let state = this.branches.get(branch);
    if (!state) this.branches.set(branch, (state = { known: undefined, local: undefined }));
    return state;
  }

  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(job);
  }

  /** Fetches the deploy branch; returns the new head. Call inside `exclusive`. */
  async fetch(): Promise<string> {
    return (await this.fetchBranch(this.branch))!;
  }

  /**
   * Fetches `branch`; returns its head, or undefined when the origin has no such branch (a
   * change request that was published or closed). Call inside `exclusive`.
   */
  async fetchBranch(branch: string): Promise<string | undefined> {
    const state = this.state(branch);
    try {
      await this.git.fetch(['origin', `+refs/heads/${branch}:refs/heads/${branch}`]);
    } catch (err) {
      const message = this.plumbing.redact((err as Error).message);
      if (branch !== this.branch && /couldn't find remote ref/i.test(message)) {
        if (state.local) await this.plumbing.run(['update-ref', '-d', `refs/heads/${branch}`]);
        state.known = state.local = undefined;
        return undefined;
      }
      throw new Error(`fetch failed: ${message}`, { cause: err });
    }
    state.known = (await this.plumbing.run(['rev-parse', `refs/heads/${branch}`]))
      .toString()
      .trim();
    state.local = state.known;
    return state.known;
  }

  /** The origin's branches under `prefix` (e.g. `reflex/`), by name, with their heads. */
  async remoteBranches(prefix: string): Promise<Map<string, string>> {
    let out: string;
    try {
      out = (await this.git.listRemote(['origin', `refs/heads/${prefix}*`])).toString();
    } catch (err) {
      throw new Error(`listing branches failed: ${this.plumbing.redact((err as Error).message)}`, {
        cause: err,
      });
    }
    const heads = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, ref] = line.split('\t');
      if (sha && ref?.startsWith('refs/heads/')) heads.set(ref.slice('refs/heads/'.length), sha);
    }
    return heads;
  }

  /** All files of `commit` (default: the deploy branch's head), by path. Cached per commit. */
  tree(commit: string = this.head): Promise<Map<string, TreeEntry>> {
    return this.trees.list(commit);
  }

  /** The entry at `path` in `commit`, or undefined. */
  entryAt(commit: string, filePath: string): Promise<TreeEntry | undefined> {
    return this.trees.entryAt(commit, filePath);
  }

  /** Whether `sha` names a commit this clone has. */
  async hasCommit(sha: string): Promise<boolean> {
    try {
      await this.plumbing.run(['cat-file', '-e', `${sha}^{commit}`]);
      return true;
    } catch (err) {
      if (err instanceof GitCommandError) return false;
      throw err;
    }
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    try {
      await this.plumbing.run(['merge-base', '--is-ancestor', ancestor, descendant]);
      return true;
    } catch (err) {
      if (err instanceof GitCommandError && err.exitCode === 1) return false;
      throw err;
    }
  }

  async readBlob(blob: string): Promise<Buffer> {
    return this.plumbing.run(['cat-file', 'blob', blob]);
  }

  /**
   * Builds (does not push) a one-file commit on `parent` (see GitCommits.oneFile). The local
   * branch ref moves to it at once; `push` puts it back if the push fails. Call inside
   * `exclusive`.
   */
  async buildCommit(
    change: Omit<OneFileCommit, 'committer' | 'when' | 'branch'> & {
      /** The branch the commit is for (default: the deploy branch). */
      branch?: string | undefined;
    },
  ): Promise<{ commit: string; blob: string | undefined }> {
    const branch = change.branch ?? this.branch;
    const built = await this.commits.oneFile({ ...change, branch });
    this.state(branch).local = built.commit;
    return built;
  }

  /**
   * Pushes `commit` to `branch` (default: the deploy branch; a branch the origin lacks is
   * created), never forcing. On success the branch's known head becomes `commit`. A
   * non-fast-forward rejection (someone pushed meanwhile) is reported, not thrown.
   * Call inside `exclusive`.
   */
  async push(
    commit: string,
    change?: TreeChange,
    branch: string = this.branch,
  ): Promise<PushResult> {
    const started = process.hrtime.bigint();
    const state = this.state(branch);
    let ok = false;
    try {
      await this.git.push(['origin', `${commit}:refs/heads/${branch}`]);
      ok = true;
    } catch (err) {
      const message = this.plumbing.redact((err as Error).message);
      // The commit did not reach the origin: the local branch must not keep it.
      await this.resetLocalRef(branch);
      // Someone pushed meanwhile: refused as not a fast-forward, or — when two clones push to
      // one repository at the same moment — the ref moved under the origin's lock.
      if (/\[rejected\]|non-fast-forward|fetch first|stale info|cannot lock ref/i.test(message)) {
        return { ok: false, rejected: true, detail: message };
      }
      throw new DomainError('push_failed', `the push to the origin failed: ${message}`, {
        cause: err,
      });
    } finally {
      this.options.onPush?.(Number(process.hrtime.bigint() - started) / 1e9, ok);
    }
    if (state.local !== commit)
      await this.plumbing.run(['update-ref', `refs/heads/${branch}`, commit]);
    state.local = commit;
    this.trees.advance(commit, change);
    state.known = commit;
    return { ok: true };
  }

  private async resetLocalRef(branch: string): Promise<void> {
    const state = this.state(branch);
    if (state.local === state.known) return;
    await this.plumbing.run(
      state.known
        ? ['update-ref', `refs/heads/${branch}`, state.known]
        : ['update-ref', '-d', `refs/heads/${branch}`],
    );
    state.local = state.known;
  }

  /**
   * Deletes `branch` on the origin, provided it is still at `expected` (a lease: a commit
   * someone pushed meanwhile is never dropped; nothing is overwritten). Call inside `exclusive`.
   */
  async deleteBranch(branch: string, expected: string): Promise<PushResult> {
    if (branch === this.branch) throw new Error('the deploy branch is never deleted');
    try {
      await this.git.push([
        'origin',
        `--force-with-lease=refs/heads/${branch}:${expected}`,
        `:refs/heads/${branch}`,
      ]);
    } catch (err) {
      return { ok: false, rejected: true, detail: this.plumbing.redact((err as Error).message) };
    }
    const state = this.state(branch);
    if (state.local) await this.plumbing.run(['update-ref', '-d', `refs/heads/${branch}`]);
    state.known = state.local = undefined;
    return { ok: true };
  }

  /** The paths whose content or mode differs between two commits. */
  async changedPaths(from: string, to: string): Promise<string[]> {
    const args = ['diff-tree', '-r', '-z', '--name-only', '--no-renames', from, to];
    const out = await this.plumbing.run(args);
    return out.toString('utf8').split('\0').filter(Boolean);
  }

  /** Recent commits of a branch (default: the deploy branch), newest first. */
  async log(limit: number, branch: string = this.branch): Promise<CommitSummary[]> {
    const log = await this.git.log({ maxCount: limit, [`refs/heads/${branch}`]: null });
    return log.all.map((entry) => ({
      sha: entry.hash,
      author: { name: entry.author_name, email: entry.author_email },
      date: entry.date,
      message: entry.message,
    }));
  }

  async close(): Promise<void> {
    if (this.ownsScratch) await rm(this.scratchDir, { recursive: true, force: true });
  }
}
