/**
 * What the pipeline tells the world about a release: its record in the history
 * (`state/releases.json`), the stage events the editor and the console follow, and the
 * metrics. Every change of a record goes through one of the named transitions here.
 */
import type { Logger } from '../logger';
import type { ReleaseRecord, StageEvent, StageName } from '../pipeline/types';
import type { EventBus, History } from './history';
import type { LoopMetrics } from './metrics';
import type { Origin } from './origin';
import { ProcessError } from './processes';

/** The excerpt of a failure the editor shows: the message and the end of the command's log. */
export function failureLog(err: unknown): string {
  if (err instanceof ProcessError) return `${err.message}\n${err.logTail}`.slice(-4096);
  return err instanceof Error ? err.message : String(err);
}

export class Recorder {
  private readonly pushedAt = new Map<string, number>();

  constructor(
    private readonly history: History,
    private readonly events: EventBus,
    private readonly metrics: LoopMetrics,
    private readonly origin: Origin,
    private readonly logger: Logger,
    /** The preview whose runs this records; its events carry the name. */
    private readonly preview?: string,
  ) {}

  /** A push reached the branch (the first report counts: edit-to-live starts there). */
  pushed(sha: string): void {
    if (!this.pushedAt.has(sha)) this.pushedAt.set(sha, Date.now());
  }

  /** Seconds since `sha` was pushed, or undefined when it was not seen pushed. */
  sincePush(sha: string): number | undefined {
    const at = this.pushedAt.get(sha);
    return at === undefined ? undefined : (Date.now() - at) / 1000;
  }

  get(sha: string): ReleaseRecord | undefined {
    return this.history.get(sha);
  }

  /** A pipeline run for `sha` begins: a fresh record, and the `committed` event. */
  async opened(sha: string): Promise<ReleaseRecord> {
    const record = await this.newRecord(sha);
    record.outcome = 'running';
    this.history.put(record);
    this.emit({ sha, stage: 'committed', status: 'succeeded', durationMs: 0 });
    return record;
  }

  /** A release is put back: its record keeps its history but starts a new set of stages. */
  async reopened(sha: string): Promise<ReleaseRecord> {
    const record = this.history.get(sha) ?? (await this.newRecord(sha));
    record.stages = [];
    this.history.put(record);
    return record;
  }

  /** Runs one stage of `record`, recording its start, outcome and duration. */
  async stage<T>(record: ReleaseRecord, stage: StageName, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const entry: ReleaseRecord['stages'][number] = {
      stage,
      startedAt: new Date(started).toISOString(),
      outcome: 'running',
    };
    record.stages.push(entry);
    this.history.save();
    this.emit({ sha: record.sha, stage, status: 'started' });
    const finish = (outcome: 'succeeded' | 'failed') => {
      const durationMs = Date.now() - started;
      Object.assign(entry, { outcome, endedAt: new Date().toISOString(), durationMs });
      this.metrics.stageDuration.observe({ stage }, durationMs / 1000);
      this.history.save();
      return durationMs;
    };
    try {
      const result = await work();
      this.emit({ sha: record.sha, stage, status: 'succeeded', durationMs: finish('succeeded') });
      return result;
    } catch (err) {
      const durationMs = finish('failed');
      this.emit({ sha: record.sha, stage, status: 'failed', durationMs, log: failureLog(err) });
      throw err;
    }
  }

  /**
   * `record` serves now. `how`: built by this run, put back after a crash, or resumed when the
   * supervisor started again. `previous` is the release it replaced, now retired.
   */
  markLive(record: ReleaseRecord, how: 'built' | 'restored' | 'resumed', previous?: string): void {
    record.outcome = how === 'restored' ? 'restored' : 'live';
    record.live = true;
    if (previous && previous !== record.sha) this.markRetired(previous);
    else this.history.save();
    this.metrics.releaseInfo.reset();
    this.metrics.releaseInfo.set({ sha: record.sha }, 1);
    if (how === 'built') {
      this.metrics.deploys.inc({ result: 'success' });
      const seconds = this.sincePush(record.sha);
      if (seconds !== undefined) this.metrics.editToLive.observe(seconds);
    }
    if (how === 'restored') this.metrics.deploys.inc({ result: 'restored' });
  }

  /** A run for `record` failed before it went live; what served keeps serving. */
  markFailed(record: ReleaseRecord, err: unknown): void {
    record.outcome = 'failed';
    this.history.save();
    this.metrics.deploys.inc({ result: 'failed' });
    this.logger.warn(
      { sha: record.sha, err: failureLog(err) },
      'pipeline failed; the live release keeps serving',
    );
  }

  /** A release could not be put back (after a crash, or on start). */
  markNotRestored(record: ReleaseRecord, err: unknown): void {
    record.outcome = 'failed';
    this.history.save();
    this.logger.error(
      { sha: record.sha, err: failureLog(err) },
      `could not put ${record.sha.slice(0, 12)} back`,
    );
  }

  /** The live release stopped serving on its own (a process of it exited). */
  markCrashed(sha: string, why: string): void {
    this.emit({ sha, stage: 'live', status: 'failed', log: why });
    const record = this.history.get(sha);
    if (record) {
      record.outcome = 'failed';
      record.live = false;
      this.history.save();
    }
    this.metrics.deploys.inc({ result: 'failed' });
    this.metrics.releaseInfo.reset();
  }

  /** `sha` no longer serves: a newer release took over. */
  markRetired(sha: string): void {
    const record = this.history.get(sha);
    if (record) {
      record.live = false;
      if (record.outcome === 'live' || record.outcome === 'restored') record.outcome = 'retired';
    }
    this.history.save();
  }

  /** `sha` waited and was replaced by a newer push before it was built. */
  async markSuperseded(sha: string): Promise<void> {
    const record = this.history.get(sha) ?? (await this.newRecord(sha));
    record.outcome = 'superseded';
    this.history.put(record);
    this.logger.info({ sha }, 'superseded by a newer push before it was built');
  }

  private emit(event: Omit<StageEvent, 'at'>): void {
    this.events.emit({
      ...event,
      at: new Date().toISOString(),
      ...(this.preview ? { preview: this.preview } : {}),
    });
  }

  private async newRecord(sha: string): Promise<ReleaseRecord> {
    const info = await this.origin.commit(sha);
    return {
      sha,
      author: info?.author || 'unknown',
      message: info?.message ?? '',
      committedAt: info?.committedAt || new Date().toISOString(),
      outcome: 'queued',
      live: false,
      stages: [],
    };
  }
}
