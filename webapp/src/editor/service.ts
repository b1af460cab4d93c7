/**
 * What the editor can do to the repository: list, read, diff, save, delete. Enforces the
 * rules every change goes through — path policy, content checks, no silent overwrite, push
 * without force — and records each attempt. Knows nothing of HTTP; failures are AppErrors.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit';
import { AppError } from '../errors';
import { pushRestore } from '../git/restore';
import type { CommitSummary, GitWorkspace, Person, TreeEntry } from '../git/workspace';
import type { Logger } from '../logger';
import type { SAVE_RESULTS } from '../metrics/registry';
import { PathError, normalizeRepoPath, type EditPolicy } from './policy';
import { checkContent, looksBinary } from './validate';

export type Role = 'viewer' | 'editor';

export interface EditorUser {
  username: string;
  name: string;
  email: string;
  role: Role;
}

export type SaveResult = (typeof SAVE_RESULTS)[number];

export interface EditorServiceOptions {
  workspace: GitWorkspace;
  policy: EditPolicy;
  maxFileBytes: number;
  audit: AuditLog;
  logger: Logger;
  /** Counts every save/delete attempt by result (reflex_saves_total). */
  onResult?: (result: SaveResult) => void;
  /** Pushes to try when others keep pushing in between (default 5). */
  maxPushAttempts?: number;
}

export interface FileListing {
  commit: string;
  files: { path: string; size: number; editable: boolean; reason?: string }[];
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const MAX_MESSAGE = 4000;

export class EditorService {
  private listingCache: { commit: string; json: string } | undefined;

  constructor(private readonly options: EditorServiceOptions) {}

  get head(): string {
    return this.options.workspace.head;
  }

  /** The tree at the current commit, as the JSON body of `GET /api/tree` (cached per commit). */
  async listingJson(): Promise<{ commit: string; json: string }> {
    const { workspace, policy } = this.options;
    const commit = workspace.head;
    if (this.listingCache?.commit === commit) return this.listingCache;
    const entries = await workspace.tree(commit);
    const symlinkDirs = [...entries.values()]
      .filter((e) => e.mode === '120000')
      .map((e) => e.path + '/');
    const files: FileListing['files'] = [];
    for (const entry of entries.values()) {
      const verdict = structuralVerdict(entry, symlinkDirs) ?? policy.verdict(entry.path);
      files.push(
        verdict.editable
          ? { path: entry.path, size: entry.size, editable: true }
          : { path: entry.path, size: entry.size, editable: false, reason: verdict.reason },
      );
    }
    const listing = { commit, json: JSON.stringify({ commit, files } satisfies FileListing) };
    this.listingCache = listing;
    return listing;
  }

  async read(rawPath: string) {
    const path = parsePath(rawPath);
    const commit = this.options.workspace.head;
    const entry = (await this.options.workspace.tree(commit)).get(path);
    if (!entry)
      throw new AppError(404, `no file ${path} at ${commit.slice(0, 12)}`, { code: 'not_found' });
    if (entry.mode === '120000' || entry.mode === '160000') {
      throw new AppError(415, `${path} is not a regular file`, { code: 'not_regular' });
    }
    if (entry.size > this.options.maxFileBytes) {
      throw new AppError(
        413,
        `${path} is ${entry.size} bytes; the editor's limit is ${this.options.maxFileBytes}`,
        {
          code: 'too_large',
        },
      );
    }
    const content = await this.options.workspace.readBlob(entry.blob);
    if (looksBinary(content))
      throw new AppError(415, `${path} is a binary file`, { code: 'binary' });
    return { path, content: content.toString('utf8'), blobSha: entry.blob, commit };
  }

  async commits(limit: number): Promise<CommitSummary[]> {
    return this.options.workspace.exclusive(() => this.options.workspace.log(limit));
  }

  /** Unified diff of a proposed content against the branch's current version of the file. */
  async diff(rawPath: string, content: string, baseCommit: string) {
    const path = parsePath(rawPath);
    requireSha(baseCommit);
    const { workspace } = this.options;
    const head = workspace.head;
    const current = (await workspace.tree(head)).get(path);
    const before = current ? (await workspace.readBlob(current.blob)).toString('utf8') : '';
    let changedUpstream = false;
    if (baseCommit !== head && (await workspace.hasCommit(baseCommit))) {
      const atBase = await workspace.entryAt(baseCommit, path);
      changedUpstream = atBase?.blob !== current?.blob;
    }
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

  /** Rolls the branch back to `sha`'s tree with a new commit by `user` (see git/restore.ts). */
  async rollback(user: EditorUser, sha: string): Promise<string> {
    const audit = { user: user.username, action: 'rollback' as const, base: sha };
    try {
      if (user.role !== 'editor') {
        throw new AppError(403, 'your role cannot roll back', {
          code: 'forbidden_role',
          details: { reason: `role ${user.role} is read-only` },
        });
      }
      const commit = await pushRestore(this.options.workspace, sha, {
        name: user.name,
        email: user.email,
      });
      await this.options.audit.record({ ...audit, result: 'committed', commit });
      return commit;
    } catch (err) {
      await this.options.audit.record({
        ...audit,
        result: resultOf(err),
        reason: (err as Error).message,
      });
      throw err;
    }
  }

  save(
    user: EditorUser,
    rawPath: string,
    body: { content: string; baseCommit: string; message?: string | undefined },
  ) {
    return this.change(user, 'save', rawPath, body.baseCommit, body.content, body.message);
  }

  remove(user: EditorUser, rawPath: string, baseCommit: string, message?: string) {
    return this.change(user, 'delete', rawPath, baseCommit, null, message);
  }

  private async change(
    user: EditorUser,
    action: 'save' | 'delete',
    rawPath: string,
    baseCommit: string,
    content: string | null,
    message: string | undefined,
  ): Promise<{ commit: string; path: string; blobSha?: string }> {
    const audit = { user: user.username, action, path: rawPath, base: baseCommit };
    try {
      const path = await this.admit(user, rawPath, baseCommit, content, message);
      audit.path = path;
      const done = await this.options.workspace.exclusive(() =>
        this.commitAndPush(user, action, path, baseCommit, content, message),
      );
      const result: SaveResult = done.unchanged ? 'unchanged' : 'committed';
      this.options.onResult?.(result);
      await this.options.audit.record({ ...audit, result, commit: done.commit });
      return { commit: done.commit, path, ...(done.blobSha ? { blobSha: done.blobSha } : {}) };
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
    if (user.role !== 'editor') {
      throw new AppError(403, 'your role cannot change files', {
        code: 'forbidden_role',
        details: { reason: `role ${user.role} is read-only` },
      });
    }
    const path = parsePath(rawPath);
    const verdict = this.options.policy.verdict(path);
    if (!verdict.editable) {
      throw new AppError(403, `${path} cannot be changed from the editor`, {
        code: 'forbidden_path',
        details: { reason: verdict.reason },
      });
    }
    requireSha(baseCommit);
    if (message !== undefined) checkMessage(message);
    if (content !== null) {
      const problem = await checkContent(path, content, this.options.maxFileBytes);
      if (problem?.kind === 'too_large')
        throw new AppError(413, problem.message, { code: 'too_large' });
      if (problem) {
        const { kind: _kind, message: why, ...position } = problem;
        throw new AppError(422, why, { code: 'invalid_content', details: position });
      }
    }
    return path;
  }

  /** Runs inside the git queue: conflict check against the branch, commit, push, retry. */
  private async commitAndPush(
    user: EditorUser,
    action: 'save' | 'delete',
    path: string,
    baseCommit: string,
    content: string | null,
    message: string | undefined,
  ): Promise<{ commit: string; blobSha?: string; unchanged?: boolean }> {
    const { workspace } = this.options;
    if (!(await workspace.hasCommit(baseCommit))) {
      await workspace.fetch();
      if (!(await workspace.hasCommit(baseCommit))) {
        throw new AppError(400, `baseCommit ${baseCommit} is not a commit of ${workspace.branch}`, {
          code: 'unknown_base',
        });
      }
    }
    const bytes = content === null ? null : Buffer.from(content, 'utf8');
    const attempts = this.options.maxPushAttempts ?? 5;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const head = workspace.head;
      const headTree = await workspace.tree(head);
      const current = headTree.get(path);
      await this.requireUnchangedSince(baseCommit, head, path, current);
      requireWritableLocation(path, headTree, current);
      if (bytes === null && !current) {
        throw new AppError(404, `no file ${path} on ${workspace.branch}`, { code: 'not_found' });
      }
      if (bytes !== null && current && gitBlobSha(bytes, current.blob.length) === current.blob) {
        return { commit: head, blobSha: current.blob, unchanged: true };
      }
      const author: Person = { name: user.name, email: user.email };
      const { commit, blob } = await workspace.buildCommit({
        parent: head,
        path,
        content: bytes,
        mode: current?.mode,
        author,
        message: commitMessage(action, path, current !== undefined, user, message),
      });
      const entry: TreeEntry | null =
        bytes === null
          ? null
          : { path, mode: current?.mode ?? '100644', blob: blob!, size: bytes.length };
      const pushed = await workspace.push(commit, { parent: head, path, entry });
      if (pushed.ok) return { commit, ...(blob ? { blobSha: blob } : {}) };
      this.options.logger.info(
        { path, attempt },
        'push rejected: the branch moved; fetching and retrying',
      );
      await workspace.fetch();
    }
    throw new AppError(
      503,
      `could not push after ${attempts} attempts: ${workspace.branch} keeps moving`,
      {
        code: 'push_contention',
        expose: true,
      },
    );
  }

  /** 409 with the upstream version when the file differs between the base and the head. */
  private async requireUnchangedSince(
    base: string,
    head: string,
    path: string,
    current: TreeEntry | undefined,
  ) {
    const { workspace } = this.options;
    if (base === head) return;
    if (!(await workspace.isAncestor(base, head))) {
      throw await this.conflict(
        path,
        head,
        current,
        `your base ${base.slice(0, 12)} is not on ${workspace.branch}`,
      );
    }
    const atBase = await workspace.entryAt(base, path);
    if (atBase?.blob !== current?.blob || atBase?.mode !== current?.mode) {
      throw await this.conflict(
        path,
        head,
        current,
        `${path} changed on ${workspace.branch} since ${base.slice(0, 12)}`,
      );
    }
  }

  private async conflict(path: string, head: string, current: TreeEntry | undefined, why: string) {
    const upstreamContent = current
      ? (await this.options.workspace.readBlob(current.blob)).toString('utf8')
      : null;
    return new AppError(409, why, {
      code: 'conflict',
      details: {
        upstream: { content: upstreamContent, blobSha: current?.blob ?? null, commit: head },
      },
    });
  }
}

const RESULT_BY_CODE: Record<string, SaveResult> = {
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

function resultOf(err: unknown): SaveResult {
  if (err instanceof AppError && err.status < 500 && err.code)
    return RESULT_BY_CODE[err.code] ?? 'error';
  return 'error';
}

function parsePath(raw: string): string {
  try {
    return normalizeRepoPath(raw);
  } catch (err) {
    if (err instanceof PathError)
      throw new AppError(400, `invalid path: ${err.reason}`, { code: 'invalid_path' });
    throw err;
  }
}

function requireSha(value: string): void {
  if (!SHA.test(value)) {
    throw new AppError(400, 'baseCommit must be a full commit SHA', { code: 'invalid_base' });
  }
}

function checkMessage(message: string): void {
  if (message.length > MAX_MESSAGE || message.includes('\u0000') || !message.isWellFormed()) {
    throw new AppError(422, `commit message must be text of at most ${MAX_MESSAGE} characters`, {
      code: 'invalid_message',
    });
  }
}

/** Refuses writes through or onto anything that is not a plain file location. */
function requireWritableLocation(
  path: string,
  tree: Map<string, TreeEntry>,
  current: TreeEntry | undefined,
): void {
  if (current && (current.mode === '120000' || current.mode === '160000')) {
    throw new AppError(403, `${path} is not a regular file`, {
      code: 'forbidden_path',
      details: { reason: current.mode === '120000' ? 'symbolic link' : 'submodule' },
    });
  }
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const prefix = segments.slice(0, i).join('/');
    const entry = tree.get(prefix);
    if (!entry) continue;
    if (entry.mode === '120000') {
      throw new AppError(403, `${path} is beneath a symbolic link`, {
        code: 'forbidden_path',
        details: { reason: `symbolic link at ${prefix}` },
      });
    }
    throw new AppError(422, `${prefix} is a file, so ${path} cannot be created`, {
      code: 'path_conflict',
    });
  }
  if (!current) {
    const asDir = path + '/';
    for (const key of tree.keys()) {
      if (key.startsWith(asDir)) {
        throw new AppError(422, `${path} is a folder`, { code: 'path_conflict' });
      }
    }
  }
}

function structuralVerdict(
  entry: TreeEntry,
  symlinkDirs: string[],
): { editable: false; reason: string } | undefined {
  if (entry.mode === '120000') return { editable: false, reason: 'symbolic link' };
  if (entry.mode === '160000') return { editable: false, reason: 'submodule' };
  const below = symlinkDirs.find((dir) => entry.path.startsWith(dir));
  return below
    ? { editable: false, reason: `beneath symbolic link ${below.slice(0, -1)}` }
    : undefined;
}

/** Git's object id of a blob (SHA-1 repositories; SHA-256 ones never match, so never skip). */
function gitBlobSha(content: Buffer, idLength: number): string | undefined {
  if (idLength !== 40) return undefined;
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
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
