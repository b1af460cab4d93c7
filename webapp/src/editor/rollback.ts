/**
 * Rolling the branch back to a release, under the same rules as a save: only to a release
 * that was live (per the pipeline's release history, not any old commit), and the revert
 * commit's paths pass the path policy for the user's role. A revert across protected paths
 * (platform code, CI, deployment) is an `admin`'s decision. The paths are known before
 * anything is pushed (`preview`), and checked again on the head the commit is made on.
 */
import type { RollbackPreview } from '../api/contract';
import type { AuditLog } from '../audit';
import { DomainError } from '../errors';
import { pushRestore, restorePreview, type RestoreRefusal } from '../git/restore';
import { isFullSha } from '../git/sha';
import type { WorkspaceSource } from '../git/clone';
import { WAS_LIVE, type ReleaseRecord } from '../pipeline/types';
import { protectedEntry, type EditPolicy } from './policy';
import { resultOf, type EditorUser } from './service';

export interface RollbackOptions {
  workspace: WorkspaceSource;
  policy: EditPolicy;
  audit: AuditLog;
  /** The pipeline's release history, newest first. */
  releases: () => Promise<ReleaseRecord[]>;
}

/** Whether `user` may make a commit changing `paths`, and if not, why. */
export function rollbackVerdict(
  policy: EditPolicy,
  user: EditorUser,
  paths: readonly string[],
): Omit<RollbackPreview, 'sha' | 'paths'> {
  const protectedPaths = paths.filter((p) => protectedEntry(p) !== undefined);
  if (user.role === 'viewer') {
    return { protectedPaths, allowed: false, reason: `role ${user.role} is read-only` };
  }
  if (user.role === 'admin') return { protectedPaths, allowed: true };
  if (protectedPaths.length > 0) {
    return {
      protectedPaths,
      allowed: false,
      reason: `the rollback changes ${protectedPaths.length} protected path(s), e.g. ${protectedPaths[0]}: only an admin may roll back across them`,
    };
  }
  for (const path of paths) {
    const verdict = policy.verdictFor(user.role, path);
    if (!verdict.editable) {
      return { protectedPaths, allowed: false, reason: `${path}: ${verdict.reason}` };
    }
  }
  return { protectedPaths, allowed: true };
}

export class RollbackService {
  constructor(private readonly options: RollbackOptions) {}

  /** What a rollback to `sha` would change, and whether `user` may run it. */
  async preview(user: EditorUser, sha: string): Promise<RollbackPreview> {
    await this.requireRelease(sha);
    const outcome = await restorePreview(this.options.workspace.current(), sha);
    if (outcome.kind !== 'preview') throw refusal(outcome);
    return {
      sha,
      paths: outcome.paths,
      ...rollbackVerdict(this.options.policy, user, outcome.paths),
    };
  }

  /** Pushes a commit restoring `sha`'s tree, made by `user`; returns the commit. */
  async rollback(user: EditorUser, sha: string): Promise<string> {
    const audit = { user: user.username, action: 'rollback' as const, base: sha };
    try {
      if (user.role === 'viewer') {
        throw new DomainError('forbidden_role', 'your role cannot roll back', {
          details: { reason: `role ${user.role} is read-only` },
        });
      }
      await this.requireRelease(sha);
      const outcome = await pushRestore(
        this.options.workspace.current(),
        sha,
        { name: user.name, email: user.email },
        {
          admit: (paths) => {
            const verdict = rollbackVerdict(this.options.policy, user, paths);
            if (!verdict.allowed) {
              throw new DomainError('forbidden_path', 'this rollback is not yours to make', {
                details: { reason: verdict.reason, protectedPaths: verdict.protectedPaths },
              });
            }
          },
        },
      );
      if (outcome.kind !== 'committed') throw refusal(outcome);
      await this.options.audit.record({ ...audit, result: 'committed', commit: outcome.commit });
      return outcome.commit;
    } catch (err) {
      await this.options.audit.record({
        ...audit,
        result: resultOf(err),
        reason: (err as Error).message,
      });
      throw err;
    }
  }

  /** Only a commit that served as a release can be rolled back to. */
  private async requireRelease(sha: string): Promise<void> {
    if (!isFullSha(sha)) throw new DomainError('invalid_sha', 'give the full SHA of the release');
    const release = (await this.options.releases()).find((r) => r.sha === sha);
    if (!release || !(release.live || WAS_LIVE.includes(release.outcome))) {
      throw new DomainError(
        'not_a_release',
        `${sha.slice(0, 12)} was never live: roll back only to a release that served`,
      );
    }
  }
}

function refusal(outcome: RestoreRefusal): DomainError {
  return new DomainError(outcome.why, outcome.message);
}
