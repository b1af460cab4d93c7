/**
 * A change request's save takes in what the deploy branch gained since the change request last
 * did, so its preview runs what publishing would make and an overlap shows up while its author
 * is on the file, not at publish time. The save's path is merged three-way (`git merge-file`)
 * with the deploy branch's version; the other paths by `git merge-tree`. The commit pushed is
 * then a merge: the author's commit on the change request, and the deploy branch's head.
 *
 * When the path's changes overlap, the save is a conflict whose upstream is the deploy branch's
 * version, on a resolution base: a commit (never pushed) whose parents are the change request's
 * head and the deploy branch's head at the time. A save on that base is the author's resolution
 * of both: what either branch gained since is merged with it again, nothing is dropped.
 */
import type { TreeEntry } from './tree';
import type { GitWorkspace, Person } from './workspace';

/** Where the author's text stands: the change request's commit and the deploy branch's it includes. */
export interface TakeInBase {
  /** The change request's commit the author's text is based on. */
  onBranch: string;
  /** The deploy branch's commit whose version of the path the author resolved against, if any. */
  onDeploy: string | undefined;
}

/**
 * The two sides a base stands for: a plain commit of the change request, or a resolution base
 * (its parents are a commit of the change request and one of the deploy branch).
 */
export async function baseSides(
  workspace: GitWorkspace,
  base: string,
  head: string,
): Promise<TakeInBase> {
  const deploy = workspace.head;
  if ((await workspace.isAncestor(base, head)) || (await workspace.isAncestor(base, deploy))) {
    return { onBranch: base, onDeploy: undefined };
  }
  const onBranch = await workspace.merges.base(base, head);
  const onDeploy = await workspace.merges.base(base, deploy);
  if (!onBranch || !onDeploy || !(await workspace.isAncestor(onBranch, base))) {
    return { onBranch: base, onDeploy: undefined };
  }
  return { onBranch, onDeploy };
}

export type DeployMerge =
  | { kind: 'none' }
  /** The deploy branch changed the path too, in other lines: `content` has both. */
  | { kind: 'merged'; content: Buffer | null; changed: boolean; deploy: string; from: string }
  | {
      kind: 'conflict';
      message: string;
      content: string | null;
      blobSha: string | null;
      resolution: string;
    };

/**
 * What the deploy branch did to `path` since the change request at `head` took it in (or since
 * `onDeploy`, the version the author resolved against), merged with the author's `content`.
 */
export async function mergeDeployChange(
  workspace: GitWorkspace,
  change: { path: string; content: Buffer | null; head: string; onDeploy: string | undefined },
  author: Person,
  /** Checks a merged text; a reason refuses it (a conflict). */
  admit?: (merged: string) => Promise<string | undefined>,
): Promise<DeployMerge> {
  const deploy = workspace.head;
  if (await workspace.isAncestor(deploy, change.head)) return { kind: 'none' };
  const from = change.onDeploy ?? (await workspace.merges.base(change.head, deploy));
  if (!from) return { kind: 'none' };
  const [atFrom, onDeploy] = await Promise.all([
    workspace.entryAt(from, change.path),
    workspace.entryAt(deploy, change.path),
  ]);
  const unchanged = atFrom?.blob === onDeploy?.blob && atFrom?.mode === onDeploy?.mode;
  if (unchanged) return { kind: 'merged', content: change.content, changed: false, deploy, from };
  const theirs = onDeploy ? await workspace.readBlob(onDeploy.blob) : null;
  const conflict = async (why: string): Promise<DeployMerge> => ({
    kind: 'conflict',
    message: `${change.path} changed on ${workspace.branch} since this change request took it in${why}`,
    content: theirs === null ? null : theirs.toString('utf8'),
    blobSha: onDeploy?.blob ?? null,
    resolution: await workspace.commits.ofTree(
      `${change.head}^{tree}`,
      [change.head, deploy],
      author,
      `Resolve ${change.path} against ${workspace.branch}\n`,
    ),
  });
  if (change.content === null || theirs === null || modeChanged(atFrom, onDeploy)) {
    return conflict('');
  }
  const base = atFrom ? await workspace.readBlob(atFrom.blob) : Buffer.alloc(0);
  const merge = await workspace.merges.text(base, change.content, theirs);
  if (!merge.clean) return conflict(', and the changes overlap');
  const refusal = await admit?.(merge.text);
  if (refusal) return conflict(`; merged with yours it would not be saved: ${refusal}`);
  const content = Buffer.from(merge.text, 'utf8');
  return { kind: 'merged', content, changed: !content.equals(change.content), deploy, from };
}

function modeChanged(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  return !!a && !!b && a.mode !== b.mode;
}

/**
 * The merge commit that takes the deploy branch in on top of `commit` (the author's commit on
 * the change request, whose `path` already holds the merged text), or undefined when another
 * path conflicts (the save then stands alone; publishing names that path).
 */
export async function takeInCommit(
  workspace: GitWorkspace,
  at: {
    commit: string;
    deploy: string;
    path: string;
    content: Buffer | null;
    mode?: string | undefined;
  },
  branch: string,
  author: Person,
): Promise<string | undefined> {
  // The deploy branch's side with the path as the author's commit has it: the path then merges
  // as is, every other path three-way.
  const { commit: side } = await workspace.buildCommit({
    parent: at.deploy,
    path: at.path,
    content: at.content,
    mode: at.mode,
    author,
    message: 'side\n',
    branch,
  });
  const merged = await workspace.merges.trees(at.commit, side);
  if (!merged.tree) return undefined;
  return workspace.commits.ofTree(
    merged.tree,
    [at.commit, at.deploy],
    author,
    `Merge ${workspace.branch} into ${branch}\n`,
  );
}
