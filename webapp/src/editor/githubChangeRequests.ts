/**
 * Change requests on GitHub: each is a pull request from its branch into the deploy branch,
 * opened, updated, merged and closed through GitHub's REST API (Octokit) with the platform's
 * token. GitHub is the state: nothing is kept here. The pull request's CI status (its check
 * runs) and review state are read with it. GitHub decides whether a merge may happen (branch
 * protection, required checks and reviews); when it refuses, its reason is the error's.
 */
import { Octokit } from '@octokit/rest';
import type { components } from '@octokit/openapi-types';
import type { ChecksState, ReviewState } from '../api/contract';
import { DomainError } from '../errors';
import type { Logger } from '../logger';
import type {
  ChangeRequestBackend,
  ChangeRequestRecord,
  PublishRequest,
} from './changeRequestBackend';
import { partsOf } from './changeRequestNames';
import type { EditorUser } from './service';

type PullRequest =
  components['schemas']['pull-request-simple'] | components['schemas']['pull-request'];

export interface GitHubChangeRequestOptions {
  /** `owner/repo`. */
  repository: string;
  /** The platform's token: pull requests read and write, contents write. */
  token: string;
  /** GitHub's REST API root, e.g. https://api.github.com. */
  apiUrl: string;
  /** The deploy branch pull requests go into. */
  branch: string;
  fetch?: typeof fetch;
  /** Where Octokit's own log lines go (each failed request; default: nowhere). */
  logger?: Logger | undefined;
}

/** Ends the description in a pull request's body; what follows is ours. */
const TRAILER = '\n\n<!-- reflex -->\n';

export class GitHubChangeRequests implements ChangeRequestBackend {
  readonly kind = 'github' as const;
  private readonly octokit: Octokit;
  private readonly owner: string;
  private readonly repo: string;

  constructor(private readonly options: GitHubChangeRequestOptions) {
    const [owner, repo] = options.repository.split('/') as [string, string];
    this.owner = owner;
    this.repo = repo;
    this.octokit = new Octokit({
      auth: options.token,
      baseUrl: options.apiUrl.replace(/\/+$/, ''),
      userAgent: 'reflex-editor',
      // A refused request becomes a DomainError with GitHub's reason; Octokit's line is detail.
      log: octokitLog(options.logger),
      ...(options.fetch ? { request: { fetch: options.fetch } } : {}),
    });
  }

  async open(record: ChangeRequestRecord, by: EditorUser): Promise<ChangeRequestRecord> {
    const pull = await this.call('open a pull request', () =>
      this.octokit.rest.pulls.create({
        owner: this.owner,
        repo: this.repo,
        title: record.title,
        body: bodyOf(record.description, by.username),
        head: record.branch,
        base: this.options.branch,
      }),
    );
    return this.recordOf(pull.data, { checks: null, review: 'none' });
  }

  async list(): Promise<ChangeRequestRecord[]> {
    const pulls = await this.call('list pull requests', () =>
      this.octokit.rest.pulls.list({
        owner: this.owner,
        repo: this.repo,
        state: 'open',
        base: this.options.branch,
        per_page: 100,
      }),
    );
    // Only the platform's branches of this repository (never a fork's of the same name).
    const ours = pulls.data.filter(
      (p) => partsOf(p.head.ref) && p.head.repo?.full_name === this.options.repository,
    );
    return Promise.all(ours.map(async (p) => this.recordOf(p, await this.state(p))));
  }

  async get(branch: string): Promise<ChangeRequestRecord | undefined> {
    const pull = await this.pullOf(branch);
    return pull && this.recordOf(pull, pull.state === 'open' ? await this.state(pull) : undefined);
  }

  async update(
    branch: string,
    change: { title?: string | undefined; description?: string | undefined },
  ): Promise<ChangeRequestRecord> {
    const pull = await this.openPull(branch);
    const author = partsOf(branch)?.user ?? '';
    const updated = await this.call('update the pull request', () =>
      this.octokit.rest.pulls.update({
        owner: this.owner,
        repo: this.repo,
        pull_number: pull.number,
        ...(change.title === undefined ? {} : { title: change.title }),
        ...(change.description === undefined ? {} : { body: bodyOf(change.description, author) }),
      }),
    );
    return this.recordOf(updated.data, await this.state(updated.data));
  }

  async publish({ record, head, by }: PublishRequest): Promise<{ commit: string }> {
    const pull = await this.openPull(record.branch);
    const merged = await this.call(
      'merge the pull request',
      () =>
        this.octokit.rest.pulls.merge({
          owner: this.owner,
          repo: this.repo,
          pull_number: pull.number,
          // Only the head the platform checked: a newer push makes GitHub refuse (409).
          sha: head,
          merge_method: 'merge',
          commit_title: `Publish change request: ${record.title} (#${pull.number})`,
          commit_message: `Change-Request: ${record.branch}\nAuthor: ${record.author}\nPublished in the Reflex editor by ${by.username}.`,
        }),
      'merge_refused',
    );
    await this.deleteBranch(record.branch);
    return { commit: merged.data.sha };
  }

  async close(branch: string): Promise<void> {
    const pull = await this.openPull(branch);
    await this.call('close the pull request', () =>
      this.octokit.rest.pulls.update({
        owner: this.owner,
        repo: this.repo,
        pull_number: pull.number,
        state: 'closed',
      }),
    );
    await this.deleteBranch(branch);
  }

  /** The branch goes (its preview with it); GitHub may have deleted it already. */
  private async deleteBranch(branch: string): Promise<void> {
    try {
      await this.octokit.rest.git.deleteRef({
        owner: this.owner,
        repo: this.repo,
        ref: `heads/${branch}`,
      });
    } catch (err) {
      if (statusOf(err) !== 422 && statusOf(err) !== 404)
        throw this.refusal('delete the branch', err);
    }
  }

  /** The newest pull request from `branch`, open or not. */
  private async pullOf(branch: string): Promise<PullRequest | undefined> {
    const pulls = await this.call('find the pull request', () =>
      this.octokit.rest.pulls.list({
        owner: this.owner,
        repo: this.repo,
        head: `${this.owner}:${branch}`,
        state: 'all',
        per_page: 10,
      }),
    );
    return pulls.data.find((p) => p.head.ref === branch);
  }

  private async openPull(branch: string): Promise<PullRequest> {
    const pull = await this.pullOf(branch);
    if (!pull || pull.state !== 'open') {
      throw new DomainError('conflict', `no open pull request from ${branch}`);
    }
    return pull;
  }

  /** The CI status of the head (its check runs) and the review state. */
  private async state(
    pull: PullRequest,
  ): Promise<{ checks: ChecksState | null; review: ReviewState }> {
    const [checks, reviews] = await Promise.all([
      this.call('read the checks', () =>
        this.octokit.rest.checks.listForRef({
          owner: this.owner,
          repo: this.repo,
          ref: pull.head.sha,
          per_page: 100,
        }),
      ),
      this.call('read the reviews', () =>
        this.octokit.rest.pulls.listReviews({
          owner: this.owner,
          repo: this.repo,
          pull_number: pull.number,
          per_page: 100,
        }),
      ),
    ]);
    return {
      checks: checksState(checks.data.check_runs),
      review: reviewState(reviews.data),
    };
  }

  private recordOf(
    pull: PullRequest,
    state: { checks: ChecksState | null; review: ReviewState } | undefined,
  ): ChangeRequestRecord {
    const body = pull.body ?? '';
    const end = body.indexOf(TRAILER);
    return {
      branch: pull.head.ref,
      title: pull.title,
      description: end === -1 ? body : body.slice(0, end),
      author: partsOf(pull.head.ref)?.user ?? pull.user?.login ?? '',
      status: pull.state === 'open' ? 'open' : pull.merged_at ? 'published' : 'closed',
      url: pull.html_url,
      checks: state?.checks ?? null,
      review: state?.review ?? null,
      ...(pull.merged_at && pull.merge_commit_sha ? { mergeCommit: pull.merge_commit_sha } : {}),
    };
  }

  private async call<T>(
    what: string,
    request: () => Promise<T>,
    code: 'merge_refused' | 'push_failed' = 'push_failed',
  ): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw this.refusal(what, err, code);
    }
  }

  /** GitHub's own reason, in a DomainError. */
  private refusal(
    what: string,
    err: unknown,
    code: 'merge_refused' | 'push_failed' = 'push_failed',
  ) {
    const status = statusOf(err);
    if (status === undefined) return err;
    const data = (err as { response?: { data?: { message?: unknown } } }).response?.data;
    const reason = typeof data?.message === 'string' ? data.message : (err as Error).message;
    return new DomainError(
      status < 500 && code === 'merge_refused' ? code : 'push_failed',
      `GitHub refused to ${what}: ${reason}`,
      { details: { reason, githubStatus: status }, cause: err },
    );
  }
}

function octokitLog(logger: Logger | undefined) {
  const to = (level: 'debug' | 'info' | 'warn') => (message: string) => logger?.[level](message);
  return { debug: to('debug'), info: to('debug'), warn: to('warn'), error: to('info') };
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' ? status : undefined;
}

function bodyOf(description: string, author: string): string {
  return `${description}${TRAILER}Opened in the Reflex editor by ${author}.`;
}

/** One state for all the check runs of a commit: any failure fails; any still running waits. */
export function checksState(
  runs: readonly Pick<components['schemas']['check-run'], 'status' | 'conclusion'>[],
): ChecksState | null {
  if (runs.length === 0) return null;
  const failed = ['failure', 'timed_out', 'cancelled', 'action_required', 'startup_failure'];
  if (runs.some((r) => r.conclusion && failed.includes(r.conclusion))) return 'failure';
  if (runs.some((r) => r.status !== 'completed')) return 'pending';
  return 'success';
}

/** The reviewers' latest verdicts: a request for changes outweighs approvals. */
export function reviewState(
  reviews: readonly Pick<components['schemas']['pull-request-review'], 'state' | 'user'>[],
): ReviewState {
  const latest = new Map<string, string>();
  for (const review of reviews) {
    if (review.state === 'COMMENTED' || review.state === 'PENDING') continue;
    latest.set(review.user?.login ?? '', review.state);
  }
  const verdicts = [...latest.values()];
  if (verdicts.includes('CHANGES_REQUESTED')) return 'changes_requested';
  if (verdicts.includes('APPROVED')) return 'approved';
  return reviews.length > 0 ? 'commented' : 'none';
}
