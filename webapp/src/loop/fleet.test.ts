import { createLogger } from '../logger';
import type { Edge, LiveRoute, Upstream } from './edge';
import { Fleet, type Release, type ScrapeTarget } from './fleet';
import type { Instance, InstanceKind, Launcher } from './instances';
import type { ReleaseProcess } from './processes';
import type { ReleaseStore } from './releases';

let nextPort = 4000;

/** A process that exits when the test says so. */
function fakeInstance(kind: InstanceKind, sha: string) {
  let exit!: (code: number | string) => void;
  const exited = new Promise<number | string>((resolve) => (exit = resolve));
  const state = { stopping: false, hasExited: false };
  void exited.then(() => (state.hasExited = true));
  const port = nextPort++;
  const process: ReleaseProcess = {
    sha,
    port,
    pid: port,
    exited,
    get stopping() {
      return state.stopping;
    },
    get hasExited() {
      return state.hasExited;
    },
    stop() {
      state.stopping = true;
      exit('SIGTERM');
      return exited.then(() => undefined);
    },
  };
  const upstream: Upstream = { port, name: `${kind} ${sha}`, agent: {} as never, inFlight: 0 };
  const instance: Instance = { kind, sha, process, upstream, workdir: undefined };
  return { instance, crash: (code: number) => exit(code) };
}

function harness(built: string[] = []) {
  const switched: LiveRoute[] = [];
  const unset: string[] = [];
  const disposed: string[] = [];
  const stopped: string[] = [];
  const crashes: { sha: string; why: string }[] = [];
  const pruned: Set<string>[] = [];
  const targets: ScrapeTarget[][] = [];
  const edge = {
    switchTo: (route: LiveRoute) => switched.push(route),
    unset: (kind: string) => unset.push(kind),
    drained: () => Promise.resolve(true),
    dispose: (u: Upstream) => disposed.push(u.name),
  } as unknown as Edge;
  const launcher = {
    stop: async (i: Instance) => {
      stopped.push(i.upstream.name);
      await i.process.stop(0);
    },
  } as unknown as Launcher;
  const store = {
    isBuilt: (sha: string) => built.includes(sha),
    prune: (_keep: number, protect: Set<string>) => {
      pruned.push(protect);
      return [];
    },
  } as unknown as ReleaseStore;
  const fleet = new Fleet({
    edge,
    launcher,
    store,
    logger: createLogger('silent'),
    drainTimeoutMs: 1000,
    keepReleases: 5,
    finalScrapeMs: () => 0,
    onScrapeTargets: (t) => targets.push(t),
    onCrash: (sha, why) => crashes.push({ sha, why }),
  });
  const release = (sha: string, platform: Instance, site: Instance): Release => ({
    sha,
    builtAt: 'now',
    platform,
    site,
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10));
  return {
    fleet,
    release,
    settle,
    switched,
    unset,
    disposed,
    stopped,
    crashes,
    pruned,
    targets,
  };
}

describe('the fleet of release processes', () => {
  it('promoting switches the edge, and retires only the processes the new release does not use', async () => {
    const h = harness();
    const platform = fakeInstance('platform', 'a');
    const siteA = fakeInstance('site', 'a');
    const siteB = fakeInstance('site', 'b');
    for (const i of [platform, siteA, siteB]) h.fleet.adopt(i.instance);
    expect(h.fleet.promote(h.release('a', platform.instance, siteA.instance))).toBeUndefined();
    expect(h.fleet.promote(h.release('b', platform.instance, siteB.instance))).toBe('a');
    await h.settle();
    expect(h.switched.map((r) => [r.sha, r.platform?.name, r.site?.name])).toEqual([
      ['a', 'platform a', 'site a'],
      ['b', 'platform a', 'site b'],
    ]);
    expect(h.stopped).toEqual(['site a']);
    expect(h.crashes).toEqual([]);
    expect(h.targets.at(-1)!.map((t) => `${t.component} ${t.sha}`)).toEqual([
      'platform a',
      'site b',
    ]);
  });

  it('a content-only release keeps both processes: nothing is retired', async () => {
    const h = harness();
    const platform = fakeInstance('platform', 'a');
    const site = fakeInstance('site', 'a');
    h.fleet.adopt(platform.instance);
    h.fleet.adopt(site.instance);
    h.fleet.promote(h.release('a', platform.instance, site.instance));
    h.fleet.promote(h.release('c', platform.instance, site.instance));
    await h.settle();
    expect(h.stopped).toEqual([]);
    expect(h.fleet.live?.sha).toBe('c');
  });

  it('crash restore: a live site that exits takes only the site down and reports the crash', async () => {
    const h = harness();
    const platform = fakeInstance('platform', 'a');
    const site = fakeInstance('site', 'a');
    h.fleet.adopt(platform.instance);
    h.fleet.adopt(site.instance);
    h.fleet.promote(h.release('a', platform.instance, site.instance));
    site.crash(4);
    await h.settle();
    expect(h.unset).toEqual(['site']);
    expect(h.crashes).toEqual([
      { sha: 'a', why: "the live release's site exited (4) after the switch" },
    ]);
    expect(h.fleet.live).toBeUndefined();
    expect(h.fleet.find('platform', () => true)).toBe(platform.instance);
    expect(h.fleet.find('site', () => true)).toBeUndefined();
  });

  it('a retired process that exits is not a crash', async () => {
    const h = harness();
    const platform = fakeInstance('platform', 'a');
    const siteA = fakeInstance('site', 'a');
    const siteB = fakeInstance('site', 'b');
    for (const i of [platform, siteA, siteB]) h.fleet.adopt(i.instance);
    h.fleet.promote(h.release('a', platform.instance, siteA.instance));
    h.fleet.promote(h.release('b', platform.instance, siteB.instance));
    await h.settle();
    expect(h.crashes).toEqual([]);
    expect(h.unset).toEqual([]);
  });

  it('the release to put back is the newest earlier one that is still built', () => {
    const h = harness(['a']);
    const platform = fakeInstance('platform', 'a');
    h.fleet.adopt(platform.instance);
    for (const sha of ['a', 'b', 'c']) {
      const site = fakeInstance('site', sha);
      h.fleet.adopt(site.instance);
      h.fleet.promote(h.release(sha, platform.instance, site.instance));
    }
    // earlier: b (not built), a (built)
    expect(h.fleet.takePrevious()).toBe('a');
    expect(h.fleet.takePrevious()).toBeUndefined();
  });

  it('never prunes the folder of a running process, the live release, or the one before', () => {
    const h = harness();
    const platform = fakeInstance('platform', 'p');
    const site = fakeInstance('site', 's');
    h.fleet.adopt(platform.instance);
    h.fleet.adopt(site.instance);
    h.fleet.promote(h.release('x', platform.instance, site.instance));
    h.fleet.promote(h.release('y', platform.instance, site.instance));
    expect([...h.pruned.at(-1)!].sort()).toEqual(['p', 's', 'x', 'y']);
  });
});
