/**
 * One change to one path, as one operation: a commit on the branch that writes (or removes)
 * the path, provided the path is unchanged upstream since the base the author started from,
 * pushed without force and retried on whatever others pushed meanwhile. The caller decides
 * who may change which path with what content; this decides what git makes of it.
 */
import type { Logger } from '../logger';
import { blobId, FILE_MODE, notRegular, type TreeEntry } from './tree';
import type { GitWorkspace, Person } from './workspace';

export interface OneChange {
  /** The commit the author's version is based on. */
  base: string;
  path: string;
  /** The new content, or null to delete the path. */
  content: Buffer | null;
  author: Person;
  /** The commit message for the path as it is on the branch (`existed`: whether it was there). */
  message: (existed: boolean) => string;
}

export interface Upstream {
  content: string | null;
  blobSha: string | null;
  commit: string;
}

export type ChangeOutcome =
  | { kind: 'committed'; commit: string; blobSha?: string }
  /** The branch holds this content already: nothing was committed. */
  | { kind: 'unchanged'; commit: string; blobSha: string }
  /** The path changed upstream since the base: here is the branch's version. */
  | { kind: 'conflict'; message: string; upstream: Upstream }
  | { kind: 'rejected'; why: RejectedWhy; message: string; detail?: string };

export type RejectedWhy =
  'unknown_base' | 'not_found' | 'not_regular' | 'path_conflict' | 'push_contention';

export interface ChangeOptions {
  logger: Logger;
  /** Pushes to try when others keep pushing in between (default 5). */
  maxPushAttempts?: number | undefined;
}

/** Commits and pushes `change` on the branch. Runs inside the workspace's queue. */
export function commitChange(
  workspace: GitWorkspace,
  change: OneChange,
  options: ChangeOptions,
): Promise<ChangeOutcome> {
  return workspace.exclusive(() => commitInQueue(workspace, change, options));
}

async function commitInQueue(
  workspace: GitWorkspace,
  change: OneChange,
  options: ChangeOptions,
): Promise<ChangeOutcome> {
  const { base, path } = change;
  if (!(await workspace.hasCommit(base))) {
    await workspace.fetch();
    if (!(await workspace.hasCommit(base))) {
      return rejected('unknown_base', `baseCommit ${base} is not a commit of ${workspace.branch}`);
    }
  }
  const attempts = options.maxPushAttempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const head = workspace.head;
    const headTree = await workspace.tree(head);
    const current = headTree.get(path);
    const conflict = await changedUpstream(workspace, base, head, path, current);
    if (conflict) return conflict;
    const location = unwritable(path, headTree, current);
    if (location) return location;
    if (change.content === null && !current) {
      return rejected('not_found', `no file ${path} on ${workspace.branch}`);
    }
    if (
      change.content !== null &&
      current &&
      blobId(change.content, current.blob.length) === current.blob
    ) {
      return { kind: 'unchanged', commit: head, blobSha: current.blob };
    }
    const { commit, blob } = await workspace.buildCommit({
      parent: head,
      path,
      content: change.content,
      mode: current?.mode,
      author: change.author,
      message: change.message(current !== undefined),
    });
    const entry: TreeEntry | null =
      change.content === null
        ? null
        : { path, mode: current?.mode ?? FILE_MODE.file, blob: blob!, size: change.content.length };
    const pushed = await workspace.push(commit, { parent: head, path, entry });
    if (pushed.ok) return { kind: 'committed', commit, ...(blob ? { blobSha: blob } : {}) };
    options.logger.info(
      { path, attempt },
      'push rejected: the branch moved; fetching and retrying',
    );
    await workspace.fetch();
  }
  return rejected(
    'push_contention',
    `could not push after ${attempts} attempts: ${workspace.branch} keeps moving`,
  );
}

/** Whether the file differs between `base` and `head` (in `base`'s view of it). */
export async function changedSince(
  workspace: GitWorkspace,
  base: string,
  path: string,
): Promise<boolean> {
  const head = workspace.head;
  if (base === head || !(await workspace.hasCommit(base))) return false;
  const current = (await workspace.tree(head)).get(path);
  const atBase = await workspace.entryAt(base, path);
  return atBase?.blob !== current?.blob;
}

/** A conflict when the path differs between the base and the head, with the upstream version. */
async function changedUpstream(
  workspace: GitWorkspace,
  base: string,
  head: string,
  path: string,
  current: TreeEntry | undefined,
): Promise<ChangeOutcome | undefined> {
  if (base === head) return undefined;
  let message: string | undefined;
  if (!(await workspace.isAncestor(base, head))) {
    message = `your base ${base.slice(0, 12)} is not on ${workspace.branch}`;
  } else {
    const atBase = await workspace.entryAt(base, path);
    if (atBase?.blob !== current?.blob || atBase?.mode !== current?.mode) {
      message = `${path} changed on ${workspace.branch} since ${base.slice(0, 12)}`;
    }
  }
  if (!message) return undefined;
  const content = current ? (await workspace.readBlob(current.blob)).toString('utf8') : null;
  return {
    kind: 'conflict',
    message,
    upstream: { content, blobSha: current?.blob ?? null, commit: head },
  };
}

/** Refuses writes through or onto anything that is not a plain file location. */
function unwritable(
  path: string,
  tree: Map<string, TreeEntry>,
  current: TreeEntry | undefined,
): ChangeOutcome | undefined {
  const what = current && notRegular(current);
  if (what) return rejected('not_regular', `${path} is not a regular file`, what);
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const prefix = segments.slice(0, i).join('/');
    const entry = tree.get(prefix);
    if (!entry) continue;
    if (entry.mode === FILE_MODE.symlink) {
      return rejected(
        'not_regular',
        `${path} is beneath a symbolic link`,
        `symbolic link at ${prefix}`,
      );
    }
    return rejected('path_conflict', `${prefix} is a file, so ${path} cannot be created`);
  }
  if (!current) {
    const asDir = path + '/';
    for (const key of tree.keys()) {
      if (key.startsWith(asDir)) return rejected('path_conflict', `${path} is a folder`);
    }
  }
  return undefined;
}

function rejected(why: RejectedWhy, message: string, detail?: string): ChangeOutcome {
  return { kind: 'rejected', why, message, ...(detail ? { detail } : {}) };
}
