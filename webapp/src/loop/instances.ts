/**
 * The processes a release runs: the platform (`webapp/dist/server.js`: editor, git, accounts,
 * the operational endpoints; it holds the secrets) and the site (`webapp/dist/site.js`: the
 * code editors change; sandboxed, see sandbox.ts). Either may serve more than one release: a
 * release that changes nothing the platform runs keeps the platform process, and one that
 * changes only the site's pages and assets keeps the site process too (the site serves each
 * release's content from its folder, chosen per request by the edge).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Edge, Upstream } from './edge';
import { startInstance, waitHealthy, type ReleaseProcess } from './processes';
import { siteArgs } from './sandbox';

export type InstanceKind = 'platform' | 'site';

export interface Instance {
  readonly kind: InstanceKind;
  /** The commit whose code it runs (its release folder). */
  readonly sha: string;
  readonly process: ReleaseProcess;
  readonly upstream: Upstream;
  /** The platform's scratch folder (its own clone of the repository). */
  readonly workdir: string | undefined;
}

export interface LauncherOptions {
  edge: Edge;
  /** `releases/`: every release folder. */
  releases: string;
  /** Where platform scratch folders go (`work/`). */
  work: string;
  logDir: (sha: string) => string;
  healthTimeoutMs: number;
  platformEnv: (sha: string, workdir: string) => NodeJS.ProcessEnv;
  siteEnv: (sha: string, builtAt: string) => NodeJS.ProcessEnv;
}

export class Launcher {
  constructor(private readonly o: LauncherOptions) {}

  /**
   * Starts `kind` from the release folder of `sha`; resolves once it listens. `env` replaces
   * the environment the options give (a preview's site).
   */
  async start(
    kind: InstanceKind,
    sha: string,
    builtAt: string,
    env?: NodeJS.ProcessEnv,
  ): Promise<Instance> {
    const dir = path.join(this.o.releases, sha);
    const workdir =
      kind === 'platform'
        ? path.join(this.o.work, `${sha.slice(0, 12)}-${Date.now().toString(36)}`)
        : undefined;
    const args =
      kind === 'platform'
        ? ['--enable-source-maps', path.join(dir, 'webapp/dist/server.js')]
        : siteArgs(process.version, dir, this.o.releases);
    const started = await startInstance({
      sha,
      cwd: dir,
      args,
      env: env ?? (workdir ? this.o.platformEnv(sha, workdir) : this.o.siteEnv(sha, builtAt)),
      logFile: path.join(this.o.logDir(sha), `${kind}.log`),
      timeoutMs: this.o.healthTimeoutMs,
    });
    const upstream = this.o.edge.upstream(started.port, `${kind} ${sha.slice(0, 12)}`);
    return { kind, sha, process: started, upstream, workdir };
  }

  /** Waits until `instance` is healthy; for a site, healthy for the content of `release`. */
  healthy(instance: Instance, release: string): Promise<void> {
    return waitHealthy(
      instance.process.port,
      this.o.healthTimeoutMs,
      instance.process.exited,
      instance.kind === 'site' ? { 'x-reflex-release': release } : {},
    );
  }

  /** Stops a process (SIGTERM, it drains; SIGKILL after `graceMs`) and removes its scratch. */
  async stop(instance: Instance, graceMs: number): Promise<void> {
    await instance.process.stop(graceMs);
    this.o.edge.dispose(instance.upstream);
    if (instance.workdir) rmSync(instance.workdir, { recursive: true, force: true });
  }
}
