/**
 * What the editor can do to the repository: list, read, diff, save, delete — on the deploy
 * branch, or on a change request's branch (`on`). Keeps the rules every change goes through —
 * who (role), which path (policy), what content (size, text, parse; a merged text too) — and
 * records each attempt; git decides what becomes of an admitted change (git/change.ts:
 * committed, merged with a change made meanwhile, or a conflict). Knows nothing of HTTP;
 * refusals are DomainErrors.
 */
import type { SessionUser } from '../api/contract';
import type { FileContent, SaveResult, TreeFile, TreeListing } from '../api/contract';
import type { AuditLog } from '../audit';
import { DomainError } from '../errors';
import { changedSince, commitChange, type ChangeOutcome } from '../git/change';
import { Freshness } from '../git/freshness';
import { isFullSha } from '../git/sha';
import { notRegular, structuralLocks } from '../git/tree';
import type { WorkspaceSource } from '../git/clone';
import type { CommitSummary, GitWorkspace } from '../git/workspace';
import type { Logger } from '../logger';
import type { SAVE_RESULTS } from '../metrics/registry';
import { PathError, normalizeRepoPath, protectedEntry, type EditPolicy } from './policy';
import { checkContent, looksBinary } from './validate';

export type { Role } from '../auth/roles';
/** The signed-in user a change is made for. */
export type EditorUser = SessionUser;

export type SaveOutcome = (typeof SAVE_RESULTS)[number];

/** The branch a change goes to when it is not the deploy branch: a change request's. */
export interface OnBranch {
  branch: string;
  /** Create the branch from this one's head when it does not exist yet. */
  forkFrom?: string | undefined;
}

/** A file saved by someone: what presence and the event stream tell everyone. */
export interface SavedFile {
  path: string;
  branch: string;
  commit: string;
  user: string;
}

export interface EditorServiceOptions {
  /** The instance's clone (`current()` refuses with not_ready until it is there). */
  workspace: WorkspaceSource;
  policy: EditPolicy;
  maxFileBytes: number;
  audit: AuditLog;
  logger: Logger;
  /** Counts every save/delete attempt by result (reflex_saves_total). */
  onResult?: (result: SaveOutcome) => void;
  /** Pushes to try when others keep pushing in between (default 5). */
  maxPushAttempts?: number;
  /** Told of every commit a save or delete made. */
  onSaved?: (saved: SavedFile) => void;
}

const MAX_MESSAGE = 4000;

export class EditorService {
  /** Listings per commit and role: a tree is listed once however many people open it. */
  private listingCache: { commit: string; byRole: Map<string, TreeListing> } | undefined;
  private readonly freshness = new Freshness();

  constructor(private readonly options: EditorServiceOptions) {}

  get workspace(): GitWorkspace {
    return this.options.workspace.current();
  }

  /**
   * Every file at the current commit, each with whether `user` may change it and why not;
   * never older than `seen`, a commit the client has seen (read your writes).
   */
  async listing(user: EditorUser, seen?: string, branch?: string): Promise<TreeListing> {
    const { policy } = this.options;
    const workspace = this.workspace;
    const commit = await this.headFor(workspace, seen, branch);
    if (this.listingCache?.commit !== commit) this.listingCache = { commit, byRole: new Map() };
    const cached = this.listingCache.byRole.get(user.role);
    if (cached) return cached;
    const entries = await workspace.tree(commit);
    const locks = structuralLocks(entries.values());
    // A viewer can change nothing: the editor says so once, and shows the scope's locks.
    const role = user.role === 'viewer' ? undefined : user.role;
    const files: TreeFile[] = [];
    for (const entry of entries.values()) {
      const lock = locks.get(entry.path);
      const verdict = lock
        ? { editable: false as const, reason: lock }
        : role
          ? policy.verdictFor(role, entry.path)
          : policy.verdict(entry.path);
      files.push(
        verdict.editable
          ? { path: entry.path, size: entry.size, editable: true }
          : { path: entry.path, size: entry.size, editable: false, reason: verdict.reason },
      );
    }
    const listing = { commit, files };
    this.listingCache.byRole.set(user.role, listing);
    return listing;
  }

  /**
   * The commit a read answers from: the deploy branch's head, never older than `seen`; or a
   * change request's branch as the origin has it now.
   */
  private async headFor(
    workspace: GitWorkspace,
    seen: string | undefined,
    branch: string | undefined,
  ): Promise<string> {
    if (branch === undefined || branch === workspace.branch) {
      await this.freshness.catchUp(workspace, seen);
      return workspace.head;
    }
    const head = await workspace.exclusive(() => workspace.fetchBranch(branch));
    if (!head) throw new DomainError('not_found', `no branch ${branch}`);
    return head;
  }

  /** A file as it is on the branch, never older than `seen` (see `listing`). */
  async read(rawPath: string, seen?: string, branch?: string): Promise<FileContent> {
    const path = parsePath(rawPath);
    const commit = await this.headFor(this.workspace, seen, branch);
    const entry = (await this.workspace.tree(commit)).get(path);
    if (!entry) throw new DomainError('not_found', `no file ${path} at ${commit.slice(0, 12)}`);
    if (notRegular(entry)) throw new DomainError('not_regular', `${path} is not a regular file`);
    if (entry.size > this.options.maxFileBytes) {
      throw new DomainError(
        'too_large',
        `${path} is ${entry.size} bytes; the editor's limit is ${this.options.maxFileBytes}`,
      );
    }
    const content = await this.workspace.readBlob(entry.blob);
    if (looksBinary(content)) throw new DomainError('binary', `${path} is a binary file`);
    return { path, content: content.toString('utf8'), blobSha: entry.blob, commit };
  }

  async commits(limit: number, branch?: string): Promise<CommitSummary[]> {
    const workspace = this.workspace;
    if (branch !== undefined) await this.headFor(workspace, undefined, branch);
    return workspace.exclusive(() => workspace.log(limit, branch));
  }

  /** Unified diff of a proposed content against the branch's current version of the file. */
  async diff(rawPath: string, content: string, baseCommit: string, branch?: string) {
    const path = parsePath(rawPath);
    requireSha(baseCommit);
    const workspace = this.workspace;
    const head =
      branch === undefined ? workspace.head : await this.headFor(workspace, undefined, branch);
    const current = (await workspace.tree(head)).get(path);
    const before = current ? (await workspace.readBlob(current.blob)).toString('utf8') : '';
    const changedUpstream = await changedSince(workspace, baseCommit, path, head);
    const { createTwoFilesPatch } = await import('diff');
    const diff = createTwoFilesPatch(
      current ? `a/${path}` : '/dev/null',
      `b/${path}`,
      before,
      content,
      undefined,
      undefined,
      { context: 3 },
    );
    return { diff, commit: head, changedUpstream };
  }

  save(
    user: EditorUser,
    rawPath: string,
    body: { content: string; baseCommit: string; message?: string | undefined },
    on?: OnBranch,
  ): Promise<SaveResult> {
    return this.change(user, 'save', rawPath, body.baseCommit, body.content, body.message, on);
  }

  remove(
    user: EditorUser,
    rawPath: string,
    baseCommit: string,
    message?: string,
    on?: OnBranch,
  ): Promise<SaveResult> {
    return this.change(user, 'delete', rawPath, baseCommit, null, message, on);
  }

  private async change(
    user: EditorUser,
    action: 'save' | 'delete',
    rawPath: string,
    baseCommit: string,
    content: string | null,
    message: string | undefined,
    on: OnBranch | undefined,
  ): Promise<SaveResult> {
    const audit = {
      user: user.username,
      action,
      path: rawPath,
      base: baseCommit,
      ...(on ? { branch: on.branch } : {}),
    };
    try {
      const path = await this.admit(user, rawPath, baseCommit, content, message);
      audit.path = path;
      const workspace = this.workspace;
      const outcome = await commitChange(
        workspace,
        {
          base: baseCommit,
          path,
          content: content === null ? null : Buffer.from(content, 'utf8'),
          author: { name: user.name, email: user.email },
          message: (existed) => commitMessage(action, path, existed, user, message),
          branch: on?.branch,
          forkFrom: on?.forkFrom,
          takeInDeploy: on !== undefined && on.branch !== workspace.branch,
          keepsOut: (changed) => protectedEntry(changed) !== undefined,
          admitMerged: async (merged) =>
            (await checkContent(path, merged, this.options.maxFileBytes))?.message,
        },
        { logger: this.options.logger, maxPushAttempts: this.options.maxPushAttempts },
      );
      const done = settle(outcome);
      const result: SaveOutcome = outcome.kind === 'unchanged' ? 'unchanged' : 'committed';
      this.options.onResult?.(result);
      const merged = outcome.kind === 'committed' ? outcome.merged : undefined;
      await this.options.audit.record({
        ...audit,
        result: merged ? 'merged' : result,
        commit: done.commit,
      });
      if (outcome.kind === 'committed') {
        this.options.onSaved?.({
          path,
          branch: on?.branch ?? workspace.branch,
          commit: done.commit,
          user: user.username,
        });
      }
      return {
        commit: done.commit,
        path,
        ...(done.blobSha ? { blobSha: done.blobSha } : {}),
        ...(merged ? { merged } : {}),
      };
    } catch (err) {
      const result = resultOf(err);
      this.options.onResult?.(result);
      await this.options.audit.record({ ...audit, result, reason: (err as Error).message });
      throw err;
    }
  }

  /** Every check that needs no git: role, path, policy, base, message, content. */
  private async admit(
    user: EditorUser,
    rawPath: string,
    baseCommit: string,
    content: string | null,
    message: string | undefined,
  ): Promise<string> {
    if (user.role === 'viewer') {
      throw new DomainError('forbidden_role', 'your role cannot change files', {
        details: { reason: `role ${user.role} is read-only` },
      });
    }
    const path = parsePath(rawPath);
    const verdict = this.options.policy.verdictFor(user.role, path);
    if (!verdict.editable) {
      throw new DomainError('forbidden_path', `${path} cannot be changed from the editor`, {
        details: { reason: verdict.reason },
      });
    }
    requireSha(baseCommit);
    if (message !== undefined) checkMessage(message);
    if (content !== null) {
      const problem = await checkContent(path, content, this.options.maxFileBytes);
      if (problem?.kind === 'too_large') throw new DomainError('too_large', problem.message);
      if (problem) {
        const { kind: _kind, message: why, ...position } = problem;
        throw new DomainError('invalid_content', why, { details: position });
      }
    }
    return path;
  }
}

/** The commit of a change git made, or the refusal it stands for. */
function settle(outcome: ChangeOutcome): { commit: string; blobSha?: string | undefined } {
  switch (outcome.kind) {
    case 'committed':
    case 'unchanged':
      return outcome;
    case 'conflict':
      throw new DomainError('conflict', outcome.message, {
        details: { upstream: outcome.upstream },
      });
    case 'rejected':
      switch (outcome.why) {
        case 'not_regular':
          throw new DomainError('forbidden_path', outcome.message, {
            details: { reason: outcome.detail },
          });
        case 'unknown_base':
        case 'not_found':
        case 'path_conflict':
        case 'push_contention':
          throw new DomainError(outcome.why, outcome.message);
      }
  }
}

const RESULT_BY_CODE: Partial<Record<string, SaveOutcome>> = {
  forbidden_role: 'forbidden',
  forbidden_path: 'forbidden',
  invalid_path: 'invalid',
  invalid_base: 'invalid',
  unknown_base: 'invalid',
  invalid_message: 'invalid',
  invalid_content: 'invalid',
  path_conflict: 'invalid',
  too_large: 'too_large',
  conflict: 'conflict',
  not_found: 'not_found',
};

/** How an attempt ended, for the audit and reflex_saves_total. */
export function resultOf(err: unknown): SaveOutcome {
  if (err instanceof DomainError) return RESULT_BY_CODE[err.code] ?? 'error';
  return 'error';
}

export function parsePath(raw: string): string {
  try {
    return normalizeRepoPath(raw);
  } catch (err) {
    if (err instanceof PathError)
      throw new DomainError('invalid_path', `invalid path: ${err.reason}`);
    throw err;
  }
}

function requireSha(value: string): void {
  if (!isFullSha(value)) {
    throw new DomainError('invalid_base', 'baseCommit must be a full commit SHA');
  }
}

function checkMessage(message: string): void {
  if (message.length > MAX_MESSAGE || message.includes('\u0000') || !message.isWellFormed()) {
    throw new DomainError(
      'invalid_message',
      `commit message must be text of at most ${MAX_MESSAGE} characters`,
    );
  }
}

function commitMessage(
  action: 'save' | 'delete',
  path: string,
  existed: boolean,
  user: EditorUser,
  message: string | undefined,
): string {
  const subject =
    message?.trim() || `${action === 'delete' ? 'Delete' : existed ? 'Update' : 'Create'} ${path}`;
  return `${subject}\n\nEdited in the Reflex editor by ${user.username}.\n`;
}
