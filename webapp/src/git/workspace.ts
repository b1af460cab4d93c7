/**
 * The instance's own clone of the repository: a bare clone in a scratch folder, so there is
 * no working tree to keep in sync and no file on disk a request could reach through a
 * symlink. Commits are built with plumbing (blob -> index -> tree -> commit) on top of a
 * branch as last fetched, and pushed without force. The deploy branch (`branch`) is always
 * there; other branches (change requests) are fetched when asked for, and may not exist.
 *
 * Every method that touches refs or the index must run inside `exclusive` (one queue per
 * instance). Reads of immutable objects (blobs, trees of a given commit) need not.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { DomainError } from '../errors';
import type { Logger } from '../logger';
import { gitEnvironment, installAskpass, redact, type GitCredentials } from './credentials';
import { GitCommandError, runGit, runGitStatus } from './exec';
import { fastImportScript, type Person } from './fastImport';
import { SerialQueue } from './queue';
import { parseTreeRecord, type TreeEntry } from './tree';

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

/** What a pushed commit changed relative to its parent (lets the tree cache follow along). */
export interface TreeChange {
  parent: string;
  path: string;
  /** The new entry, or null for a removal. */
  entry: TreeEntry | null;
}

export type PushResult = { ok: true } | { ok: false; rejected: true; detail: string };

/** What git made of merging two versions of a text. */
export interface TextMerge {
  clean: boolean;
  /** The merged text; with conflict markers when not clean. */
  text: string;
}

/** Where a branch is: as last fetched or pushed (`known`), and its local ref (`local`). */
interface BranchState {
  known: string | undefined;
  /** The known head, or a commit built and not yet pushed. */
  local: string | undefined;
}

/** Trees kept per commit: the deploy branch's head and a few change requests'. */
const TREES_KEPT = 8;

/**
 * simple-git strips git's environment variables unless named, and refuses some as unsafe
 * because an attacker-controlled value could run code. Ours are set by the app itself, never
 * from a request: config paths point at /dev/null, the askpass script is ours, and the ssh
 * command comes from the operator's environment.
 */
const SIMPLE_GIT_OPTIONS = {
  allowEnvironment: [
    'GIT_TERMINAL_PROMPT',
    'GIT_CONFIG_GLOBAL',
    'GIT_CONFIG_NOSYSTEM',
    'GIT_ASKPASS',
    'GIT_SSH_COMMAND',
  ],
  unsafe: { allowUnsafeConfigPaths: true, allowUnsafeAskPass: true, allowUnsafeSshCommand: true },
  completion: { onClose: true, onExit: false },
};

export class GitWorkspace {
  readonly gitDir: string;
  readonly branch: string;
  private readonly queue = new SerialQueue();
  private readonly env: Record<string, string>;
  private readonly git: SimpleGit;
  private readonly branches = new Map<string, BranchState>();
  /** Listings by commit, most recently used last. */
  private readonly trees = new Map<string, Map<string, TreeEntry>>();

  private constructor(
    private readonly options: WorkspaceOptions,
    private readonly scratchDir: string,
    private readonly ownsScratch: boolean,
    env: Record<string, string>,
    head: string,
  ) {
    this.gitDir = path.join(scratchDir, 'repo.git');
    this.branch = options.branch;
    this.env = env;
    this.branches.set(options.branch, { known: head, local: head });
    this.git = simpleGit({ baseDir: this.gitDir, ...SIMPLE_GIT_OPTIONS }).env(env);
  }

  /** Clones `repoUrl` at `branch` into a scratch folder. */
  static async clone(options: WorkspaceOptions): Promise<GitWorkspace> {
    const ownsScratch = !options.scratchDir;
    const scratchDir =
      options.scratchDir ?? (await mkdtemp(path.join(os.tmpdir(), 'reflex-workspace-')));
    await mkdir(scratchDir, { recursive: true, mode: 0o700 });
    const askpass = options.credentials.token ? await installAskpass(scratchDir) : undefined;
    const env = gitEnvironment(options.credentials, askpass);
    const gitDir = path.join(scratchDir, 'repo.git');
    await rm(gitDir, { recursive: true, force: true });
    const started = Date.now();
    try {
      await simpleGit({ baseDir: scratchDir, ...SIMPLE_GIT_OPTIONS })
        .env(env)
        .clone(options.repoUrl, gitDir, ['--bare', '--single-branch', '--branch', options.branch]);
    } catch (err) {
      throw new Error(
        `cannot clone ${redact(options.repoUrl, [options.credentials.token])} (branch ${options.branch}): ` +
          redact((err as Error).message, [options.credentials.token]),
        { cause: err },
      );
    }
    const head = (
      await runGit(['rev-parse', `refs/heads/${options.branch}`], {
        cwd: gitDir,
        env,
        redact: (t) => redact(t, [options.credentials.token]),
      })
    )
      .toString()
      .trim();
    options.logger.info(
      { branch: options.branch, head, ms: Date.now() - started },
      'workspace cloned',
    );
    return new GitWorkspace(options, scratchDir, ownsScratch, env, head);
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
      const message = this.redact((err as Error).message);
      if (branch !== this.branch && /couldn't find remote ref/i.test(message)) {
        if (state.local) await this.plumbing(['update-ref', '-d', `refs/heads/${branch}`]);
        state.known = state.local = undefined;
        return undefined;
      }
      throw new Error(`fetch failed: ${message}`, { cause: err });
    }
    state.known = (await this.plumbing(['rev-parse', `refs/heads/${branch}`])).toString().trim();
    state.local = state.known;
    return state.known;
  }

  /** The origin's branches under `prefix` (e.g. `reflex/`), by name, with their heads. */
  async remoteBranches(prefix: string): Promise<Map<string, string>> {
    let out: string;
    try {
      out = (await this.git.listRemote(['origin', `refs/heads/${prefix}*`])).toString();
    } catch (err) {
      throw new Error(`listing branches failed: ${this.redact((err as Error).message)}`, {
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
  async tree(commit: string = this.head): Promise<Map<string, TreeEntry>> {
    const cached = this.trees.get(commit);
    if (cached) {
      this.keepTree(commit, cached);
      return cached;
    }
    const out = await this.plumbing(['ls-tree', '-r', '-l', '-z', '--full-tree', commit]);
    const entries = new Map<string, TreeEntry>();
    for (const record of out.toString('utf8').split('\0')) {
      const parsed = parseTreeRecord(record);
      if (parsed) entries.set(parsed.path, entryOf(parsed));
    }
    this.keepTree(commit, entries);
    return entries;
  }

  private keepTree(commit: string, entries: Map<string, TreeEntry>): void {
    this.trees.delete(commit);
    this.trees.set(commit, entries);
    if (this.trees.size > TREES_KEPT) this.trees.delete(this.trees.keys().next().value!);
  }

  /** The entry at `path` in `commit`, or undefined. */
  async entryAt(commit: string, filePath: string): Promise<TreeEntry | undefined> {
    const cached = this.trees.get(commit);
    if (cached) return cached.get(filePath);
    const out = (await this.plumbing(['ls-tree', '-l', '-z', commit, '--', filePath])).toString(
      'utf8',
    );
    const parsed = parseTreeRecord(out.split('\0')[0] ?? '');
    if (!parsed || (parsed.type !== 'blob' && parsed.type !== 'commit')) return undefined;
    return { ...entryOf(parsed), path: filePath };
  }

  /** Whether `sha` names a commit this clone has. */
  async hasCommit(sha: string): Promise<boolean> {
    try {
      await this.plumbing(['cat-file', '-e', `${sha}^{commit}`]);
      return true;
    } catch (err) {
      if (err instanceof GitCommandError) return false;
      throw err;
    }
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    try {
      await this.plumbing(['merge-base', '--is-ancestor', ancestor, descendant]);
      return true;
    } catch (err) {
      if (err instanceof GitCommandError && err.exitCode === 1) return false;
      throw err;
    }
  }

  async readBlob(blob: string): Promise<Buffer> {
    return this.plumbing(['cat-file', 'blob', blob]);
  }

  /**
   * Builds (does not push) a commit on `parent` that writes `content` at `path`, or removes
   * `path` when content is null. One `git fast-import` writes the blob, the trees and the commit
   * and reports their ids (a save spends most of its time starting git processes). Small
   * imports are stored as loose objects (`fastimport.unpackLimit`), so saves leave no packs
   * behind. The local branch ref moves to the new commit at once (one process less per save);
   * `push` puts it back if the push fails. Call inside `exclusive`.
   */
  async buildCommit(change: {
    parent: string;
    path: string;
    content: Buffer | null;
    mode?: string | undefined;
    author: Person;
    message: string;
    /** The branch the commit is for (default: the deploy branch). */
    branch?: string | undefined;
  }): Promise<{ commit: string; blob: string | undefined }> {
    const branch = change.branch ?? this.branch;
    const out = (
      await this.plumbing(
        ['-c', 'fastimport.unpackLimit=100', 'fast-import', '--quiet', '--force', '--done'],
        {
          input: fastImportScript({
            ...change,
            branch,
            committer: this.options.committer,
            when: Math.floor(Date.now() / 1000),
          }),
        },
      )
    )
      .toString()
      .trim()
      .split('\n');
    const commit = out.at(-1)!;
    this.state(branch).local = commit;
    return { commit, blob: change.content === null ? undefined : out[0] };
  }

  /** A commit on `parent` whose tree is exactly `sourceCommit`'s (a rollback). */
  async buildRestoreCommit(
    parent: string,
    sourceCommit: string,
    author: Person,
    message: string,
  ): Promise<string> {
    const tree = (await this.plumbing(['rev-parse', `${sourceCommit}^{tree}`])).toString().trim();
    return this.commitTree(tree, parent, author, message);
  }

  /** A commit of `tree` with `parents` (a merge has two). */
  async commitTree(
    tree: string,
    parent: string | readonly string[],
    author: Person,
    message: string,
  ): Promise<string> {
    const parents = (typeof parent === 'string' ? [parent] : parent).flatMap((p) => ['-p', p]);
    const identity = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: this.options.committer.name,
      GIT_COMMITTER_EMAIL: this.options.committer.email,
    };
    return (
      await this.plumbing(['commit-tree', tree, ...parents, '-F', '-'], {
        env: { ...this.env, ...identity },
        input: message.endsWith('\n') ? message : `${message}\n`,
      })
    )
      .toString()
      .trim();
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
      const message = this.redact((err as Error).message);
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
    if (state.local !== commit) await this.plumbing(['update-ref', `refs/heads/${branch}`, commit]);
    state.local = commit;
    this.advanceTreeCache(commit, change);
    state.known = commit;
    return { ok: true };
  }

  private async resetLocalRef(branch: string): Promise<void> {
    const state = this.state(branch);
    if (state.local === state.known) return;
    await this.plumbing(
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
      return { ok: false, rejected: true, detail: this.redact((err as Error).message) };
    }
    const state = this.state(branch);
    if (state.local) await this.plumbing(['update-ref', '-d', `refs/heads/${branch}`]);
    state.known = state.local = undefined;
    return { ok: true };
  }

  /** The best common ancestor of two commits, or undefined when they share none. */
  async mergeBase(a: string, b: string): Promise<string | undefined> {
    const { exitCode, stdout } = await runGitStatus(['merge-base', a, b], {
      cwd: this.gitDir,
      env: this.env,
      redact: (t) => this.redact(t),
      allowedExits: [1],
    });
    return exitCode === 0 ? stdout.toString().trim() : undefined;
  }

  /**
   * Three-way merge of one text (`git merge-file`): the changes from `base` to `ours` and from
   * `base` to `theirs`, combined when they do not overlap. The three versions are written to a
   * private folder of this clone (names of our own, never a path from a request).
   */
  async mergeText(base: Buffer, ours: Buffer, theirs: Buffer): Promise<TextMerge> {
    const dir = path.join(this.scratchDir, `merge-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    try {
      const files = ['ours', 'base', 'theirs'].map((name) => path.join(dir, name));
      await Promise.all([ours, base, theirs].map((text, i) => writeFile(files[i]!, text)));
      // The exit status is the number of conflicts (capped at 127); negative ones are errors.
      const { exitCode, stdout } = await runGitStatus(
        ['merge-file', '-p', '-L', 'yours', '-L', 'base', '-L', 'theirs', ...files],
        {
          cwd: dir,
          env: this.env,
          redact: (t) => this.redact(t),
          allowedExits: Array.from({ length: 127 }, (_, i) => i + 1),
        },
      );
      return { clean: exitCode === 0, text: stdout.toString('utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Merges the tree of `theirs` into `ours` (`git merge-tree --write-tree`, nothing checked
   * out): the merged tree, or the paths that conflict.
   */
  async mergeTrees(
    ours: string,
    theirs: string,
  ): Promise<{ tree: string; conflicts: [] } | { tree: undefined; conflicts: string[] }> {
    const { exitCode, stdout } = await runGitStatus(
      ['merge-tree', '--write-tree', '--name-only', '--no-messages', ours, theirs],
      { cwd: this.gitDir, env: this.env, redact: (t) => this.redact(t), allowedExits: [1] },
    );
    const [tree, ...conflicts] = stdout.toString('utf8').trim().split('\n');
    if (exitCode === 0) return { tree: tree!, conflicts: [] };
    return { tree: undefined, conflicts: [...new Set(conflicts.filter(Boolean))] };
  }

  /** The paths whose content or mode differs between two commits. */
  async changedPaths(from: string, to: string): Promise<string[]> {
    const out = await this.plumbing([
      'diff-tree',
      '-r',
      '-z',
      '--name-only',
      '--no-renames',
      from,
      to,
    ]);
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

  /**
   * After our own push, derive the new listing from the old one and the one change, instead
   * of listing a large tree again.
   */
  private advanceTreeCache(commit: string, change: TreeChange | undefined): void {
    const parent = change && this.trees.get(change.parent);
    if (!change || !parent) return;
    const entries = new Map(parent);
    if (change.entry) entries.set(change.entry.path, change.entry);
    else entries.delete(change.path);
    this.keepTree(commit, entries);
  }

  private plumbing(
    args: readonly string[],
    extra: { env?: Record<string, string>; input?: string | Buffer } = {},
  ) {
    return runGit(args, {
      cwd: this.gitDir,
      env: extra.env ?? this.env,
      ...(extra.input === undefined ? {} : { input: extra.input }),
      redact: (t) => this.redact(t),
    });
  }

  private redact(text: string): string {
    return redact(text, [this.options.credentials.token]);
  }
}

function entryOf(parsed: TreeEntry): TreeEntry {
  return { path: parsed.path, mode: parsed.mode, blob: parsed.blob, size: parsed.size };
}
