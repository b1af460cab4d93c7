/**
 * Rollback the way `main` stays true: a new commit on the branch whose tree is exactly an
 * earlier commit's, pushed without force. The pipeline then deploys it like any other push.
 */
import { AppError } from '../errors';
import type { GitWorkspace, Person } from './workspace';

export async function pushRestore(
  workspace: GitWorkspace,
  target: string,
  author: Person,
  message?: string,
): Promise<string> {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(target))
    throw new AppError(400, 'give the full SHA of the release', { code: 'invalid_sha' });
  return workspace.exclusive(async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const head = await workspace.fetch();
      if (!(await workspace.hasCommit(target)) || !(await workspace.isAncestor(target, head))) {
        throw new AppError(404, `${target.slice(0, 12)} is not a commit of ${workspace.branch}`, {
          code: 'not_found',
        });
      }
      if (target === head)
        throw new AppError(
          409,
          `${target.slice(0, 12)} is already the head of ${workspace.branch}`,
          { code: 'already_live' },
        );
      const commit = await workspace.buildRestoreCommit(
        head,
        target,
        author,
        message ?? `Roll back to ${target.slice(0, 12)}\n\nRestores the tree of ${target}.`,
      );
      const pushed = await workspace.push(commit);
      if (pushed.ok) return commit;
    }
    throw new AppError(503, `could not push the rollback: ${workspace.branch} keeps moving`, {
      code: 'push_contention',
      expose: true,
    });
  });
}
