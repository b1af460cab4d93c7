/**
 * The processes that run, and which release serves: the live release (its platform and site
 * process), the releases live before it (newest first, for putting one back), and the
 * processes retiring (draining, or waiting for a final scrape). Promoting a release switches
 * the edge and retires the processes it no longer uses. A live process that exits on its own
 * takes its half of the edge down at once (the other half keeps serving: a crashed site never
 * takes the editor with it) and is reported, so that the previous release is put back.
 */
import type { Logger } from '../logger';
import type { Edge } from './edge';
import type { Instance, InstanceKind, Launcher } from './instances';
import type { ReleaseStore } from './releases';

export interface Release {
  sha: string;
  builtAt: string;
  platform: Instance;
  site: Instance;
}

export interface ScrapeTarget {
  port: number;
  sha: string;
  component: InstanceKind;
}

export interface FleetOptions {
  edge: Edge;
  launcher: Launcher;
  store: ReleaseStore;
  logger: Logger;
  drainTimeoutMs: number;
  keepReleases: number;
  /** How long a retired process stays up for a final scrape (scraper.ts); asked each time. */
  finalScrapeMs: () => number;
  /** The processes to scrape (the live ones first), whenever that set changes. */
  onScrapeTargets: (targets: ScrapeTarget[]) => void;
  /** A process of the live release exited on its own. */
  onCrash: (sha: string, why: string) => void;
  /** Release folders others need kept (the previews'). */
  alsoKeep?: () => string[];
}

export class Fleet {
  private current: Release | undefined;
  /** Releases that were live before the current one, newest first. */
  private readonly earlier: string[] = [];
  private readonly running = new Set<Instance>();
  private readonly retiring = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private closed = false;

  constructor(private readonly o: FleetOptions) {}

  get live(): Release | undefined {
    return this.current;
  }

  /** A running process of `kind`, other than a retiring one, that `accept`s. */
  find(kind: InstanceKind, accept: (instance: Instance) => boolean): Instance | undefined {
    return [...this.running].find(
      (i) => i.kind === kind && !i.process.stopping && !i.process.hasExited && accept(i),
    );
  }

  /** Watches a process the pipeline started. */
  adopt(instance: Instance): void {
    this.running.add(instance);
    void instance.process.exited.then((code) => this.exited(instance, code));
  }

  /** Stops a process that will not serve (its release failed). */
  async discard(instance: Instance): Promise<void> {
    if (this.uses(this.current, instance)) return;
    this.running.delete(instance);
    await this.o.launcher.stop(instance, 2000);
    this.publishTargets();
  }

  /** `next` serves from now on; returns the release it replaced. */
  promote(next: Release): string | undefined {
    const previous = this.current;
    this.current = next;
    this.o.edge.switchTo({
      sha: next.sha,
      builtAt: next.builtAt,
      platform: next.platform.upstream,
      site: next.site.upstream,
    });
    const kept = this.earlier.filter((sha) => sha !== next.sha && sha !== previous?.sha);
    if (previous && previous.sha !== next.sha) kept.unshift(previous.sha);
    this.earlier.splice(0, this.earlier.length, ...kept);
    for (const instance of [previous?.platform, previous?.site]) {
      if (instance && !this.uses(next, instance) && !instance.process.stopping) {
        this.retire(instance);
      }
    }
    this.prune();
    this.publishTargets();
    return previous?.sha;
  }

  /** The newest earlier release whose folder is still built, taken off the list. */
  takePrevious(): string | undefined {
    const found = this.earlier.find((sha) => this.o.store.isBuilt(sha));
    if (found) this.earlier.splice(this.earlier.indexOf(found), 1);
    return found;
  }

  /** Waits for retiring processes; stops every process. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
    await Promise.all([...this.retiring]);
    this.current = undefined;
    await Promise.all([...this.running].map((i) => this.o.launcher.stop(i, this.o.drainTimeoutMs)));
    this.running.clear();
  }

  private uses(release: Release | undefined, instance: Instance): boolean {
    return release?.platform === instance || release?.site === instance;
  }

  /**
   * Drain (in-flight requests finish), let a scraper read it once more when one watches, then
   * stop; in the background.
   */
  private retire(instance: Instance): void {
    const done = (async () => {
      if (!(await this.o.edge.drained(instance.upstream, this.o.drainTimeoutMs))) {
        this.o.logger.warn(
          { process: instance.upstream.name },
          'drain bound reached; stopping the retired process anyway',
        );
      }
      const linger = this.closed ? 0 : this.o.finalScrapeMs();
      if (linger > 0) {
        this.o.logger.info(
          { process: instance.upstream.name, ms: linger },
          'keeping the retired process up for a final scrape',
        );
        await this.pause(linger);
      }
      this.running.delete(instance);
      if (!this.closed) this.publishTargets();
      await this.o.launcher.stop(instance, this.o.drainTimeoutMs);
    })();
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }

  private exited(instance: Instance, code: number | string): void {
    if (instance.process.stopping || this.closed) return;
    this.running.delete(instance);
    this.o.edge.dispose(instance.upstream);
    const live = this.current;
    if (!live || !this.uses(live, instance)) return;
    this.o.logger.error(
      { sha: live.sha, process: instance.upstream.name, code },
      'a process of the live release exited; putting the previous release back',
    );
    this.current = undefined;
    this.o.edge.unset(instance.kind);
    this.publishTargets();
    this.o.onCrash(
      live.sha,
      `the live release's ${instance.kind} exited (${code}) after the switch`,
    );
  }

  /** Never the folder of a release that runs, serves, or was live just before. */
  private prune(): void {
    const protect = new Set<string>([...this.earlier.slice(0, 2)]);
    if (this.current) protect.add(this.current.sha);
    for (const instance of this.running) protect.add(instance.sha);
    for (const sha of this.o.alsoKeep?.() ?? []) protect.add(sha);
    this.o.store.prune(this.o.keepReleases, protect);
  }

  private publishTargets(): void {
    const live = this.current ? [this.current.platform, this.current.site] : [];
    const rest = [...this.running].filter((i) => !live.includes(i));
    this.o.onScrapeTargets(
      [...live, ...rest].map((i) => ({ port: i.process.port, sha: i.sha, component: i.kind })),
    );
  }

  /** Waits `ms`, or less when the fleet closes. */
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
}
