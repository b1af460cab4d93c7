/**
 * `npm start`: the whole loop on one machine. Prepares REFLEX_HOME, starts the control API and
 * the edge, builds (or resumes) the release of the branch's head, then runs the pipeline for
 * every push to the local origin: told by a watch on the branch's ref, the origin's post-receive
 * hook, and a poll as a safety net. Composition only: each part is its own module.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { UserStore } from '../auth/users';
import type { Logger } from '../logger';
import type { StageEvent } from '../pipeline/types';
import { controlApp, listenControl } from './control';
import { Edge } from './edge';
import { DEFAULT_EDGE_LIMITS, largestBody, type EdgeLimits } from './edgeLimits';
import { Fleet, type ScrapeTarget } from './fleet';
import { Gate, type GateStep } from './gate';
import { GateWorkspace } from './gateWorkspace';
import { EventBus, History } from './history';
import {
  announceSupervisor,
  claimHome,
  homePaths,
  prepareHome,
  retractSupervisor,
  type HomePaths,
} from './home';
import { Launcher } from './instances';
import { createLoopMetrics, type LoopMetrics } from './metrics';
import { Origin } from './origin';
import { Pipeline } from './pipeline';
import { Previews } from './previews';
import { killAllChildren } from './processes';
import { Recorder } from './recorder';
import { RefWatch } from './refWatch';
import { ReleaseStore } from './releases';
import { platformEnv, siteEnv } from './sandbox';
import { PipelineSlot } from './slot';
import { WarmGate } from './warmGate';
import { activeScraper, finalScrapeMs, writeTargets } from './scraper';
import { stageLines } from './console';

export interface SupervisorOptions {
  projectDir: string;
  home: string;
  port: number;
  host: string;
  branch: string;
  gate: GateStep[];
  /** Long-lived gate processes (default true); false runs the gate's commands each time. */
  warmGate?: boolean;
  /** Keep the processes a release can reuse (default true); see PipelineOptions. */
  reuseProcesses?: boolean;
  healthTimeoutMs: number;
  drainTimeoutMs: number;
  gateTimeoutMs: number;
  keepReleases: number;
  pollIntervalMs: number;
  adminPassword: string | undefined;
  /** The editor's host name: the platform's own origin (`editor.localhost`). */
  editorHost?: string;
  /** Edge limits other than the defaults (tests, benchmarks). */
  edgeLimits?: Partial<EdgeLimits>;
  /** Previews of change requests: how many run at once, and when an unused one sleeps. */
  previews?: { maxRunning: number; idleMs: number };
  /** Operator settings passed on to the platform (REFLEX_EDITABLE and the like). */
  releaseSettings: Record<string, string>;
  /** The environment public site settings (`REFLEX_SITE_*`) are taken from. */
  siteSettingsFrom?: NodeJS.ProcessEnv;
  logger: Logger;
  /** Human-readable progress lines (the console). */
  say: (line: string) => void;
}

export class SupervisorError extends Error {}

/** Where change requests' branches live: `reflex/<user>/<name>`. */
const PREVIEW_REFS = 'refs/heads/reflex/';

export class Supervisor {
  readonly paths: HomePaths;
  readonly pipeline: Pipeline;
  readonly events = new EventBus();
  readonly origin: Origin;
  edgePort = 0;
  controlPort = 0;
  private readonly edge: Edge;
  private readonly fleet: Fleet;
  private readonly gate: Gate;
  readonly previews: Previews;
  private readonly history: History;
  private readonly metrics: LoopMetrics;
  private readonly editorHost: string;
  private control: http.Server | undefined;
  private poll: NodeJS.Timeout | undefined;
  private refWatch: RefWatch | undefined;
  private readonly firstLive: Promise<string>;
  private resolveFirstLive!: (sha: string) => void;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly o: SupervisorOptions,
    private readonly token: string,
    sessionSecret: string,
  ) {
    this.paths = homePaths(o.home);
    this.editorHost = o.editorHost ?? 'editor.localhost';
    this.firstLive = new Promise((resolve) => (this.resolveFirstLive = resolve));
    this.origin = new Origin(this.paths.origin, o.branch);
    this.history = new History(path.join(this.paths.state, 'releases.json'));
    this.metrics = createLoopMetrics(() => this.pipeline.lag());
    this.edge = new Edge({
      logger: o.logger,
      editorHost: this.editorHost,
      edgeToken: randomBytes(24).toString('base64url'),
      previews: (name) => this.previews.route(name),
      limits: {
        ...DEFAULT_EDGE_LIMITS,
        maxBodyBytes: largestBody(o.releaseSettings),
        ...o.edgeLimits,
      },
    });
    const store = new ReleaseStore(this.paths, o.projectDir);
    const logDir = (sha: string) => {
      const dir = path.join(this.paths.logs, sha);
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    const launcher = new Launcher({
      edge: this.edge,
      releases: this.paths.releases,
      work: this.paths.work,
      logDir,
      healthTimeoutMs: o.healthTimeoutMs,
      platformEnv: (sha, workdir) => this.platformEnv(sha, workdir, sessionSecret),
      siteEnv: (sha, builtAt) =>
        siteEnv({
          sha,
          builtAt,
          releases: this.paths.releases,
          logLevel: o.releaseSettings.REFLEX_LOG_LEVEL ?? 'info',
          from: o.siteSettingsFrom ?? {},
        }),
    });
    this.fleet = new Fleet({
      edge: this.edge,
      launcher,
      store,
      logger: o.logger,
      drainTimeoutMs: o.drainTimeoutMs,
      keepReleases: o.keepReleases,
      finalScrapeMs: () => finalScrapeMs(activeScraper(this.paths.prometheus)),
      onScrapeTargets: (targets) => this.publishTargets(targets),
      onCrash: (sha, why) => this.pipeline.crashed(sha, why),
      alsoKeep: () => this.previews.protectedShas(),
    });
    this.gate = new Gate({
      steps: o.gate,
      origin: this.origin,
      cacheDir: this.paths.cache,
      timeoutMs: o.gateTimeoutMs,
      warm:
        o.warmGate === false
          ? undefined
          : new WarmGate({
              steps: o.gate,
              workspace: new GateWorkspace(
                path.join(this.paths.cache, 'gate'),
                this.paths.origin,
                path.join(this.paths.cache, 'gate.index'),
              ),
              cacheDir: this.paths.cache,
              timeoutMs: o.gateTimeoutMs,
            }),
    });
    const recorder = new Recorder(this.history, this.events, this.metrics, this.origin, o.logger);
    const slot = new PipelineSlot();
    const previewHistory = new History(path.join(this.paths.state, 'previews.json'));
    // A preview's runs are not the deploy branch's: their counters go to a registry no one scrapes.
    const previewMetrics = createLoopMetrics(() => 0, { processMetrics: false });
    this.previews = new Previews({
      origin: this.origin,
      store,
      launcher,
      gate: this.gate,
      slot,
      logger: o.logger,
      logDir,
      recorder: (name) =>
        new Recorder(previewHistory, this.events, previewMetrics, this.origin, o.logger, name),
      siteEnv: (name, sha, builtAt) => ({
        ...siteEnv({
          sha,
          builtAt,
          releases: this.paths.releases,
          logLevel: o.releaseSettings.REFLEX_LOG_LEVEL ?? 'info',
          from: {},
        }),
        REFLEX_SITE_PREVIEW: name,
      }),
      mainLive: () => this.fleet.live?.sha,
      url: (name) => `http://${name}.localhost:${this.edgePort}/`,
      maxRunning: o.previews?.maxRunning ?? 3,
      idleMs: o.previews?.idleMs ?? 30 * 60_000,
      buildTimeoutMs: o.gateTimeoutMs,
      drainTimeoutMs: o.drainTimeoutMs,
      drained: (upstream, timeoutMs) => this.edge.drained(upstream, timeoutMs),
    });
    this.pipeline = new Pipeline({
      origin: this.origin,
      store,
      launcher,
      fleet: this.fleet,
      recorder,
      gate: this.gate,
      slot,
      logger: o.logger,
      logDir,
      buildTimeoutMs: o.gateTimeoutMs,
      reuseProcesses: o.reuseProcesses,
      onLive: (sha) => this.resolveFirstLive(sha),
    });
  }

  static async start(o: SupervisorOptions): Promise<Supervisor> {
    const paths = homePaths(o.home);
    const { seeded, sessionSecret } = prepareHome(paths, o.projectDir, o.branch);
    claimHome(paths);
    const supervisor = new Supervisor(o, randomBytes(24).toString('base64url'), sessionSecret);
    try {
      await supervisor.begin(seeded);
    } catch (err) {
      await supervisor.close();
      throw err;
    }
    return supervisor;
  }

  /** Resolves with the SHA of the first release that goes live. */
  whenLive(): Promise<string> {
    return this.firstLive;
  }

  /** The site's URL (what visitors see). */
  get url(): string {
    return `http://localhost:${this.edgePort}`;
  }

  /** The editor's URL: its own origin. */
  get editorUrl(): string {
    return `http://${this.editorHost}:${this.edgePort}`;
  }

  private async begin(seeded: boolean): Promise<void> {
    const { o, paths } = this;
    const users = new UserStore(paths.usersFile);
    const created = await users.ensureAdmin(o.adminPassword);
    const control = await listenControl(
      controlApp({
        token: this.token,
        events: this.events,
        history: this.history,
        metrics: this.metrics,
        logger: o.logger,
        branch: o.branch,
        status: () => ({
          ...this.pipeline.status(),
          url: this.url,
          editor: `${this.editorUrl}/editor/`,
          home: paths.root,
        }),
        onPush: (sha) => this.pipeline.notify(sha),
        onBranch: (ref, sha) => this.previews.update(ref, sha),
        previews: () => this.previews.list(),
      }),
    );
    this.control = control.server;
    this.controlPort = control.port;
    try {
      this.edgePort = await this.edge.listen(o.port, o.host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new SupervisorError(
          `port ${o.port} is in use: stop what holds it, or set REFLEX_PORT to another port`,
        );
      }
      throw err;
    }
    announceSupervisor(paths, {
      controlPort: this.controlPort,
      edgePort: this.edgePort,
      token: this.token,
    });
    this.events.subscribe((event) => this.report(event));

    const head = await this.origin.head();
    if (!head) throw new SupervisorError(`the local origin has no branch ${o.branch}`);
    o.say(
      `Reflex — local loop in ${path.relative(process.cwd(), paths.root) || paths.root}${seeded ? ` (origin seeded from HEAD ${head.slice(0, 12)})` : ''}`,
    );
    if (created) {
      o.say(
        created.generated
          ? `First account (shown once): username ${created.username}, password ${created.password}`
          : `First account: ${created.username}, with the password from REFLEX_ADMIN_PASSWORD`,
      );
    }
    const lastLive = this.history.lastLive();
    if (lastLive?.sha === head && new ReleaseStore(paths, o.projectDir).isBuilt(head)) {
      o.say(`Starting release ${head.slice(0, 12)} (already built)…`);
      this.pipeline.resume(head);
    } else {
      o.say(`Building release ${head.slice(0, 12)} of ${o.branch}…`);
      this.pipeline.notify(head);
    }
    for (const [ref, sha] of await this.origin.refs(PREVIEW_REFS)) this.previews.update(ref, sha);
    this.refWatch = new RefWatch(paths.origin, o.branch, (sha) => this.pipeline.notify(sha));
    this.poll = setInterval(() => void this.checkBranch(), o.pollIntervalMs);
    this.poll.unref();
  }

  /** Safety net for a missed hook: compare the branches with what was last seen. */
  private async checkBranch(): Promise<void> {
    if (!this.origin.refsMayHaveMoved()) return;
    const seen = this.origin.knownHead;
    const head = await this.origin.head();
    if (head && head !== seen) this.pipeline.notify(head);
    const branches = await this.origin.refs(PREVIEW_REFS);
    const known = new Map(this.previews.list().map((p) => [`refs/heads/${p.branch}`, p.sha]));
    for (const [ref, sha] of branches) if (known.get(ref) !== sha) this.previews.update(ref, sha);
    for (const ref of known.keys()) if (!branches.has(ref)) this.previews.update(ref, undefined);
  }

  private publishTargets(targets: ScrapeTarget[]): void {
    writeTargets(
      path.join(this.paths.prometheus, 'app.json'),
      targets.map(({ port, sha, component }) => ({
        address: `127.0.0.1:${port}`,
        labels: { sha, component },
      })),
    );
  }

  private report(event: StageEvent): void {
    for (const line of stageLines(event, {
      site: this.url,
      editor: this.editorUrl,
      port: this.edgePort,
    }))
      this.o.say(line);
  }

  /** The platform's environment: its secrets and settings; never given to the site. */
  private platformEnv(sha: string, workdir: string, sessionSecret: string): NodeJS.ProcessEnv {
    const { paths, o } = this;
    return platformEnv({
      sha,
      workdir,
      sessionSecret,
      paths,
      branch: o.branch,
      settings: o.releaseSettings,
      edgeToken: this.edge.token,
      siteUrl: this.url,
      editorUrl: this.editorUrl,
      supervisorUrl: `http://127.0.0.1:${this.controlPort}`,
      supervisorToken: this.token,
      drainTimeoutMs: o.drainTimeoutMs,
    });
  }

  /**
   * Stops in order: the pipeline first (nothing new starts; a running command is ended), then
   * the processes drain and stop, then the edge and the control API. A second call returns the
   * same promise; `force` (a second signal) kills every child at once.
   */
  close(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.poll) clearInterval(this.poll);
      this.refWatch?.close();
      await Promise.all([this.pipeline.close(), this.previews.close()]);
      this.gate.close();
      await this.fleet.close();
      await this.edge.close();
      await new Promise<void>((resolve) =>
        this.control ? this.control.close(() => resolve()) : resolve(),
      );
      this.control?.closeAllConnections();
      killAllChildren('SIGKILL');
      retractSupervisor(this.paths);
    })();
    return this.stopping;
  }

  /** A second signal: kill every child now. */
  force(): void {
    killAllChildren('SIGKILL');
  }
}
