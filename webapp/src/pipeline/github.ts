/**
 * The pipeline tracker of the AWS path: follows the GitHub Actions run of `deploy.yml` for a
 * pushed SHA through GitHub's REST API (a token with `actions: read`), then the public
 * `/version`, and reports the stages committed → tests → image → deploy → live, or a failed
 * stage with a link to the run.
 *
 * Jobs of deploy.yml map to stages: `test / …` and `promotion-check` → tests, `image` → image,
 * `deploy` → deploy. `live` is when the public `/version` reports the SHA.
 *
 * Takes every dependency as an argument (API base URL, token, repository, public URL, clock,
 * poll interval, fetch); it is not wired into the app here.
 */
import type {
  PipelineTracker,
  ReleaseOutcome,
  ReleaseRecord,
  StageEvent,
  StageName,
  StageRecord,
  StageStatus,
} from './types';
import { EventBuffer } from './eventBuffer';

export interface GitHubTrackerOptions {
  /** GitHub's REST API root, e.g. https://api.github.com. */
  apiBaseUrl: string;
  /** A token that can read Actions (`actions: read`). */
  token: string;
  /** `owner/repo`. */
  repository: string;
  /** The environment's public URL, whose `/version` tells when a SHA is live. */
  publicUrl: string;
  /** The deploy workflow's file name. */
  workflowFile?: string;
  pollIntervalMs?: number;
  /** Stop following a SHA (and report it failed) after this long. */
  followTimeoutMs?: number;
  /** API failures in a row before the followed stage is reported failed. */
  maxConsecutiveErrors?: number;
  now?: () => Date;
  fetch?: typeof fetch;
}

/** The fields this tracker reads from GitHub's "workflow run" object. */
export interface WorkflowRun {
  id: number;
  head_sha: string;
  status: string;
  conclusion: string | null;
  html_url: string;
  created_at: string;
  run_started_at?: string;
  updated_at?: string;
  head_commit?: { message?: string; timestamp?: string; author?: { name?: string } } | null;
}

/** The fields this tracker reads from GitHub's "job" object. */
export interface WorkflowJob {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  started_at: string | null;
  completed_at: string | null;
  html_url: string | null;
  steps?: { name: string; status: string; conclusion: string | null }[];
}

const FAILED_CONCLUSIONS = new Set([
  'failure',
  'cancelled',
  'timed_out',
  'action_required',
  'startup_failure',
]);
const GITHUB_STAGE_ORDER: StageName[] = ['committed', 'tests', 'image', 'deploy', 'live'];
const MAX_EVENTS = 500;

/** The stage a job of deploy.yml stands for (undefined for `plan` and unknown jobs). */
export function stageOfJob(name: string): StageName | undefined {
  const job = name.toLowerCase();
  if (job === 'test' || job.startsWith('test /') || job === 'promotion-check') return 'tests';
  if (job === 'image') return 'image';
  if (job === 'deploy') return 'deploy';
  return undefined;
}

/** The newest run in a list (by creation time, then id). */
export function newestRun(runs: WorkflowRun[]): WorkflowRun | undefined {
  return [...runs].sort(
    (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id,
  )[0];
}

/** The failed jobs' names and failing steps, as a short log for the UI. */
export function failureLog(job: WorkflowJob): string {
  const steps = (job.steps ?? []).filter(
    (s) => s.conclusion && FAILED_CONCLUSIONS.has(s.conclusion),
  );
  const lines = [`job "${job.name}" concluded ${job.conclusion ?? 'unknown'}`];
  for (const step of steps) lines.push(`step "${step.name}" concluded ${step.conclusion}`);
  return lines.join('\n');
}

interface Followed {
  sha: string;
  startedAt: number;
  runUrl?: string;
  stages: Map<StageName, StageRecord>;
  done: boolean;
  errors: number;
  timer?: ReturnType<typeof setTimeout>;
}

export class GitHubPipelineTracker implements PipelineTracker {
  private readonly events = new EventBuffer<StageEvent>(MAX_EVENTS);
  private readonly followed = new Map<string, Followed>();
  private readonly workflowFile: string;
  private readonly pollIntervalMs: number;
  private readonly followTimeoutMs: number;
  private readonly maxErrors: number;
  private readonly now: () => Date;
  private readonly fetch: typeof fetch;
  private closed = false;

  constructor(private readonly options: GitHubTrackerOptions) {
    if (!/^[\w.-]+\/[\w.-]+$/.test(options.repository)) {
      throw new Error(`repository must be owner/repo, got "${options.repository}"`);
    }
    if (options.token === '') throw new Error('a GitHub token with actions: read is required');
    this.workflowFile = options.workflowFile ?? 'deploy.yml';
    this.pollIntervalMs = options.pollIntervalMs ?? 5_000;
    this.followTimeoutMs = options.followTimeoutMs ?? 60 * 60_000;
    this.maxErrors = options.maxConsecutiveErrors ?? 5;
    this.now = options.now ?? (() => new Date());
    this.fetch = options.fetch ?? fetch;
  }

  subscribe(listener: (event: StageEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  recentEvents(): StageEvent[] {
    return this.events.recent();
  }

  follow(sha: string): void {
    if (this.closed || this.followed.has(sha)) return;
    const state: Followed = {
      sha,
      startedAt: this.now().getTime(),
      stages: new Map(),
      done: false,
      errors: 0,
    };
    this.followed.set(sha, state);
    const at = this.now().toISOString();
    this.record(state, 'committed', 'started', at);
    this.record(state, 'committed', 'succeeded', at);
    this.schedule(state, 0);
  }

  close(): void {
    this.closed = true;
    for (const state of this.followed.values()) clearTimeout(state.timer);
    this.events.clearListeners();
  }

  async releases(): Promise<ReleaseRecord[]> {
    const [runs, liveSha] = await Promise.all([this.runs(), this.liveSha()]);
    const newestFirst = [...runs].sort(
      (a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id,
    );
    const seen = new Set<string>();
    const records: ReleaseRecord[] = [];
    let liveSeen = false;
    for (const run of newestFirst) {
      if (seen.has(run.head_sha)) continue;
      seen.add(run.head_sha);
      const live = run.head_sha === liveSha;
      records.push({
        sha: run.head_sha,
        author: run.head_commit?.author?.name ?? '',
        message: (run.head_commit?.message ?? '').split('\n')[0]!,
        committedAt: run.head_commit?.timestamp ?? run.created_at,
        outcome: outcomeOf(run, live, liveSeen),
        live,
        stages: [...(this.followed.get(run.head_sha)?.stages.values() ?? [])],
        url: run.html_url,
      });
      if (live) liveSeen = true;
    }
    return records;
  }

  // --- following one SHA ---------------------------------------------------------------------

  private schedule(state: Followed, delayMs: number): void {
    if (this.closed || state.done) return;
    state.timer = setTimeout(() => void this.poll(state), delayMs);
  }

  private async poll(state: Followed): Promise<void> {
    try {
      await this.step(state);
      state.errors = 0;
    } catch (err) {
      state.errors += 1;
      if (state.errors >= this.maxErrors) {
        this.failCurrent(state, `following the pipeline failed: ${(err as Error).message}`);
      }
    }
    if (!state.done && this.now().getTime() - state.startedAt > this.followTimeoutMs) {
      this.failCurrent(state, `no result within ${Math.round(this.followTimeoutMs / 60_000)} min`);
    }
    this.schedule(state, this.pollIntervalMs);
  }

  private async step(state: Followed): Promise<void> {
    if (this.closed || state.done) return;
    const deploySucceeded = state.stages.get('deploy')?.outcome === 'succeeded';
    if (!deploySucceeded) {
      const run = newestRun(await this.runs(state.sha));
      if (!run) return;
      state.runUrl = run.html_url;
      const jobs = await this.jobs(run.id);
      for (const stage of ['tests', 'image', 'deploy'] as const) {
        // A skipped job (the test gate of a promotion, or promotion-check on a push) does not count.
        const stageJobs = jobs.filter(
          (job) => stageOfJob(job.name) === stage && job.conclusion !== 'skipped',
        );
        this.applyJobs(state, stage, stageJobs, run);
        if (state.done) return;
      }
      if (run.status === 'completed' && state.stages.get('deploy')?.outcome !== 'succeeded') {
        // The run ended without a successful deploy and without a failed job to blame.
        this.failCurrent(state, `workflow run concluded ${run.conclusion ?? 'without a deploy'}`);
        return;
      }
    }
    if (state.stages.get('deploy')?.outcome === 'succeeded') {
      if (!state.stages.has('live'))
        this.record(state, 'live', 'started', this.now().toISOString());
      if ((await this.liveSha()) === state.sha) {
        this.record(state, 'live', 'succeeded', this.now().toISOString(), {
          url: this.options.publicUrl,
        });
        state.done = true;
      }
    }
  }

  /** Turn the jobs of one stage into started/succeeded/failed events. */
  private applyJobs(
    state: Followed,
    stage: StageName,
    jobs: WorkflowJob[],
    run: WorkflowRun,
  ): void {
    const started = jobs.filter(
      (j) => j.status !== 'queued' && j.status !== 'waiting' && j.started_at,
    );
    if (started.length === 0) return;
    const startedAt = started.map((j) => j.started_at!).sort()[0]!;
    if (!state.stages.has(stage)) this.record(state, stage, 'started', startedAt);
    const record = state.stages.get(stage)!;
    if (record.outcome !== 'running') return;
    const failed = jobs.find((j) => j.conclusion && FAILED_CONCLUSIONS.has(j.conclusion));
    if (failed) {
      this.record(state, stage, 'failed', failed.completed_at ?? this.now().toISOString(), {
        url: failed.html_url ?? run.html_url,
        log: failureLog(failed),
      });
      state.done = true;
      return;
    }
    const allDone = jobs.every((j) => j.status === 'completed');
    const anySucceeded = jobs.some((j) => j.conclusion === 'success');
    if (allDone && anySucceeded) {
      const endedAt = jobs
        .map((j) => j.completed_at ?? '')
        .sort()
        .at(-1)!;
      this.record(state, stage, 'succeeded', endedAt, { url: run.html_url });
    }
  }

  /** Report the stage in progress (or the next one) as failed, and stop following. */
  private failCurrent(state: Followed, message: string): void {
    if (state.done) return;
    const running = GITHUB_STAGE_ORDER.find((s) => state.stages.get(s)?.outcome === 'running');
    const next = GITHUB_STAGE_ORDER.find((s) => !state.stages.has(s)) ?? 'live';
    const stage = running ?? next;
    const at = this.now().toISOString();
    if (!state.stages.has(stage)) this.record(state, stage, 'started', at);
    this.record(state, stage, 'failed', at, { log: message, url: state.runUrl });
    state.done = true;
  }

  private record(
    state: Followed,
    stage: StageName,
    status: StageStatus,
    at: string,
    extra: { url?: string; log?: string } = {},
  ): void {
    const previous = state.stages.get(stage);
    let durationMs: number | undefined;
    if (status === 'started') {
      state.stages.set(stage, { stage, startedAt: at, outcome: 'running' });
    } else if (previous) {
      durationMs = Math.max(0, Date.parse(at) - Date.parse(previous.startedAt));
      state.stages.set(stage, { ...previous, endedAt: at, outcome: status, durationMs });
    }
    const event: StageEvent = { sha: state.sha, stage, status, at };
    if (durationMs !== undefined) event.durationMs = durationMs;
    if (extra.url) event.url = extra.url;
    if (extra.log) event.log = extra.log.slice(-4096);
    this.events.emit(event);
  }

  // --- GitHub's REST API and the public /version ---------------------------------------------

  private async api<T>(pathAndQuery: string): Promise<T> {
    const url = `${this.options.apiBaseUrl.replace(/\/$/, '')}${pathAndQuery}`;
    const response = await this.fetch(url, {
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${this.options.token}`,
        'x-github-api-version': '2022-11-28',
        'user-agent': 'reflex-pipeline-tracker',
      },
    });
    if (!response.ok) {
      throw new Error(`GitHub API ${pathAndQuery.split('?')[0]} answered ${response.status}`);
    }
    return (await response.json()) as T;
  }

  private async runs(sha?: string): Promise<WorkflowRun[]> {
    const query = sha ? `head_sha=${encodeURIComponent(sha)}&per_page=10` : 'per_page=30';
    const body = await this.api<{ workflow_runs: WorkflowRun[] }>(
      `/repos/${this.options.repository}/actions/workflows/${encodeURIComponent(this.workflowFile)}/runs?${query}`,
    );
    return body.workflow_runs;
  }

  private async jobs(runId: number): Promise<WorkflowJob[]> {
    const body = await this.api<{ jobs: WorkflowJob[] }>(
      `/repos/${this.options.repository}/actions/runs/${runId}/jobs?filter=latest&per_page=100`,
    );
    return body.jobs;
  }

  private async liveSha(): Promise<string | undefined> {
    try {
      const response = await this.fetch(`${this.options.publicUrl.replace(/\/$/, '')}/version`);
      if (!response.ok) return undefined;
      return ((await response.json()) as { sha?: string }).sha;
    } catch {
      return undefined;
    }
  }
}

/** A run's place in the release list. */
function outcomeOf(run: WorkflowRun, live: boolean, newerIsLive: boolean): ReleaseOutcome {
  if (live) return 'live';
  if (run.status === 'queued' || run.status === 'waiting' || run.status === 'pending')
    return 'queued';
  if (run.status !== 'completed') return 'running';
  if (run.conclusion && FAILED_CONCLUSIONS.has(run.conclusion)) return 'failed';
  return newerIsLive ? 'retired' : 'superseded';
}
