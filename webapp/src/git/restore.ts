/**
 * Rollback the way `main` stays true: a new commit on the branch whose tree is exactly an
 * earlier commit's, pushed without force. The pipeline then deploys it like any other push.
 * The caller sees the paths the commit would change, on the head it would be made on, before
 * anything is pushed, and can refuse them.
 */
import { isFullSha } from './sha';
import type { GitWorkspace, Person } from './workspace';

export interface RestoreRefusal {
  kind: 'rejected';
  why: 'invalid_sha' | 'not_found' | 'already_live' | 'push_contention';
  message: string;
}

export type RestoreOutcome =
  { kind: 'committed'; commit: string; paths: string[] } | RestoreRefusal;

export interface RestoreOptions {
  message?: string;
  /** Called with the paths the restore changes on the current head; throw to refuse. */
  admit?: (paths: string[]) => void | Promise<void>;
}

/** The paths a restore of `target` would change on the branch as last fetched. */
export async function restorePreview(
  workspace: GitWorkspace,
  target: string,
): Promise<RestoreRefusal | { kind: 'preview'; head: string; paths: string[] }> {
  return workspace.exclusive(async () => {
    const head = await workspace.fetch();
    const refused = await checkTarget(workspace, target, head);
    if (refused) return refused;
    return { kind: 'preview', head, paths: await workspace.changedPaths(head, target) };
  });
}

export async function pushRestore(
  workspace: GitWorkspace,
  target: string,
  author: Person,
  options: RestoreOptions = {},
): Promise<RestoreOutcome> {
  return workspace.exclusive(async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const head = await workspace.fetch();
      const refused = await checkTarget(workspace, target, head);
      if (refused) return refused;
      const paths = await workspace.changedPaths(head, target);
      await options.admit?.(paths);
      const commit = await workspace.commits.restoring(
        head,
        target,
        author,
        options.message ?? `Roll back to ${target.slice(0, 12)}\n\nRestores the tree of ${target}.`,
      );
      const pushed = await workspace.push(commit);
      if (pushed.ok) return { kind: 'committed', commit, paths };
    }
    return {
      kind: 'rejected',
      why: 'push_contention',
      message: `could not push the rollback: ${workspace.branch} keeps moving`,
    };
  });
}

async function checkTarget(
  workspace: GitWorkspace,
  target: string,
  head: string,
): Promise<RestoreRefusal | undefined> {
  if (!isFullSha(target))
    return { kind: 'rejected', why: 'invalid_sha', message: 'give the full SHA of the release' };
  if (!(await workspace.hasCommit(target)) || !(await workspace.isAncestor(target, head))) {
    return {
      kind: 'rejected',
      why: 'not_found',
      message: `${target.slice(0, 12)} is not a commit of ${workspace.branch}`,
    };
  }
  if (target === head) {
    return {
      kind: 'rejected',
      why: 'already_live',
      message: `${target.slice(0, 12)} is already the head of ${workspace.branch}`,
    };
  }
  return undefined;
}
