/**
 * The local pipeline: for each push to the branch, check out → gate → build → start →
 * healthy → live (switch the edge, drain and stop the old release). One run at a time; a
 * push during a run waits, and only the newest waiting commit is built. A live release that
 * exits on its own is replaced by the previous one. Every stage is recorded (history, events,
 * metrics) with its log.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeAtomically } from '../files';
import type { Logger } from '../logger';
import type { ReleaseRecord, StageEvent, StageName } from '../pipeline/types';
import { Edge, type Upstream } from './edge';
import { runGate, type GateStep } from './gate';
import type { EventBus, History } from './history';
import { git, type HomePaths } from './home';
import type { LoopMetrics } from './metrics';
import {
  ProcessError,
  runCommand,
  startRelease,
  waitHealthy,
  type ReleaseProcess,
} from './processes';
import type { ReleaseStore } from './releases';

export interface PipelineOptions {
  paths: HomePaths;
  store: ReleaseStore;
  edge: Edge;
  events: EventBus;
  history: History;
  metrics: LoopMetrics;
  logger: Logger;
  branch: string;
  gate: readonly GateStep[];
  healthTimeoutMs: number;
  drainTimeoutMs: number;
  gateTimeoutMs: number;
  keepReleases: number;
  /** Environment of a release instance running `sha`. */
  releaseEnv: (sha: string, workdir: string) => NodeJS.ProcessEnv;
  /** Called when a release goes live (for the console). */
  onLive?: (sha: string, port: number) => void;
  /**
   * How long a retired release stays up after its connections drained, still listed for
   * scraping, so that a scraper reads its counters once more (scraper.ts). Asked at each
   * retirement; 0 (the default) stops it at once.
   */
  finalScrapeMs?: () => number;
  /** Called with the releases to scrape (the live one first) whenever that set changes. */
  onScrapeTargets?: (targets: ScrapeTarget[]) => void;
}

export interface ScrapeTarget {
  sha: string;
  port: number;
}

interface Live {
  sha: string;
  process: ReleaseProcess;
  upstream: Upstream;
  workdir: string;
}

type Job = { kind: 'build'; sha: string } | { kind: 'restore'; sha: string; reason: string };

export class Pipeline {
  private live: Live | undefined;
  /** SHAs that were live before the current one, newest first. */
  private readonly earlier: string[] = [];
  private running: Job | undefined;
  private pendingBuild: string | undefined;
  private pendingRestore: Job | undefined;
  private loop: Promise<void> | undefined;
  private readonly pushedAt = new Map<string, number>();
  private readonly stopping = new Set<Promise<void>>();
  /** Retired releases still running: draining, or waiting for their final scrape. */
  private readonly retiring = new Set<Live>();
  /** Ends the final-scrape waits at once (close). */
  private readonly wakers = new Set<() => void>();
  private closed = false;
  private runningStage: StageName | undefined;

  constructor(private readonly o: PipelineOptions) {}

  get liveSha(): string | undefined {
    return this.live?.sha;
  }

  status() {
    return {
      live: this.live ? { sha: this.live.sha, port: this.live.process.port } : null,
      running: this.running
        ? { sha: this.running.sha, kind: this.running.kind, stage: this.runningStage ?? null }
        : null,
      pending: this.pendingBuild ?? null,
    };
  }

  /** Seconds since the branch's head was pushed, 0 when it is live. */
  lag(): number {
    const head = this.branchHead();
    if (!head || head === this.live?.sha) return 0;
    const pushed = this.pushedAt.get(head);
    return pushed === undefined ? 0 : (Date.now() - pushed) / 1000;
  }

  branchHead(): string | undefined {
    try {
      return git(this.o.paths.origin, ['rev-parse', `refs/heads/${this.o.branch}`]);
    } catch {
      return undefined;
    }
  }

  /** A commit reached the branch: build it (or queue it, replacing an older queued one). */
  notify(sha: string): void {
    if (this.closed) return;
    if (!this.pushedAt.has(sha)) this.pushedAt.set(sha, Date.now());
    if (
      sha === this.live?.sha ||
      sha === this.pendingBuild ||
      (this.running?.kind === 'build' && this.running.sha === sha)
    )
      return;
    if (this.pendingBuild) this.supersede(this.pendingBuild);
    this.pendingBuild = sha;
    this.o.logger.info(
      { sha, running: this.running?.sha },
      this.running ? 'queued behind the running pipeline' : 'pipeline triggered',
    );
    this.kick();
  }

  /** Serve an already built release without rebuilding it (supervisor restart). */
  resume(sha: string): void {
    this.pendingRestore = { kind: 'restore', sha, reason: 'resumed' };
    this.kick();
  }

  /** Waits for the running pipeline (and the queue) to finish. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
    this.pendingBuild = undefined;
    this.pendingRestore = undefined;
    const live = this.live;
    this.live = undefined;
    await Promise.all([...this.stopping]);
    if (live) await live.process.stop(this.o.drainTimeoutMs);
    if (live) rmSync(live.workdir, { recursive: true, force: true });
  }

  private kick(): void {
    this.loop ??= this.drainQueue().finally(() => (this.loop = undefined));
  }

  private async drainQueue(): Promise<void> {
    for (;;) {
      const job: Job | undefined =
        this.pendingRestore ??
        (this.pendingBuild ? { kind: 'build', sha: this.pendingBuild } : undefined);
      if (!job || this.closed) return;
      if (job === this.pendingRestore) this.pendingRestore = undefined;
      else this.pendingBuild = undefined;
      this.running = job;
      try {
        if (job.kind === 'build') await this.build(job.sha);
        else await this.restore(job.sha, job.reason);
      } catch (err) {
        this.o.logger.error({ err, sha: job.sha }, 'pipeline job failed unexpectedly');
      } finally {
        this.running = undefined;
        this.runningStage = undefined;
      }
    }
  }

  private supersede(sha: string): void {
    const record = this.o.history.get(sha) ?? this.newRecord(sha);
    record.outcome = 'superseded';
    this.o.history.put(record);
    this.o.logger.info({ sha }, 'superseded by a newer push before it was built');
  }

  private newRecord(sha: string): ReleaseRecord {
    let author = 'unknown';
    let message = '';
    let committedAt = new Date().toISOString();
    try {
      const [a, date, ...subject] = git(this.o.paths.origin, [
        'log',
        '-1',
        '--format=%an <%ae>%x00%cI%x00%s',
        sha,
      ]).split('\0');
      author = a ?? author;
      committedAt = date ?? committedAt;
      message = subject.join('\0');
    } catch {
      // an unknown commit still gets a record
    }
    return { sha, author, message, committedAt, outcome: 'queued', live: false, stages: [] };
  }

  private logDir(sha: string): string {
    const dir = path.join(this.o.paths.logs, sha);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  private emit(event: Omit<StageEvent, 'at'>): void {
    this.o.events.emit({ ...event, at: new Date().toISOString() });
  }

  private async stage<T>(
    record: ReleaseRecord,
    stage: StageName,
    work: () => Promise<T>,
  ): Promise<T> {
    const started = Date.now();
    const entry: ReleaseRecord['stages'][number] = {
      stage,
      startedAt: new Date(started).toISOString(),
      outcome: 'running',
    };
    record.stages.push(entry);
    this.runningStage = stage;
    this.o.history.save();
    this.emit({ sha: record.sha, stage, status: 'started' });
    try {
      const result = await work();
      const durationMs = Date.now() - started;
      Object.assign(entry, { outcome: 'succeeded', endedAt: new Date().toISOString(), durationMs });
      this.o.metrics.stageDuration.observe({ stage }, durationMs / 1000);
      this.o.history.save();
      this.emit({ sha: record.sha, stage, status: 'succeeded', durationMs });
      return result;
    } catch (err) {
      const durationMs = Date.now() - started;
      Object.assign(entry, { outcome: 'failed', endedAt: new Date().toISOString(), durationMs });
      this.o.metrics.stageDuration.observe({ stage }, durationMs / 1000);
      this.o.history.save();
      const log =
        err instanceof ProcessError
          ? `${err.message}\n${err.logTail}`.slice(-4096)
          : (err as Error).message;
      this.emit({ sha: record.sha, stage, status: 'failed', durationMs, log });
      throw err;
    }
  }

  private async build(sha: string): Promise<void> {
    const record = this.newRecord(sha);
    record.outcome = 'running';
    this.o.history.put(record);
    this.emit({ sha, stage: 'committed', status: 'succeeded', durationMs: 0 });
    const logs = this.logDir(sha);
    let started: { process: ReleaseProcess; workdir: string } | undefined;
    try {
      const dir = await this.stage(record, 'checkout', () =>
        this.o.store.checkout(sha, path.join(logs, 'checkout.log')),
      );
      await this.stage(record, 'gate', () =>
        runGate({
          steps: this.o.gate,
          dir,
          changedFiles: this.changedFiles(sha),
          changedSinceTypechecked: this.changedSince(this.typechecked(), sha),
          cacheDir: this.o.paths.cache,
          logDir: logs,
          timeoutMs: this.o.gateTimeoutMs,
        }),
      );
      if (this.o.gate.includes('typecheck')) this.recordTypechecked(sha);
      await this.stage(record, 'build', () =>
        runCommand(process.execPath, ['webapp/scripts/build.mjs'], {
          cwd: dir,
          env: {
            ...process.env,
            REFLEX_BUILD_SHA: sha,
            REFLEX_BUILD_CACHE: path.join(this.o.paths.cache, 'build'),
          },
          logFile: path.join(logs, 'build.log'),
          timeoutMs: this.o.gateTimeoutMs,
          label: 'build',
        }),
      );
      started = await this.stage(record, 'start', () => this.startInstance(sha));
      const instance = started;
      await this.stage(record, 'healthy', () =>
        waitHealthy(instance.process.port, this.o.healthTimeoutMs, instance.process.exited),
      );
      await this.stage(record, 'live', () =>
        Promise.resolve(this.promote(sha, instance.process, instance.workdir)),
      );
      record.outcome = 'live';
      record.live = true;
      this.o.history.save();
      this.o.metrics.deploys.inc({ result: 'success' });
      const pushed = this.pushedAt.get(sha);
      if (pushed !== undefined) this.o.metrics.editToLive.observe((Date.now() - pushed) / 1000);
    } catch (err) {
      if (started && this.live?.process !== started.process) {
        await started.process.stop(2000);
        rmSync(started.workdir, { recursive: true, force: true });
      }
      record.outcome = 'failed';
      this.o.history.save();
      this.o.metrics.deploys.inc({ result: 'failed' });
      this.o.logger.warn(
        { sha, err: (err as Error).message },
        'pipeline failed; the live release keeps serving',
      );
    }
  }

  /** Puts an already built release back (after a crash, or on supervisor restart). */
  private async restore(sha: string, reason: string): Promise<void> {
    if (this.live && !this.live.process.hasExited && reason !== 'resumed') return;
    const record = this.o.history.get(sha) ?? this.newRecord(sha);
    record.stages = [];
    this.o.history.put(record);
    try {
      const instance = await this.stage(record, 'start', () => this.startInstance(sha));
      await this.stage(record, 'healthy', () =>
        waitHealthy(instance.process.port, this.o.healthTimeoutMs, instance.process.exited),
      );
      await this.stage(record, 'live', () =>
        Promise.resolve(this.promote(sha, instance.process, instance.workdir)),
      );
      record.outcome = reason === 'resumed' ? 'live' : 'restored';
      record.live = true;
      this.o.history.save();
      if (reason !== 'resumed') this.o.metrics.deploys.inc({ result: 'restored' });
    } catch (err) {
      record.outcome = 'failed';
      this.o.history.save();
      this.o.logger.error(
        { sha, err: (err as Error).message },
        `could not put ${sha.slice(0, 12)} back`,
      );
    }
  }

  private async startInstance(sha: string): Promise<{ process: ReleaseProcess; workdir: string }> {
    const workdir = path.join(this.o.paths.work, `${sha.slice(0, 12)}-${Date.now().toString(36)}`);
    const process = await startRelease({
      sha,
      cwd: this.o.store.dirOf(sha),
      entry: 'webapp/dist/server.js',
      env: this.o.releaseEnv(sha, workdir),
      logFile: path.join(this.logDir(sha), 'run.log'),
      timeoutMs: this.o.healthTimeoutMs,
    });
    return { process, workdir };
  }

  private promote(sha: string, process: ReleaseProcess, workdir: string): void {
    const upstream = Edge.upstream(process.port, sha);
    const previous = this.live;
    this.live = { sha, process, upstream, workdir };
    this.o.edge.switchTo(upstream);
    this.o.metrics.releaseInfo.reset();
    this.o.metrics.releaseInfo.set({ sha }, 1);
    void process.exited.then((code) => this.onExit(sha, process, code));
    if (previous) {
      const record = this.o.history.get(previous.sha);
      if (record) {
        record.live = false;
        if (record.outcome === 'live' || record.outcome === 'restored') record.outcome = 'retired';
        this.o.history.save();
      }
      this.earlier.unshift(previous.sha);
      this.retire(previous);
    }
    // Never the folder of a release still running (draining, or waiting for a final scrape).
    const protect = new Set([
      sha,
      ...this.earlier.slice(0, 2),
      ...[...this.retiring].map((r) => r.sha),
    ]);
    this.o.store.prune(this.o.keepReleases, protect);
    this.publishScrapeTargets();
    this.o.onLive?.(sha, process.port);
  }

  private publishScrapeTargets(): void {
    const running = [...(this.live ? [this.live] : []), ...this.retiring];
    this.o.onScrapeTargets?.(running.map(({ sha, process }) => ({ sha, port: process.port })));
  }

  /**
   * Drain the old release (in-flight requests finish), let a scraper read it once more when one
   * is watching, then stop it; in the background.
   */
  private retire(old: Live): void {
    this.retiring.add(old);
    const done = (async () => {
      const drained = await this.o.edge.drained(old.upstream, this.o.drainTimeoutMs);
      if (!drained)
        this.o.logger.warn(
          { sha: old.sha },
          'drain bound reached; stopping the old release anyway',
        );
      const linger = this.closed ? 0 : (this.o.finalScrapeMs?.() ?? 0);
      if (linger > 0) {
        this.o.logger.info(
          { sha: old.sha, ms: linger },
          'keeping the retired release up for a final scrape',
        );
        await this.pause(linger);
      }
      this.retiring.delete(old);
      if (!this.closed) this.publishScrapeTargets();
      await old.process.stop(this.o.drainTimeoutMs);
      old.upstream.agent.destroy();
      rmSync(old.workdir, { recursive: true, force: true });
    })();
    this.stopping.add(done);
    void done.finally(() => this.stopping.delete(done));
  }

  /** Waits `ms`, or less when the pipeline closes. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private onExit(sha: string, process: ReleaseProcess, code: number | string): void {
    if (process.stopping || this.live?.process !== process || this.closed) return;
    this.o.logger.error({ sha, code }, 'the live release exited; putting the previous one back');
    this.emit({
      sha,
      stage: 'live',
      status: 'failed',
      log: `the live release exited (${code}) after the switch`,
    });
    const record = this.o.history.get(sha);
    if (record) {
      record.outcome = 'failed';
      record.live = false;
      this.o.history.save();
    }
    this.o.metrics.deploys.inc({ result: 'failed' });
    this.o.metrics.releaseInfo.reset();
    rmSync(this.live.workdir, { recursive: true, force: true });
    this.live = undefined;
    this.o.edge.unset();
    const previous = this.earlier.find((candidate) => this.o.store.isBuilt(candidate));
    if (!previous) {
      this.o.logger.error('no earlier built release to put back; waiting for the next push');
      return;
    }
    this.earlier.splice(this.earlier.indexOf(previous), 1);
    this.pendingRestore = { kind: 'restore', sha: previous, reason: `${sha} exited` };
    this.kick();
  }

  private typecheckedFile(): string {
    return path.join(this.o.paths.cache, 'typechecked-sha');
  }

  /** The last commit whose type-check passed (with this lockfile: a new one checks again). */
  private typechecked(): string | undefined {
    try {
      return readFileSync(this.typecheckedFile(), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  private recordTypechecked(sha: string): void {
    writeFileSync(this.typecheckedFile(), `${sha}\n`);
  }

  /** Files that differ between `from` and `to`, or undefined when `from` is unknown. */
  private changedSince(from: string | undefined, to: string): string[] | undefined {
    if (!from) return undefined;
    try {
      return git(this.o.paths.origin, ['diff', '--name-only', '-z', from, to])
        .split('\0')
        .filter(Boolean);
    } catch {
      return undefined;
    }
  }

  private changedFiles(sha: string): string[] {
    const base = this.live?.sha;
    try {
      const args = base
        ? ['diff', '--name-only', '-z', base, sha]
        : ['ls-tree', '-r', '--name-only', '-z', sha, '--', 'webapp/site'];
      return git(this.o.paths.origin, args).split('\0').filter(Boolean);
    } catch {
      return [];
    }
  }
}

/** Writes the file-SD target list for Prometheus (`npm run monitor`). */
export function writeTargets(
  file: string,
  targets: { address: string; labels: Record<string, string> }[],
): void {
  writeAtomically(
    file,
    JSON.stringify(
      targets.map((t) => ({ targets: [t.address], labels: t.labels })),
      null,
      2,
    ) + '\n',
  );
}
