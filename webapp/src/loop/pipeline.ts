/**
 * The local pipeline: for each push to the branch, check out → gate (with the build beside it)
 * → start → healthy → live. The scheduler decides which run comes next, the recorder tells the
 * world, the fleet owns the processes, and `reuse` decides which processes a release starts.
 * Every release is still gated, health-checked, switched at the edge, recorded, and can be put
 * back.
 */
import path from 'node:path';
import type { Logger } from '../logger';
import type { ReleaseRecord, StageName } from '../pipeline/types';
import type { Fleet, Release } from './fleet';
import { besideGate, type Gate } from './gate';
import type { Instance, InstanceKind, Launcher } from './instances';
import type { Origin } from './origin';
import type { BuildInfo, ReleaseStore } from './releases';
import type { Recorder } from './recorder';
import { Reuse, SITE, type Plan } from './reuse';
import { Scheduler, type Job, type RestoreReason } from './scheduler';
import type { PipelineSlot } from './slot';

export interface PipelineOptions {
  origin: Origin;
  store: ReleaseStore;
  launcher: Launcher;
  fleet: Fleet;
  recorder: Recorder;
  gate: Gate;
  /** The machine's one pipeline slot, shared with the previews (this branch goes first). */
  slot: PipelineSlot;
  logger: Logger;
  logDir: (sha: string) => string;
  buildTimeoutMs: number;
  /**
   * Whether a release keeps the processes that can serve it as they are (the default). Off,
   * every release starts both processes from its own build: the loop as it was before content-
   * and site-only releases, kept for benchmarks to measure against.
   */
  reuseProcesses?: boolean;
  /** A release went live (the console prints the URL the first time). */
  onLive?: (sha: string) => void;
}

class Stopping extends Error {
  constructor() {
    super('the supervisor is stopping');
  }
}

export class Pipeline {
  readonly scheduler: Scheduler;
  private readonly reuse: Reuse;

  constructor(private readonly o: PipelineOptions) {
    this.reuse = new Reuse({ ...o, enabled: o.reuseProcesses !== false });
    this.scheduler = new Scheduler({
      run: (job, signal) => this.run(job, signal),
      superseded: (sha) => void o.recorder.markSuperseded(sha),
      queued: (sha, running) =>
        o.logger.info(
          { sha, running: running?.sha },
          running ? 'queued behind the running pipeline' : 'pipeline triggered',
        ),
    });
  }

  /** A commit reached the branch: build it (or queue it, replacing an older queued one). */
  notify(sha: string): void {
    this.o.recorder.pushed(sha);
    this.o.origin.sawHead(sha);
    if (sha !== this.o.fleet.live?.sha) this.scheduler.build(sha);
  }

  /** Serve an already built release without rebuilding it (the supervisor started again). */
  resume(sha: string): void {
    this.scheduler.restore(sha, { kind: 'resumed' });
  }

  /** A process of the live release exited: put the previous release back. */
  crashed(sha: string, why: string): void {
    this.o.recorder.markCrashed(sha, why);
    const previous = this.o.fleet.takePrevious();
    if (!previous) {
      this.o.logger.error('no earlier built release to put back; waiting for the next push');
      return;
    }
    this.scheduler.restore(previous, { kind: 'crashed', sha, code: why });
  }

  status() {
    const running = this.scheduler.current;
    return {
      live: this.o.fleet.live ? { sha: this.o.fleet.live.sha } : null,
      running: running
        ? { sha: running.sha, kind: running.kind, stage: this.stageNow ?? null }
        : null,
      pending: this.scheduler.waiting ?? null,
    };
  }

  /** Seconds since the branch's head was pushed; 0 when it is live. No git: for scrapes. */
  lag(): number {
    const head = this.o.origin.knownHead;
    if (!head || head === this.o.fleet.live?.sha) return 0;
    return this.o.recorder.sincePush(head) ?? 0;
  }

  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  /** Nothing new starts; the running command is ended. */
  close(): Promise<void> {
    return this.scheduler.close();
  }

  private stageNow: StageName | undefined;

  private async run(job: Job, signal: AbortSignal): Promise<void> {
    const release = await this.o.slot.acquire('main');
    try {
      if (job.kind === 'build') await this.build(job.sha, signal);
      else await this.restore(job.sha, job.reason, signal);
    } catch (err) {
      this.o.logger.error({ err, sha: job.sha }, 'pipeline job failed unexpectedly');
    } finally {
      this.stageNow = undefined;
      release();
    }
  }

  private stage<T>(
    record: ReleaseRecord,
    stage: StageName,
    signal: AbortSignal,
    work: () => Promise<T>,
  ): Promise<T> {
    if (signal.aborted) throw new Stopping();
    this.stageNow = stage;
    return this.o.recorder.stage(record, stage, work);
  }

  private async build(sha: string, signal: AbortSignal): Promise<void> {
    const { recorder, store, origin, gate } = this.o;
    const record = await recorder.opened(sha);
    const logs = this.o.logDir(sha);
    const started: Instance[] = [];
    try {
      const live = this.o.fleet.live;
      const sinceLive = live ? await origin.changed(live.sha, sha) : undefined;
      const checkout = this.stage(record, 'checkout', signal, () =>
        live && sinceLive
          ? store.checkoutBeside(sha, live.sha, sinceLive, path.join(logs, 'checkout.log'))
          : store.checkout(sha, path.join(logs, 'checkout.log')),
      );
      checkout.catch(() => undefined); // told by the stages that wait for it
      const changedFiles = sinceLive ?? (await origin.files(sha, SITE));
      const plan = this.reuse.plan(sha);
      plan.catch(() => undefined); // told by the build that waits for it
      // The gate starts beside the checkout (the warm gate checks its own working tree and
      // needs the release folder only for its dependencies); it passes only once the folder is
      // complete too, and the build starts in a complete folder.
      const built = await besideGate(
        () =>
          this.stage(record, 'gate', signal, async () => {
            const [ran] = await Promise.all([
              gate.run({ sha, dir: checkout, changedFiles, logDir: logs, signal }),
              checkout,
            ]);
            return ran;
          }),
        (stop) =>
          Promise.all([checkout, plan]).then(([, kept]) => {
            if (stop.aborted) throw new Stopping();
            return this.reuse.build(sha, kept, stop);
          }),
        signal,
      );
      const info = await this.stage(record, 'build', signal, built);
      await this.goLive(record, sha, await plan, info, started, signal);
      recorder.markLive(record, 'built', this.previousLive);
      this.o.onLive?.(sha);
    } catch (err) {
      await Promise.all(started.map((instance) => this.o.fleet.discard(instance)));
      recorder.markFailed(record, err);
    }
  }

  /** Puts an already built release back (after a crash, or when the supervisor starts). */
  private async restore(sha: string, reason: RestoreReason, signal: AbortSignal): Promise<void> {
    const live = this.o.fleet.live;
    if (reason.kind === 'crashed' && live) return; // something newer went live meanwhile
    const record = await this.o.recorder.reopened(sha);
    const started: Instance[] = [];
    try {
      const info = this.o.store.buildInfo(sha);
      if (!info) throw new Error(`release ${sha.slice(0, 12)} is not built`);
      await this.goLive(record, sha, await this.reuse.plan(sha), info, started, signal);
      this.o.recorder.markLive(
        record,
        reason.kind === 'resumed' ? 'resumed' : 'restored',
        this.previousLive,
      );
      this.o.onLive?.(sha);
    } catch (err) {
      await Promise.all(started.map((instance) => this.o.fleet.discard(instance)));
      this.o.recorder.markNotRestored(record, err);
    }
  }

  private previousLive: string | undefined;

  /** start → healthy → live, starting only the processes the plan does not reuse. */
  private async goLive(
    record: ReleaseRecord,
    sha: string,
    plan: Plan,
    info: BuildInfo,
    started: Instance[],
    signal: AbortSignal,
  ): Promise<void> {
    const { launcher, fleet } = this.o;
    const start = async (kind: InstanceKind, reused: Instance | undefined) => {
      if (reused) return reused;
      const instance = await launcher.start(kind, sha, info.builtAt);
      started.push(instance);
      fleet.adopt(instance);
      return instance;
    };
    const [platform, site] = await this.stage(record, 'start', signal, () =>
      Promise.all([start('platform', plan.platform), start('site', plan.site)]),
    );
    await this.stage(record, 'healthy', signal, () =>
      Promise.all([launcher.healthy(platform, sha), launcher.healthy(site, sha)]),
    );
    const release: Release = { sha, builtAt: info.builtAt, platform, site };
    await this.stage(record, 'live', signal, () => {
      this.previousLive = fleet.promote(release);
      return Promise.resolve();
    });
  }
}
