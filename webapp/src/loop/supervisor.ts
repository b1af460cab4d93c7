/**
 * `npm start`: the whole loop on one machine. Prepares REFLEX_HOME, starts the control API
 * and the edge, builds (or resumes) the release of the branch's head, and from then on runs
 * the pipeline for every push to the local origin — told by its post-receive hook, and by a
 * poll of the branch as a safety net.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { UserStore } from '../auth/users';
import type { Logger } from '../logger';
import type { StageEvent } from '../pipeline/types';
import { controlApp, listenControl } from './control';
import { Edge } from './edge';
import type { GateStep } from './gate';
import { EventBus, History } from './history';
import { homePaths, PLAIN_GIT_ENV, prepareHome, type HomePaths } from './home';
import { createLoopMetrics } from './metrics';
import { Pipeline, writeTargets } from './pipeline';
import { killAllChildren } from './processes';
import { ReleaseStore } from './releases';
import { activeScraper, finalScrapeMs } from './scraper';

export interface SupervisorOptions {
  projectDir: string;
  home: string;
  port: number;
  host: string;
  branch: string;
  gate: GateStep[];
  healthTimeoutMs: number;
  drainTimeoutMs: number;
  gateTimeoutMs: number;
  keepReleases: number;
  pollIntervalMs: number;
  adminPassword: string | undefined;
  /** Operator settings passed on to every release (REFLEX_EDITABLE and the like). */
  releaseSettings: Record<string, string>;
  logger: Logger;
  /** Human-readable progress lines (the console). */
  say: (line: string) => void;
}

export class SupervisorError extends Error {}

export class Supervisor {
  readonly paths: HomePaths;
  readonly pipeline: Pipeline;
  readonly events = new EventBus();
  edgePort = 0;
  controlPort = 0;
  private readonly edge: Edge;
  private readonly history: History;
  private readonly metrics: ReturnType<typeof createLoopMetrics>;
  private control: http.Server | undefined;
  private poll: NodeJS.Timeout | undefined;
  private lastSeenHead: string | undefined;
  private firstLive: Promise<string>;
  private resolveFirstLive!: (sha: string) => void;

  private constructor(
    private readonly o: SupervisorOptions,
    private readonly token: string,
    sessionSecret: string,
  ) {
    this.paths = homePaths(o.home);
    this.edge = new Edge(o.logger);
    this.firstLive = new Promise((resolve) => (this.resolveFirstLive = resolve));
    const history = new History(path.join(this.paths.state, 'releases.json'));
    // Read at scrape time, once the pipeline exists.
    const metrics = createLoopMetrics(() => this.pipeline.lag());
    const pipeline = new Pipeline({
      paths: this.paths,
      store: new ReleaseStore(this.paths, o.projectDir),
      edge: this.edge,
      events: this.events,
      history,
      metrics,
      logger: o.logger,
      branch: o.branch,
      gate: o.gate,
      healthTimeoutMs: o.healthTimeoutMs,
      drainTimeoutMs: o.drainTimeoutMs,
      gateTimeoutMs: o.gateTimeoutMs,
      keepReleases: o.keepReleases,
      releaseEnv: (sha, workdir) => this.releaseEnv(sha, workdir, sessionSecret),
      onLive: (sha) => this.resolveFirstLive(sha),
      onScrapeTargets: (targets) =>
        writeTargets(
          path.join(this.paths.prometheus, 'app.json'),
          targets.map(({ sha, port }) => ({ address: `127.0.0.1:${port}`, labels: { sha } })),
        ),
      finalScrapeMs: () => finalScrapeMs(activeScraper(this.paths.prometheus)),
    });
    this.pipeline = pipeline;
    this.history = history;
    this.metrics = metrics;
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

  get url(): string {
    return `http://localhost:${this.edgePort}`;
  }

  private async begin(seeded: boolean): Promise<void> {
    const { o, paths } = this;
    const users = new UserStore(paths.usersFile);
    const created = await users.ensureAdmin(o.adminPassword);

    const app = controlApp({
      token: this.token,
      events: this.events,
      history: this.history,
      metrics: this.metrics,
      logger: o.logger,
      branch: o.branch,
      status: () => ({
        ...this.pipeline.status(),
        url: this.url,
        editor: `${this.url}/editor/`,
        home: paths.root,
      }),
      onPush: (sha) => this.pipeline.notify(sha),
    });
    const control = await listenControl(app);
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
    writeFileSync(
      paths.supervisorFile,
      JSON.stringify({
        pid: process.pid,
        controlPort: this.controlPort,
        edgePort: this.edgePort,
        token: this.token,
      }) + '\n',
      { mode: 0o600 },
    );
    writeTargets(path.join(paths.prometheus, 'supervisor.json'), [
      { address: `127.0.0.1:${this.controlPort}`, labels: {} },
    ]);
    this.events.subscribe((event) => this.report(event));

    const head = this.pipeline.branchHead();
    if (!head) throw new SupervisorError(`the local origin has no branch ${o.branch}`);
    this.lastSeenHead = head;
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
    this.poll = setInterval(() => this.checkBranch(), o.pollIntervalMs);
    this.poll.unref();
  }

  /** Safety net for a missed hook: compare the branch with what was last seen. */
  private checkBranch(): void {
    execFile(
      'git',
      ['--git-dir', this.paths.origin, 'rev-parse', `refs/heads/${this.o.branch}`],
      { env: PLAIN_GIT_ENV },
      (err, stdout) => {
        if (err) return;
        const head = stdout.trim();
        if (head && head !== this.lastSeenHead) {
          this.lastSeenHead = head;
          this.pipeline.notify(head);
        }
      },
    );
  }

  private report(event: StageEvent): void {
    const short = event.sha.slice(0, 12);
    if (event.status === 'started') return;
    const seconds =
      event.durationMs === undefined ? '' : ` ${(event.durationMs / 1000).toFixed(2)} s`;
    if (event.status === 'succeeded') {
      this.o.say(`  [${short}] ${event.stage.padEnd(9)} ok${seconds}`);
      if (event.stage === 'live')
        this.o.say(`Reflex is live at ${this.url}  (editor: ${this.url}/editor/)`);
    } else {
      this.o.say(`  [${short}] ${event.stage.padEnd(9)} FAILED${seconds}`);
      for (const line of (event.log ?? '').trim().split('\n').slice(-12))
        this.o.say(`      ${line}`);
      this.o.say(`      full logs: npm run reflex -- logs ${short}`);
    }
  }

  private releaseEnv(sha: string, workdir: string, sessionSecret: string): NodeJS.ProcessEnv {
    const { paths, o } = this;
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: process.env.LANG,
      ...o.releaseSettings,
      PORT: '0',
      HOST: '127.0.0.1',
      REFLEX_SHA: sha,
      REFLEX_REPO_URL: paths.origin,
      REFLEX_BRANCH: o.branch,
      REFLEX_WORKDIR: workdir,
      REFLEX_USERS_FILE: paths.usersFile,
      REFLEX_SESSION_SECRET: sessionSecret,
      REFLEX_STATE_DIR: paths.state,
      REFLEX_AUDIT_FILE: paths.auditFile,
      REFLEX_TRUST_PROXY: 'true',
      REFLEX_PIPELINE: 'local',
      REFLEX_SUPERVISOR_URL: `http://127.0.0.1:${this.controlPort}`,
      REFLEX_SHUTDOWN_TIMEOUT_MS: String(o.drainTimeoutMs),
      REFLEX_EXIT_WITH_PARENT: 'true',
    };
  }

  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    await this.pipeline.close();
    await this.edge.close();
    await new Promise<void>((resolve) =>
      this.control ? this.control.close(() => resolve()) : resolve(),
    );
    this.control?.closeAllConnections();
    killAllChildren('SIGKILL');
    rmSync(this.paths.supervisorFile, { force: true });
  }
}

/** One supervisor per REFLEX_HOME: refuse when the recorded one still runs. */
function claimHome(paths: HomePaths): void {
  if (!existsSync(paths.supervisorFile)) return;
  try {
    const { pid } = JSON.parse(readFileSync(paths.supervisorFile, 'utf8')) as { pid: number };
    if (pid !== process.pid) {
      process.kill(pid, 0);
      throw new SupervisorError(
        `another supervisor (pid ${pid}) runs in ${paths.root}; stop it first, or set REFLEX_HOME`,
      );
    }
  } catch (err) {
    if (err instanceof SupervisorError) throw err;
    // stale file: that supervisor is gone
  }
}
