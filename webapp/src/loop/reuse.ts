/**
 * What a release can reuse of the processes that serve now. Only the site's pages and assets
 * changed: both processes serve it as they are (the site picks the content by release). Site
 * code changed: a new site process, the platform stays. Anything else: both start anew. A
 * release that starts a process builds; one that starts none reuses the site's build.
 */
import path from 'node:path';
import type { Fleet } from './fleet';
import type { Instance, InstanceKind } from './instances';
import type { Origin } from './origin';
import type { BuildInfo, ReleaseStore } from './releases';

export const SITE = 'webapp/site/';

/** The processes a release reuses; `undefined` ones it starts. */
export interface Plan {
  platform: Instance | undefined;
  site: Instance | undefined;
}

/** Whether the platform's code is the same in two trees that differ by `changed`. */
export function platformUnchanged(changed: readonly string[]): boolean {
  return changed.every((file) => file.startsWith(SITE));
}

/** Whether the site's code is the same: no change outside the site, none to its bundle's inputs. */
export function siteCodeUnchanged(changed: readonly string[], inputs: readonly string[]): boolean {
  const bundled = new Set(inputs);
  return changed.every((file) => file.startsWith(SITE) && !bundled.has(file));
}

export interface ReuseOptions {
  origin: Origin;
  store: ReleaseStore;
  fleet: Fleet;
  logDir: (sha: string) => string;
  buildTimeoutMs: number;
  /** Off: every release starts both processes from its own build (kept for benchmarks). */
  enabled: boolean;
}

export class Reuse {
  constructor(private readonly o: ReuseOptions) {}

  /** Which running processes can serve `sha` as they are. */
  async plan(sha: string): Promise<Plan> {
    if (!this.o.enabled) return { platform: undefined, site: undefined };
    const [platform, site] = await Promise.all([
      this.reusable('platform', sha),
      this.reusable('site', sha),
    ]);
    return { platform, site };
  }

  /** A new build when a process must start from it; else the reused site's build. */
  async build(sha: string, plan: Plan, signal: AbortSignal): Promise<BuildInfo> {
    const { store } = this.o;
    if (plan.site && plan.platform) return store.reuseBuild(sha, plan.site.sha);
    return store.build(
      sha,
      path.join(this.o.logDir(sha), 'build.log'),
      this.o.buildTimeoutMs,
      signal,
    );
  }

  private async reusable(kind: InstanceKind, sha: string): Promise<Instance | undefined> {
    const live = this.o.fleet.live?.[kind];
    const candidates = [live, this.o.fleet.find(kind, (i) => i !== live)].filter(
      (i): i is Instance => i !== undefined && !i.process.stopping && !i.process.hasExited,
    );
    for (const candidate of candidates) {
      const changed = await this.o.origin.changed(candidate.sha, sha);
      if (!changed) continue;
      if (kind === 'platform' && platformUnchanged(changed)) return candidate;
      const inputs = this.o.store.siteInputs(candidate.sha);
      if (kind === 'site' && inputs && siteCodeUnchanged(changed, inputs)) return candidate;
    }
    return undefined;
  }
}
