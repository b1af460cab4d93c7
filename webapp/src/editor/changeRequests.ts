/**
 * Change requests: a branch `reflex/<author>/<slug>` with a title and a description, saved to
 * like the deploy branch and published into it. The rules are here, once, for both places a
 * change request can live (a `ChangeRequestBackend`, changeRequestBackend.ts); its names and
 * texts are checked in changeRequestNames.ts, and it is shown as changeRequestView.ts says. Saves go through EditorService, so the editable-path policy
 * applies to a change request's saves exactly as to direct ones; publishing checks every path
 * the change request brings in against the same policy, so a branch pushed by other means
 * cannot carry a protected path into the deploy branch.
 */
import type { ChangeRequest, Role, SaveResult, SaveTarget } from '../api/contract';
import type { AuditLog } from '../audit';
import type { PreviewInfo } from '../pipeline/types';
import { DomainError } from '../errors';
import type { WorkspaceSource } from '../git/clone';
import type { GitWorkspace } from '../git/workspace';
import type { ChangeRequestBackend, ChangeRequestRecord } from './changeRequestBackend';
import {
  branchOf,
  checkAuthorName,
  checkDescription,
  checkTitle,
  partsOf,
  slugify,
} from './changeRequestNames';
import { describeChangeRequest } from './changeRequestView';
import type { EditPolicy } from './policy';
import type { EditorService, EditorUser } from './service';

export interface ChangeRequestRules {
  /** Roles that may save straight to the deploy branch. */
  directSaveRoles: readonly Role[];
  /** Roles whose saves go to a change request unless they choose otherwise. */
  changeRequestRoles: readonly Role[];
  /** Roles that may publish a change request. */
  publishRoles: readonly Role[];
  /** A preview's URL from its name (`{name}` in REFLEX_PREVIEW_URL); undefined: no previews. */
  previewUrl?: ((name: string) => string) | undefined;
}

export interface ChangeRequestServiceOptions extends ChangeRequestRules {
  backend: ChangeRequestBackend;
  editor: EditorService;
  workspace: WorkspaceSource;
  policy: EditPolicy;
  audit: AuditLog;
}

/** Where `role`'s saves go by default, under the rules. */
export function saveTargetFor(
  rules: Pick<ChangeRequestRules, 'directSaveRoles' | 'changeRequestRoles'>,
  role: Role,
): SaveTarget {
  return rules.directSaveRoles.includes(role) && !rules.changeRequestRoles.includes(role)
    ? 'direct'
    : 'change-request';
}

export class ChangeRequestService {
  private previews: (() => Promise<PreviewInfo[]>) | undefined;

  constructor(private readonly options: ChangeRequestServiceOptions) {}

  /** Where the previews' states come from (the local pipeline's supervisor). */
  followPreviews(previews: () => Promise<PreviewInfo[]>): void {
    this.previews = previews;
  }

  get kind(): 'local' | 'github' {
    return this.options.backend.kind;
  }

  private get workspace(): GitWorkspace {
    return this.options.workspace.current();
  }

  /** Refuses a direct save by a role the operator limited to change requests. */
  admitDirect(user: EditorUser): void {
    if (user.role === 'viewer' || this.options.directSaveRoles.includes(user.role)) return;
    throw new DomainError(
      'forbidden_role',
      'your role saves to change requests: saves straight to the deploy branch are for ' +
        this.options.directSaveRoles.join(', '),
      {
        details: {
          reason: `direct saves are limited to ${this.options.directSaveRoles.join(', ')}`,
        },
      },
    );
  }

  canPublish(user: EditorUser): boolean {
    return this.options.publishRoles.includes(user.role);
  }

  /** Opens a change request: a branch from the deploy branch's head, with a first empty commit. */
  async create(
    user: EditorUser,
    input: { title: string; description?: string | undefined },
  ): Promise<ChangeRequest> {
    if (user.role === 'viewer') {
      throw new DomainError('forbidden_role', 'your role cannot open change requests');
    }
    checkAuthorName(user.username);
    const title = checkTitle(input.title);
    const description = checkDescription(input.description ?? '');
    const workspace = this.workspace;
    const base = slugify(title);
    const branch = await workspace.exclusive(async () => {
      const taken = new Set(
        [...(await workspace.remoteBranches('reflex/')).keys()].map((b) => partsOf(b)?.slug ?? b),
      );
      const head = await workspace.fetch();
      for (let n = 1; n <= 50; n++) {
        const slug = n === 1 ? base : `${base.slice(0, 28)}-${n}`;
        // Preview host names are per slug, whoever the author: a slug is never reused.
        if (taken.has(slug)) continue;
        const candidate = `reflex/${user.username}/${slug}`;
        // Empty (the deploy branch's tree): a pull request needs a commit to exist.
        const commit = await workspace.commits.restoring(
          head,
          head,
          { name: user.name, email: user.email },
          `Open change request: ${title}\n\n${description ? `${description}\n\n` : ''}Change-Request: ${candidate}\nOpened in the Reflex editor by ${user.username}.\n`,
        );
        const pushed = await workspace.push(commit, undefined, candidate);
        if (pushed.ok) return candidate;
      }
      throw new DomainError('push_contention', `no free name for a change request "${title}"`);
    });
    const record = await this.options.backend.open(
      {
        branch,
        title,
        description,
        author: user.username,
        status: 'open',
        url: null,
        checks: null,
        review: null,
      },
      user,
    );
    await this.options.audit.record({
      user: user.username,
      action: 'change-request',
      branch,
      result: 'opened',
    });
    return this.describe(record);
  }

  async list(): Promise<ChangeRequest[]> {
    const [records, previews] = await Promise.all([
      this.options.backend.list(),
      this.previewStates(),
    ]);
    return Promise.all(records.map((record) => this.describe(record, previews)));
  }

  async get(user: string, slug: string): Promise<ChangeRequest> {
    const [record, previews] = await Promise.all([
      this.record(branchOf(user, slug)),
      this.previewStates(),
    ]);
    return this.describe(record, previews);
  }

  /** The previews by branch; none when the pipeline does not say (or cannot be reached now). */
  private async previewStates(): Promise<Map<string, PreviewInfo>> {
    try {
      const previews = (await this.previews?.()) ?? [];
      return new Map(previews.map((p) => [p.branch, p]));
    } catch {
      return new Map();
    }
  }

  async update(
    by: EditorUser,
    user: string,
    slug: string,
    change: { title?: string | undefined; description?: string | undefined },
  ): Promise<ChangeRequest> {
    const record = await this.openRecord(branchOf(user, slug));
    this.requireWriter(by, record);
    const title = change.title === undefined ? undefined : checkTitle(change.title);
    const description =
      change.description === undefined ? undefined : checkDescription(change.description);
    const updated = await this.options.backend.update(record.branch, { title, description });
    await this.options.audit.record({
      user: by.username,
      action: 'change-request',
      branch: record.branch,
      result: 'updated',
    });
    return this.describe(updated);
  }

  /** The open change request's branch for a save to it (EditorService does the rest). */
  async branchForSave(user: string, slug: string): Promise<string> {
    return (await this.openRecord(branchOf(user, slug))).branch;
  }

  async save(
    by: EditorUser,
    user: string,
    slug: string,
    path: string,
    body: { content: string; baseCommit: string; message?: string | undefined },
  ): Promise<SaveResult> {
    const branch = await this.branchForSave(user, slug);
    return this.options.editor.save(by, path, body, { branch });
  }

  async remove(
    by: EditorUser,
    user: string,
    slug: string,
    path: string,
    baseCommit: string,
    message?: string,
  ): Promise<SaveResult> {
    const branch = await this.branchForSave(user, slug);
    return this.options.editor.remove(by, path, baseCommit, message, { branch });
  }

  /**
   * Merges the change request into the deploy branch, through the backend; the pipeline takes
   * the merge commit from there. Only a publishing role may; every path it brings in must be
   * one the publisher could save (never a protected one).
   */
  async publish(by: EditorUser, user: string, slug: string) {
    const branch = branchOf(user, slug);
    const audit = { user: by.username, action: 'publish' as const, branch };
    try {
      if (!this.canPublish(by)) {
        throw new DomainError(
          'forbidden_role',
          `your role cannot publish change requests (${this.options.publishRoles.join(', ')} can)`,
        );
      }
      const record = await this.openRecord(branch);
      const workspace = this.workspace;
      const { head, paths } = await workspace.exclusive(async () => {
        const main = await workspace.fetch();
        const head = await workspace.fetchBranch(branch);
        if (!head) throw new DomainError('not_found', `the branch ${branch} is gone`);
        const base = await workspace.merges.base(main, head);
        if (!base)
          throw new DomainError('conflict', `${branch} shares no history with ${workspace.branch}`);
        return { head, paths: await workspace.changedPaths(base, head) };
      });
      for (const path of paths) {
        const verdict = this.options.policy.verdictFor(by.role, path);
        if (!verdict.editable) {
          throw new DomainError(
            'forbidden_path',
            `${branch} changes ${path}, which cannot be changed from the editor`,
            { details: { reason: verdict.reason } },
          );
        }
      }
      const { commit } = await this.options.backend.publish({ record, head, by });
      await this.options.audit.record({ ...audit, result: 'published', commit });
      const published = (await this.options.backend.get(branch)) ?? {
        ...record,
        status: 'published' as const,
        mergeCommit: commit,
      };
      return { commit, changeRequest: await this.describe({ ...published, mergeCommit: commit }) };
    } catch (err) {
      await this.options.audit.record({
        ...audit,
        result: err instanceof DomainError ? err.code : 'error',
        reason: (err as Error).message,
      });
      throw err;
    }
  }

  /** Closes it unmerged: its author or a publishing role. */
  async close(by: EditorUser, user: string, slug: string): Promise<ChangeRequest> {
    const record = await this.openRecord(branchOf(user, slug));
    if (by.username !== record.author && !this.canPublish(by)) {
      throw new DomainError(
        'forbidden_role',
        `only ${record.author} or a role that publishes can close ${record.branch}`,
      );
    }
    await this.options.backend.close(record.branch, by);
    await this.options.audit.record({
      user: by.username,
      action: 'change-request',
      branch: record.branch,
      result: 'closed',
    });
    return this.describe(
      (await this.options.backend.get(record.branch)) ?? { ...record, status: 'closed' },
    );
  }

  private requireWriter(by: EditorUser, record: ChangeRequestRecord): void {
    if (by.role === 'viewer') {
      throw new DomainError('forbidden_role', `your role cannot change ${record.branch}`);
    }
  }

  private async record(branch: string): Promise<ChangeRequestRecord> {
    const record = await this.options.backend.get(branch);
    if (!record) throw new DomainError('not_found', `no change request ${branch}`);
    return record;
  }

  private describe(
    record: ChangeRequestRecord,
    previews?: Map<string, PreviewInfo>,
  ): Promise<ChangeRequest> {
    return describeChangeRequest(record, {
      workspace: this.options.workspace,
      previewUrl: this.options.previewUrl,
      previews,
    });
  }

  private async openRecord(branch: string): Promise<ChangeRequestRecord> {
    const record = await this.record(branch);
    if (record.status !== 'open') {
      throw new DomainError('conflict', `the change request ${branch} is ${record.status}`);
    }
    return record;
  }
}
