/**
 * Which pipeline job runs next. One job at a time. A push while a job runs waits, and a newer
 * push replaces the one waiting (newest wins: the replaced commit is superseded, never built).
 * Putting a release back (after a crash, or on start) goes before any waiting build. `close`
 * stops the queue: nothing starts after it, and the job running is told to stop.
 */
export type RestoreReason = { kind: 'resumed' } | { kind: 'crashed'; sha: string; code: string };

export type Job =
  { kind: 'build'; sha: string } | { kind: 'restore'; sha: string; reason: RestoreReason };

export interface SchedulerHooks {
  /** Runs one job; `signal` aborts when the scheduler closes. Must not throw. */
  run(job: Job, signal: AbortSignal): Promise<void>;
  /** A waiting build was replaced by a newer push before it started. */
  superseded(sha: string): void;
  /** A build was queued (behind `running` when one runs). */
  queued(sha: string, running: Job | undefined): void;
}

export class Scheduler {
  private running: Job | undefined;
  private waitingBuild: string | undefined;
  private waitingRestore: Job | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly hooks: SchedulerHooks) {}

  get current(): Job | undefined {
    return this.running;
  }

  get waiting(): string | undefined {
    return this.waitingBuild;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A commit to build; ignored when it is already running or waiting. */
  build(sha: string): void {
    if (this.closed) return;
    if (this.waitingBuild === sha || (this.running?.kind === 'build' && this.running.sha === sha))
      return;
    if (this.waitingBuild) this.hooks.superseded(this.waitingBuild);
    this.waitingBuild = sha;
    this.hooks.queued(sha, this.running);
    this.kick();
  }

  /** A built release to put back; replaces a restore that has not started yet. */
  restore(sha: string, reason: RestoreReason): void {
    if (this.closed) return;
    this.waitingRestore = { kind: 'restore', sha, reason };
    this.kick();
  }

  /** Resolves when nothing runs and nothing waits. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Nothing new starts; the running job is aborted. Resolves when it has returned. */
  async close(): Promise<void> {
    this.closed = true;
    this.waitingBuild = undefined;
    this.waitingRestore = undefined;
    this.abort.abort();
    await this.idle();
  }

  private kick(): void {
    this.loop ??= this.drain().finally(() => (this.loop = undefined));
  }

  private async drain(): Promise<void> {
    for (;;) {
      const job = this.next();
      if (!job) return;
      this.running = job;
      try {
        await this.hooks.run(job, this.abort.signal);
      } finally {
        this.running = undefined;
      }
    }
  }

  private next(): Job | undefined {
    if (this.closed) return undefined;
    if (this.waitingRestore) {
      const job = this.waitingRestore;
      this.waitingRestore = undefined;
      return job;
    }
    if (this.waitingBuild) {
      const sha = this.waitingBuild;
      this.waitingBuild = undefined;
      return { kind: 'build', sha };
    }
    return undefined;
  }
}
