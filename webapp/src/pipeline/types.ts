/**
 * What the editor shows of a pipeline, whichever runs it: the local supervisor (`npm start`)
 * or GitHub Actions + the EC2 host. Both trackers produce the same events, so the UI and
 * `GET /api/pipeline/events` (Server-Sent Events, `event: stage`) do not care which.
 */

/** Stages of the local loop, in order. */
export const LOCAL_STAGES = [
  'committed',
  'checkout',
  'gate',
  'build',
  'start',
  'healthy',
  'live',
] as const;
/** Stages of the AWS path (GitHub Actions, then the host), in order. */
export const GITHUB_STAGES = ['committed', 'tests', 'image', 'deploy', 'live'] as const;

export type StageName = (typeof LOCAL_STAGES)[number] | (typeof GITHUB_STAGES)[number];
export type StageStatus = 'started' | 'succeeded' | 'failed';

export interface StageEvent {
  /** The commit the pipeline run is for (full SHA). */
  sha: string;
  stage: StageName;
  status: StageStatus;
  /** ISO-8601 time of the event. */
  at: string;
  /** For `succeeded`/`failed`: how long the stage took. */
  durationMs?: number;
  /** For `failed`: the tail of the stage's log (at most a few KiB). */
  log?: string;
  /** A link for more (e.g. the GitHub Actions run). */
  url?: string;
  /** The change request's preview this run is for; absent for the deploy branch. */
  preview?: string;
}

export type ReleaseOutcome =
  'queued' | 'running' | 'live' | 'failed' | 'superseded' | 'retired' | 'restored';

export interface StageRecord {
  stage: StageName;
  startedAt: string;
  endedAt?: string;
  outcome: 'running' | 'succeeded' | 'failed';
  durationMs?: number;
}

/** One pipeline run = one release candidate, as listed by `GET /api/releases`. */
export interface ReleaseRecord {
  sha: string;
  author: string;
  message: string;
  committedAt: string;
  outcome: ReleaseOutcome;
  /** True for the release serving right now. */
  live: boolean;
  stages: StageRecord[];
  url?: string;
}

/** A change request's preview as the pipeline reports it. */
export interface PreviewInfo {
  name: string;
  branch: string;
  state: 'queued' | 'building' | 'live' | 'failed' | 'asleep';
  url: string;
  /** Why its last run failed. */
  error?: string;
}

/** The seam between the web app and whatever runs the pipeline. */
export interface PipelineTracker {
  /** Events from now on; returns an unsubscribe function. */
  subscribe(listener: (event: StageEvent) => void): () => void;
  /** Recent events (for a subscriber that connects mid-run), oldest first. */
  recentEvents(): StageEvent[];
  /** Release history, newest first. */
  releases(): Promise<ReleaseRecord[]>;
  /** The change requests' previews, where the pipeline runs them (the local supervisor). */
  previews?(): Promise<PreviewInfo[]>;
  /** Start following a commit the editor just pushed (the AWS tracker polls for it). */
  follow(sha: string): void;
  close(): void;
}

/** Outcomes of a release that served: the ones a rollback may return to. */
export const WAS_LIVE: readonly ReleaseOutcome[] = ['live', 'retired', 'restored'];
