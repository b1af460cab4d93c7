/**
 * One change to one path, as one operation: a commit on a branch that writes (or removes) the
 * path, pushed without force and retried on whatever others pushed meanwhile. When the path
 * changed on the branch since the base the author started from, the two changes are merged
 * three-way (`git merge-file`) if they do not overlap; overlapping ones, a deletion on either
 * side, or a merge the caller refuses are a conflict with the branch's version. Nothing is
 * overwritten. The caller decides who may change which path with what content; this decides
 * what git makes of it.
 */
import type { Logger } from '../logger';
import { baseSides, mergeDeployChange, takeInCommit } from './takeIn';
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
  /** The branch to commit to (default: the deploy branch). */
  branch?: string | undefined;
  /** When `branch` does not exist yet, it is created from this one's head (a new change request). */
  forkFrom?: string | undefined;
  /**
   * A change request's save: the branch takes in what the deploy branch gained since it last
   * did (takeIn.ts), the path merged three-way like a change made on the branch itself.
   */
  takeInDeploy?: boolean | undefined;
  /**
   * Paths the author's merge may not take in: when the deploy branch changed one of them, the
   * save stands alone on the change request (publishing brings them in). The deploy workflow's
   * policy counts every parent of an editor's merge, so such a merge would be refused there.
   */
  keepsOut?: ((path: string) => boolean) | undefined;
  /** Checks a merged text before it is committed; a reason refuses it (it becomes a conflict). */
  admitMerged?: ((merged: string) => Promise<string | undefined>) | undefined;
}

/** The author's change merged with one made on the branch since their base. */
export interface Merged {
  /** The text committed: both changes. */
  content: string;
  /** The branch's commit whose change was merged in. */
  theirs: string;
}

export interface Upstream {
  content: string | null;
  blobSha: string | null;
  /** The base to save a resolution on. */
  commit: string;
  /** When the version is another branch's (the deploy branch under a change request): which. */
  from?: { branch: string; commit: string };
}

export type ChangeOutcome =
  | { kind: 'committed'; commit: string; blobSha?: string; merged?: Merged }
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
  const branch = change.branch ?? workspace.branch;
  if (!(await workspace.hasCommit(base))) {
    await workspace.fetch();
    if (!(await workspace.hasCommit(base))) {
      return rejected('unknown_base', `baseCommit ${base} is not a commit of ${workspace.branch}`);
    }
  }
  if (branch !== workspace.branch) await workspace.fetchBranch(branch);
  const takeIn = change.takeInDeploy === true && branch !== workspace.branch;
  if (takeIn) await workspace.fetch();
  const attempts = options.maxPushAttempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const head = branchHead(workspace, branch, change.forkFrom);
    if (!head) return rejected('not_found', `no branch ${branch}`);
    const headTree = await workspace.tree(head);
    const current = headTree.get(path);
    const sides = takeIn
      ? await baseSides(workspace, base, head)
      : { onBranch: base, onDeploy: undefined };
    const upstream = await changedUpstream(workspace, branch, sides.onBranch, head, path, current);
    let content = change.content;
    let merged: Merged | undefined;
    if (upstream) {
      const merge = await mergeWithUpstream(workspace, change, upstream, current);
      if (merge.kind === 'conflict') return merge;
      content = Buffer.from(merge.content, 'utf8');
      merged = { content: merge.content, theirs: head };
    }
    let deploy: string | undefined;
    if (takeIn) {
      const taken = await mergeDeployChange(
        workspace,
        { path, content, head, onDeploy: sides.onDeploy },
        change.author,
        change.admitMerged,
      );
      if (taken.kind === 'conflict') {
        return {
          kind: 'conflict',
          message: taken.message,
          upstream: {
            content: taken.content,
            blobSha: taken.blobSha,
            commit: taken.resolution,
            from: { branch: workspace.branch, commit: workspace.head },
          },
        };
      }
      if (taken.kind === 'merged' && !(await gainsKeptOut(workspace, change, taken))) {
        deploy = taken.deploy;
        if (taken.changed && taken.content !== null) {
          const text = taken.content.toString('utf8');
          content = taken.content;
          merged = { content: text, theirs: taken.deploy };
        }
      }
    }
    const location = unwritable(path, headTree, current);
    if (location) return location;
    if (content === null && !current) {
      return rejected('not_found', `no file ${path} on ${branch}`);
    }
    if (content !== null && current && blobId(content, current.blob.length) === current.blob) {
      return { kind: 'unchanged', commit: head, blobSha: current.blob };
    }
    const { commit, blob } = await workspace.buildCommit({
      parent: head,
      path,
      content,
      mode: current?.mode,
      author: change.author,
      message: change.message(current !== undefined),
      branch,
    });
    const entry: TreeEntry | null =
      content === null
        ? null
        : { path, mode: current?.mode ?? FILE_MODE.file, blob: blob!, size: content.length };
    const takenIn =
      deploy === undefined
        ? undefined
        : await takeInCommit(
            workspace,
            { commit, deploy, path, content, mode: current?.mode },
            branch,
            change.author,
          );
    const pushed = takenIn
      ? await workspace.push(takenIn, undefined, branch)
      : await workspace.push(commit, { parent: head, path, entry }, branch);
    if (pushed.ok) {
      return {
        kind: 'committed',
        commit: takenIn ?? commit,
        ...(blob ? { blobSha: blob } : {}),
        ...(merged ? { merged } : {}),
      };
    }
    options.logger.info(
      { path, branch, attempt },
      'push rejected: the branch moved; fetching and retrying',
    );
    if (branch === workspace.branch) await workspace.fetch();
    else await workspace.fetchBranch(branch);
    if (change.forkFrom && !workspace.headOf(branch)) await workspace.fetchBranch(change.forkFrom);
  }
  return rejected(
    'push_contention',
    `could not push after ${attempts} attempts: ${branch} keeps moving`,
  );
}

/** The commit a change goes on: the branch's head, or for a branch still to be made, its fork's. */
function branchHead(
  workspace: GitWorkspace,
  branch: string,
  forkFrom: string | undefined,
): string | undefined {
  return workspace.headOf(branch) ?? (forkFrom ? workspace.headOf(forkFrom) : undefined);
}

/** What changed on the branch since the author's base, at the path. */
interface UpstreamChange {
  message: string;
  /** The path at the base; undefined when the base did not have it. */
  atBase: TreeEntry | undefined;
  /** Its content (read beside the branch's: the merge waits on one git process, not two). */
  baseContent: Buffer | undefined;
  /** Why the change cannot be merged, when it cannot be at all (a deletion, another history). */
  unmergeable?: string;
  upstream: Upstream;
}

/**
 * The author's text and the branch's merged three-way on their base, or a conflict carrying the
 * branch's version: when the changes overlap, either side deletes the file, or the merged text
 * fails the caller's check.
 */
async function mergeWithUpstream(
  workspace: GitWorkspace,
  change: OneChange,
  upstream: UpstreamChange,
  current: TreeEntry | undefined,
): Promise<{ kind: 'merged'; content: string } | Extract<ChangeOutcome, { kind: 'conflict' }>> {
  const conflict = (message: string) =>
    ({ kind: 'conflict', message, upstream: upstream.upstream }) as const;
  if (upstream.unmergeable || change.content === null || !current) {
    return conflict(upstream.message);
  }
  const base = upstream.baseContent ?? Buffer.alloc(0);
  const theirs = Buffer.from(upstream.upstream.content ?? '', 'utf8');
  const merge = await workspace.merges.text(base, change.content, theirs);
  if (!merge.clean) {
    return conflict(`${upstream.message}, and the changes overlap`);
  }
  const refusal = await change.admitMerged?.(merge.text);
  if (refusal) {
    return conflict(`${upstream.message}; merged with yours it would not be saved: ${refusal}`);
  }
  return { kind: 'merged', content: merge.text };
}

/** Whether the file differs between `base` and `head` (default: the deploy branch's). */
export async function changedSince(
  workspace: GitWorkspace,
  base: string,
  path: string,
  head: string = workspace.head,
): Promise<boolean> {
  if (base === head || !(await workspace.hasCommit(base))) return false;
  const current = (await workspace.tree(head)).get(path);
  const atBase = await workspace.entryAt(base, path);
  return atBase?.blob !== current?.blob;
}

/** What changed at the path on the branch since the base, with the branch's version; or nothing. */
async function changedUpstream(
  workspace: GitWorkspace,
  branch: string,
  base: string,
  head: string,
  path: string,
  current: TreeEntry | undefined,
): Promise<UpstreamChange | undefined> {
  if (base === head) return undefined;
  let message: string | undefined;
  let unmergeable: string | undefined;
  // Reads of immutable objects: side by side (a save's time is mostly git processes starting).
  const [atBase, onBranch] = await Promise.all([
    workspace.entryAt(base, path),
    workspace.isAncestor(base, head),
  ]);
  if (!onBranch) {
    message = `your base ${base.slice(0, 12)} is not on ${branch}`;
    unmergeable = 'another history';
  } else if (atBase?.blob !== current?.blob || atBase?.mode !== current?.mode) {
    message = `${path} changed on ${branch} since ${base.slice(0, 12)}`;
    if (atBase?.mode !== current?.mode && atBase && current) unmergeable = 'its mode changed';
  }
  if (!message) return undefined;
  const [theirs, baseContent] = await Promise.all([
    current ? workspace.readBlob(current.blob) : undefined,
    atBase && !unmergeable ? workspace.readBlob(atBase.blob) : undefined,
  ]);
  const content = theirs ? theirs.toString('utf8') : null;
  return {
    message,
    atBase,
    baseContent,
    ...(unmergeable ? { unmergeable } : {}),
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

/** Whether the deploy branch changed, since `from`, a path the author's merge may not take in. */
async function gainsKeptOut(
  workspace: GitWorkspace,
  change: Pick<OneChange, 'keepsOut'>,
  taken: { from: string; deploy: string },
): Promise<boolean> {
  if (!change.keepsOut) return false;
  return (await workspace.changedPaths(taken.from, taken.deploy)).some(change.keepsOut);
}
