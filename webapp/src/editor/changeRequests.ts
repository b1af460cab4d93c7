/**
 * Change requests: a branch `reflex/<author>/<slug>` with a title and a description, saved to
 * like the deploy branch and published into it. The rules are here, once, for both places a
 * change request can live (a `ChangeRequestBackend`): on one machine, branches of the origin and
 * the platform's state (localChangeRequests.ts); on GitHub, pull requests
 * (githubChangeRequests.ts). Saves go through EditorService, so the editable-path policy
 * applies to a change request's saves exactly as to direct ones; publishing checks every path
 * the change request brings in against the same policy, so a branch pushed by other means
 * cannot carry a protected path into the deploy branch.
 */
import type {
  ChangeRequest,
  ChecksState,
  ReviewState,
  Role,
  SaveResult,
  SaveTarget,
} from '../api/contract';
import type { AuditLog } from '../audit';
import type { PreviewInfo } from '../pipeline/types';
import { DomainError } from '../errors';
import type { WorkspaceSource } from '../git/clone';
import type { GitWorkspace } from '../git/workspace';
import type { EditPolicy } from './policy';
import type { EditorService, EditorUser } from './service';

/** What a backend keeps of a change request; files and preview come from git and the config. */
export interface ChangeRequestRecord {
  branch: string;
  title: string;
  description: string;
  author: string;
  status: ChangeRequest['status'];
  url: string | null;
  checks: ChecksState | null;
  review: ReviewState | null;
  mergeCommit?: string;
}

/** A merge the backend was asked to make, and the commit it made. */
export interface PublishRequest {
  record: ChangeRequestRecord;
  /** The branch's head the checks were made on: nothing newer may be merged unchecked. */
  head: string;
  by: EditorUser;
}

/** Where change requests live. One interface, two implementations (like the pipeline tracker). */
export interface ChangeRequestBackend {
  readonly kind: 'local' | 'github';
  /** Records a change request whose branch was just pushed. */
  open(record: ChangeRequestRecord, by: EditorUser): Promise<ChangeRequestRecord>;
  /** The open change requests. */
  list(): Promise<ChangeRequestRecord[]>;
  /** One change request (open or not), or undefined. */
  get(branch: string): Promise<ChangeRequestRecord | undefined>;
  update(
    branch: string,
    change: { title?: string | undefined; description?: string | undefined },
  ): Promise<ChangeRequestRecord>;
  /** Merges the branch into the deploy branch; refusals are DomainErrors saying why. */
  publish(request: PublishRequest): Promise<{ commit: string }>;
  /** Closes it unmerged. */
  close(branch: string, by: EditorUser): Promise<void>;
}

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

/** `reflex/<author>/<slug>`, as the previews of the loop recognise it. */
const PART = /^[a-z0-9][a-z0-9._-]{0,39}$/;
const SLUG = /^[a-z0-9][a-z0-9-]{0,39}$/;
const MAX_TITLE = 200;
const MAX_DESCRIPTION = 10_000;

/** The branch of a change request, from its id's two parts; refuses anything else. */
export function branchOf(user: string, slug: string): string {
  if (!PART.test(user) || !SLUG.test(slug)) {
    throw new DomainError('invalid_request', `no change request ${user}/${slug}: not a valid id`);
  }
  return `reflex/${user}/${slug}`;
}

/** `{user, slug}` of a change request's branch, or undefined for any other branch. */
export function partsOf(branch: string): { user: string; slug: string } | undefined {
  const [prefix, user, slug, ...rest] = branch.split('/');
  if (prefix !== 'reflex' || rest.length > 0 || !user || !slug) return undefined;
  if (!PART.test(user) || !SLUG.test(slug) || slug === 'editor') return undefined;
  return { user, slug };
}

/** A slug from a title: lower-case words joined by `-`, short enough for a host name. */
export function slugify(title: string): string {
  const slug = title
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  // `editor` would be the editor's own host name.
  return !slug || slug === 'editor' ? 'change' : slug;
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
    if (!PART.test(user.username)) {
      throw new DomainError(
        'invalid_request',
        `the user name ${user.username} cannot name a branch (a-z, 0-9, ".", "_", "-"; at most 40)`,
      );
    }
    const title = checkText('title', input.title, MAX_TITLE);
    if (!title) throw new DomainError('invalid_request', 'title: must not be empty');
    const description = checkText('description', input.description ?? '', MAX_DESCRIPTION);
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
    const title =
      change.title === undefined ? undefined : checkText('title', change.title, MAX_TITLE);
    if (title === '') throw new DomainError('invalid_request', 'title: must not be empty');
    const description =
      change.description === undefined
        ? undefined
        : checkText('description', change.description, MAX_DESCRIPTION);
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

  private async openRecord(branch: string): Promise<ChangeRequestRecord> {
    const record = await this.record(branch);
    if (record.status !== 'open') {
      throw new DomainError('conflict', `the change request ${branch} is ${record.status}`);
    }
    return record;
  }

  /** The record with what git says it changes, and its preview. */
  private async describe(
    record: ChangeRequestRecord,
    previews?: Map<string, PreviewInfo>,
  ): Promise<ChangeRequest> {
    const parts = partsOf(record.branch)!;
    let head: string | null = null;
    let files: string[] = [];
    if (record.status === 'open') {
      const workspace = this.workspace;
      const found = await workspace.exclusive(async () => {
        const branchHead = await workspace.fetchBranch(record.branch);
        if (!branchHead) return undefined;
        const base = await workspace.merges.base(workspace.head, branchHead);
        return {
          head: branchHead,
          files: base ? await workspace.changedPaths(base, branchHead) : [],
        };
      });
      head = found?.head ?? null;
      files = found?.files ?? [];
    }
    const preview = record.status === 'open' ? previews?.get(record.branch) : undefined;
    const previewUrl =
      record.status !== 'open'
        ? null
        : this.options.previewUrl
          ? this.options.previewUrl(parts.slug)
          : (preview?.url ?? null);
    return {
      id: `${parts.user}/${parts.slug}`,
      branch: record.branch,
      title: record.title,
      description: record.description,
      author: record.author,
      status: record.status,
      head,
      files,
      previewUrl,
      preview: preview
        ? { state: preview.state, ...(preview.error ? { error: preview.error } : {}) }
        : null,
      url: record.url,
      checks: record.checks,
      review: record.review,
      ...(record.mergeCommit ? { mergeCommit: record.mergeCommit } : {}),
    };
  }
}

function checkText(field: string, value: string, max: number): string {
  const text = value.trim();
  if (text.length > max || text.includes('\u0000') || !text.isWellFormed()) {
    throw new DomainError('invalid_request', `${field}: must be text of at most ${max} characters`);
  }
  return text;
}
