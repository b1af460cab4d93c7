/**
 * Live previews of change requests. Every push to a branch `reflex/<user>/<name>` goes through
 * the same stages as the deploy branch — checkout, gate, build, start, healthy, live — and ends
 * in a site process of its own, served by the edge at `http://<name>.localhost:<port>/`.
 *
 * A preview runs the site only: no platform, no secret, and none of the operator's public site
 * settings (it is not production); the site can tell it is a preview from
 * `REFLEX_SITE_PREVIEW`. At most `maxRunning` previews run at once (the one used least recently
 * goes to sleep first), and one unused for `idleMs` goes to sleep; a request to a sleeping
 * preview wakes it. Deleting the branch (a merge or a close) stops and forgets its preview.
 * Preview jobs share the machine's one pipeline slot with the deploy branch, which goes first.
 */
import path from 'node:path';
import type { Logger } from '../logger';
import type { ReleaseRecord, StageName } from '../pipeline/types';
import type { Upstream } from './edge';
import type { Gate } from './gate';
import type { Instance, Launcher } from './instances';
import type { Origin } from './origin';
import { siteCodeUnchanged } from './reuse';
import type { Recorder } from './recorder';
import type { BuildInfo, ReleaseStore } from './releases';
import { Scheduler, type Job } from './scheduler';
import type { PipelineSlot } from './slot';

const BRANCH = /^refs\/heads\/(reflex\/([a-z0-9][a-z0-9._-]{0,39})\/([a-z0-9][a-z0-9-]{0,39}))$/;

/** The preview a ref is for: `refs/heads/reflex/<user>/<name>`, or undefined. */
export function previewOf(ref: string): { branch: string; user: string; name: string } | undefined {
  const match = BRANCH.exec(ref);
  if (!match || match[3] === 'editor') return undefined;
  return { branch: match[1]!, user: match[2]!, name: match[3]! };
}

export type PreviewState = 'queued' | 'building' | 'live' | 'failed' | 'asleep';

export interface PreviewStatus {
  name: string;
  branch: string;
  /** The branch's head as last pushed. */
  sha: string;
  /** The commit the preview serves (or served, asleep). */
  liveSha: string | null;
  state: PreviewState;
  url: string;
  /** Why the last run failed. */
  error?: string;
}

export interface PreviewRoute {
  sha: string;
  builtAt: string;
  site: Upstream;
}

interface Preview {
  name: string;
  branch: string;
  sha: string;
  scheduler: Scheduler;
  recorder: Recorder;
  live: { sha: string; builtAt: string; site: Instance } | undefined;
  /** The built release a sleeping preview wakes to. */
  sleeping: string | undefined;
  failed: string | undefined;
  lastUsed: number;
}

export interface PreviewsOptions {
  origin: Origin;
  store: ReleaseStore;
  launcher: Launcher;
  gate: Gate;
  slot: PipelineSlot;
  logger: Logger;
  logDir: (sha: string) => string;
  /** A recorder for one preview's runs: its events carry the preview's name. */
  recorder: (name: string) => Recorder;
  /** The environment of a preview's site process. */
  siteEnv: (name: string, sha: string, builtAt: string) => NodeJS.ProcessEnv;
  /** The commit the deploy branch serves (the base a first preview is gated against). */
  mainLive: () => string | undefined;
  url: (name: string) => string;
  maxRunning: number;
  idleMs: number;
  buildTimeoutMs: number;
  drainTimeoutMs: number;
  /** The processes to stop gracefully. */
  drained: (upstream: Upstream, timeoutMs: number) => Promise<boolean>;
}

class Stopping extends Error {}

export class Previews {
  private readonly previews = new Map<string, Preview>();
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly o: PreviewsOptions) {
    this.sweep = setInterval(() => void this.sleepIdle(), Math.min(o.idleMs, 30_000));
    this.sweep.unref();
  }

  /** A preview branch moved to `sha`, or was deleted (`sha` undefined). */
  update(ref: string, sha: string | undefined): void {
    const of = previewOf(ref);
    if (!of || this.closed) return;
    const known = this.previews.get(of.name);
    if (!sha) {
      if (known?.branch === of.branch) void this.forget(known);
      return;
    }
    if (known && known.branch !== of.branch) {
      this.o.logger.warn(
        { name: of.name, branch: of.branch, holder: known.branch },
        'a preview of that name exists for another branch; not building this one',
      );
      return;
    }
    const preview = known ?? this.add(of.name, of.branch, sha);
    preview.sha = sha;
    preview.recorder.pushed(sha);
    if (preview.live?.sha !== sha) preview.scheduler.build(sha);
  }

  /** What serves `name` at the edge; a sleeping preview is woken and answers later. */
  route(name: string): PreviewRoute | 'waking' | undefined {
    const preview = this.previews.get(name);
    if (!preview) return undefined;
    preview.lastUsed = Date.now();
    const live = preview.live;
    if (live && !live.site.process.hasExited) {
      return { sha: live.sha, builtAt: live.builtAt, site: live.site.upstream };
    }
    if (preview.sleeping && !preview.scheduler.current) {
      preview.scheduler.restore(preview.sleeping, { kind: 'resumed' });
    }
    return 'waking';
  }

  list(): PreviewStatus[] {
    return [...this.previews.values()].map((p) => ({
      name: p.name,
      branch: p.branch,
      sha: p.sha,
      liveSha: p.live?.sha ?? p.sleeping ?? null,
      state: this.state(p),
      url: this.o.url(p.name),
      ...(p.failed ? { error: p.failed } : {}),
    }));
  }

  /** Release folders previews need kept. */
  protectedShas(): string[] {
    return [...this.previews.values()].flatMap((p) =>
      [p.live?.sha, p.live?.site.sha, p.sleeping].filter((s): s is string => s !== undefined),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    await Promise.all([...this.previews.values()].map((p) => this.forget(p)));
  }

  private add(name: string, branch: string, sha: string): Preview {
    const preview: Preview = {
      name,
      branch,
      sha,
      recorder: this.o.recorder(name),
      live: undefined,
      sleeping: undefined,
      failed: undefined,
      lastUsed: Date.now(),
      scheduler: undefined as unknown as Scheduler,
    };
    preview.scheduler = new Scheduler({
      run: (job, signal) => this.run(preview, job, signal),
      superseded: (superseded) => void preview.recorder.markSuperseded(superseded),
      queued: () => undefined,
    });
    this.previews.set(name, preview);
    return preview;
  }

  private state(p: Preview): PreviewState {
    const job = p.scheduler.current;
    if (job) return 'building';
    if (p.scheduler.waiting) return 'queued';
    if (p.live && !p.live.site.process.hasExited) return 'live';
    if (p.failed && !p.sleeping) return 'failed';
    if (p.sleeping) return 'asleep';
    return 'failed';
  }

  private async run(preview: Preview, job: Job, signal: AbortSignal): Promise<void> {
    const release = await this.o.slot.acquire('preview');
    try {
      if (job.kind === 'build') await this.build(preview, job.sha, signal);
      else await this.wake(preview, job.sha, signal);
    } catch (err) {
      this.o.logger.error({ err, preview: preview.name }, 'preview job failed unexpectedly');
    } finally {
      release();
    }
  }

  private stage<T>(
    preview: Preview,
    record: Awaited<ReturnType<Recorder['opened']>>,
    stage: StageName,
    signal: AbortSignal,
    work: () => Promise<T>,
  ): Promise<T> {
    if (signal.aborted || this.closed) throw new Stopping('the preview stopped');
    return preview.recorder.stage(record, stage, work);
  }

  private async build(preview: Preview, sha: string, signal: AbortSignal): Promise<void> {
    const { store, origin, gate } = this.o;
    const record = await preview.recorder.opened(sha);
    const logs = this.o.logDir(sha);
    let started: Instance | undefined;
    try {
      const dir = await this.stage(preview, record, 'checkout', signal, () =>
        store.checkout(sha, path.join(logs, 'checkout.log')),
      );
      const base = preview.live?.sha ?? this.o.mainLive();
      const changedFiles =
        (base ? await origin.changed(base, sha) : undefined) ??
        (await origin.files(sha, 'webapp/site/'));
      await this.stage(preview, record, 'gate', signal, () =>
        gate.run({ sha, dir, changedFiles, logDir: logs, signal }),
      );
      const reuse = await this.reusable(preview, sha);
      const info = await this.stage(preview, record, 'build', signal, async () => {
        if (reuse) return store.reuseBuild(sha, reuse.sha);
        return store.build(sha, path.join(logs, 'build.log'), this.o.buildTimeoutMs, signal);
      });
      await this.goLive(preview, record, sha, info, reuse, signal, (i) => (started = i));
      preview.recorder.markLive(record, 'built');
    } catch (err) {
      if (started) await this.o.launcher.stop(started, 2000);
      preview.failed = err instanceof Error ? err.message : String(err);
      preview.recorder.markFailed(record, err);
    }
  }

  /** Starts a sleeping preview's site again from its built release. */
  private async wake(preview: Preview, sha: string, signal: AbortSignal): Promise<void> {
    if (preview.live || signal.aborted) return;
    const record = await preview.recorder.reopened(sha);
    let started: Instance | undefined;
    try {
      const info = this.o.store.buildInfo(sha);
      if (!info)
        throw new Error(
          `preview ${preview.name}: release ${sha.slice(0, 12)} is no longer built; push again`,
        );
      await this.goLive(preview, record, sha, info, undefined, signal, (i) => (started = i));
      preview.recorder.markLive(record, 'resumed');
    } catch (err) {
      if (started) await this.o.launcher.stop(started, 2000);
      preview.failed = err instanceof Error ? err.message : String(err);
      preview.recorder.markNotRestored(record, err);
    }
  }

  /** start → healthy → live: the reused site, or a new one (made room for; told to `track`). */
  private async goLive(
    preview: Preview,
    record: ReleaseRecord,
    sha: string,
    info: BuildInfo,
    reuse: Instance | undefined,
    signal: AbortSignal,
    track: (started: Instance) => void,
  ): Promise<void> {
    const site = await this.stage(preview, record, 'start', signal, async () => {
      if (reuse) return reuse;
      await this.makeRoom(preview);
      const env = this.o.siteEnv(preview.name, sha, info.builtAt);
      const started = await this.o.launcher.start('site', sha, info.builtAt, env);
      track(started);
      return started;
    });
    await this.stage(preview, record, 'healthy', signal, () => this.o.launcher.healthy(site, sha));
    await this.stage(preview, record, 'live', signal, () => {
      this.promote(preview, { sha, builtAt: info.builtAt, site });
      return Promise.resolve();
    });
  }

  /** The preview's running site, when its code is what `sha` would run. */
  private async reusable(preview: Preview, sha: string): Promise<Instance | undefined> {
    const site = preview.live?.site;
    if (!site || site.process.hasExited || site.process.stopping) return undefined;
    const changed = await this.o.origin.changed(site.sha, sha);
    const inputs = this.o.store.siteInputs(site.sha);
    return changed && inputs && siteCodeUnchanged(changed, inputs) ? site : undefined;
  }

  private promote(preview: Preview, next: NonNullable<Preview['live']>): void {
    const previous = preview.live;
    preview.live = next;
    preview.sleeping = undefined;
    preview.failed = undefined;
    preview.lastUsed = Date.now();
    if (previous && previous.site !== next.site) void this.retire(previous.site);
  }

  private async retire(site: Instance): Promise<void> {
    await this.o.drained(site.upstream, this.o.drainTimeoutMs);
    await this.o.launcher.stop(site, this.o.drainTimeoutMs);
  }

  /** Puts previews to sleep until fewer than `maxRunning` run, least recently used first. */
  private async makeRoom(starting: Preview): Promise<void> {
    const running = [...this.previews.values()]
      .filter((p) => p !== starting && p.live)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    const limit = Math.max(0, this.o.maxRunning - 1);
    for (const preview of running.slice(0, Math.max(0, running.length - limit))) {
      await this.sleep(preview, 'the most previews run at once; this one was used least recently');
    }
  }

  private async sleepIdle(): Promise<void> {
    const now = Date.now();
    for (const preview of this.previews.values()) {
      if (preview.live && !preview.scheduler.current && now - preview.lastUsed > this.o.idleMs) {
        await this.sleep(preview, `unused for ${Math.round(this.o.idleMs / 60_000)} min`);
      }
    }
  }

  private async sleep(preview: Preview, why: string): Promise<void> {
    const live = preview.live;
    if (!live) return;
    preview.live = undefined;
    preview.sleeping = live.sha;
    this.o.logger.info({ preview: preview.name, why }, 'preview asleep');
    await this.retire(live.site);
  }

  private async forget(preview: Preview): Promise<void> {
    this.previews.delete(preview.name);
    await preview.scheduler.close();
    const live = preview.live;
    preview.live = undefined;
    if (live) await this.o.launcher.stop(live.site, this.o.drainTimeoutMs);
    this.o.logger.info({ preview: preview.name }, 'preview removed: its branch is gone');
  }
}
