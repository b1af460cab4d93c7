/**
 * The instance's own clone of the repository: a bare clone in a scratch folder, so there is
 * no working tree to keep in sync and no file on disk a request could reach through a
 * symlink. Commits are built with plumbing (blob -> index -> tree -> commit) on top of the
 * branch as last fetched, and pushed without force.
 *
 * Every method that touches refs or the index must run inside `exclusive` (one queue per
 * instance). Reads of immutable objects (blobs, trees of a given commit) need not.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { DomainError } from '../errors';
import type { Logger } from '../logger';
import { gitEnvironment, installAskpass, redact, type GitCredentials } from './credentials';
import { GitCommandError, runGit } from './exec';
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
  private knownHead: string;
  /** Where the local branch ref points: the known head, or a commit built and not yet pushed. */
  private localRef: string;
  private treeCache: { commit: string; entries: Map<string, TreeEntry> } | undefined;

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
    this.knownHead = head;
    this.localRef = head;
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

  /** The branch's head as last fetched or pushed. */
  get head(): string {
    return this.knownHead;
  }

  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(job);
  }

  /** Fetches the branch; returns the new head. Call inside `exclusive`. */
  async fetch(): Promise<string> {
    try {
      await this.git.fetch(['origin', `+refs/heads/${this.branch}:refs/heads/${this.branch}`]);
    } catch (err) {
      throw new Error(`fetch failed: ${this.redact((err as Error).message)}`, { cause: err });
    }
    this.knownHead = (await this.plumbing(['rev-parse', `refs/heads/${this.branch}`]))
      .toString()
      .trim();
    this.localRef = this.knownHead;
    return this.knownHead;
  }

  /** All files of `commit` (default: head), by path. Cached for the head. */
  async tree(commit: string = this.knownHead): Promise<Map<string, TreeEntry>> {
    if (this.treeCache?.commit === commit) return this.treeCache.entries;
    const out = await this.plumbing(['ls-tree', '-r', '-l', '-z', '--full-tree', commit]);
    const entries = new Map<string, TreeEntry>();
    for (const record of out.toString('utf8').split('\0')) {
      const parsed = parseTreeRecord(record);
      if (parsed) entries.set(parsed.path, entryOf(parsed));
    }
    if (commit === this.knownHead) this.treeCache = { commit, entries };
    return entries;
  }

  /** The entry at `path` in `commit`, or undefined. */
  async entryAt(commit: string, filePath: string): Promise<TreeEntry | undefined> {
    if (this.treeCache?.commit === commit) return this.treeCache.entries.get(filePath);
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
  }): Promise<{ commit: string; blob: string | undefined }> {
    const out = (
      await this.plumbing(
        ['-c', 'fastimport.unpackLimit=100', 'fast-import', '--quiet', '--force', '--done'],
        {
          input: fastImportScript({
            ...change,
            branch: this.branch,
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
    this.localRef = commit;
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

  private async commitTree(
    tree: string,
    parent: string,
    author: Person,
    message: string,
  ): Promise<string> {
    const identity = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: this.options.committer.name,
      GIT_COMMITTER_EMAIL: this.options.committer.email,
    };
    return (
      await this.plumbing(['commit-tree', tree, '-p', parent, '-F', '-'], {
        env: { ...this.env, ...identity },
        input: message.endsWith('\n') ? message : `${message}\n`,
      })
    )
      .toString()
      .trim();
  }

  /**
   * Pushes `commit` to the branch, never forcing. On success the known head becomes `commit`.
   * A non-fast-forward rejection (someone pushed meanwhile) is reported, not thrown.
   * Call inside `exclusive`.
   */
  async push(commit: string, change?: TreeChange): Promise<PushResult> {
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      await this.git.push(['origin', `${commit}:refs/heads/${this.branch}`]);
      ok = true;
    } catch (err) {
      const message = this.redact((err as Error).message);
      // The commit did not reach the origin: the local branch must not keep it.
      await this.resetLocalRef();
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
    if (this.localRef !== commit)
      await this.plumbing(['update-ref', `refs/heads/${this.branch}`, commit]);
    this.localRef = commit;
    this.advanceTreeCache(commit, change);
    this.knownHead = commit;
    return { ok: true };
  }

  private async resetLocalRef(): Promise<void> {
    if (this.localRef === this.knownHead) return;
    await this.plumbing(['update-ref', `refs/heads/${this.branch}`, this.knownHead]);
    this.localRef = this.knownHead;
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

  /** Recent commits of the branch, newest first. */
  async log(limit: number): Promise<CommitSummary[]> {
    const log = await this.git.log({ maxCount: limit });
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
    const cached = this.treeCache;
    if (!change || cached?.commit !== change.parent) {
      this.treeCache = undefined;
      return;
    }
    const entries = new Map(cached.entries);
    if (change.entry) entries.set(change.entry.path, change.entry);
    else entries.delete(change.path);
    this.treeCache = { commit, entries };
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
