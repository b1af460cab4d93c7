/**
 * Every dashboard panel and every alert rule, evaluated by a real Prometheus that scrapes the
 * real local loop (the live release and the supervisor, found through the file-SD lists the
 * supervisor writes), a real node-exporter (with the deploy scripts' textfile metrics written
 * as deploy.sh writes them) and itself, with the configuration derived from
 * prometheus/prometheus.yml. A save and the deploy it starts happen while Prometheus watches.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeAtomically } from '../webapp/src/files';
import {
  spawnTs,
  waitForListening,
  WEBAPP_DIR,
  type InstanceProcess,
} from '../webapp/test/support/processes';
import { loadDashboards, panelName, type DashboardFile } from './support/dashboards';
import {
  activeTargets,
  describeEvaluation,
  evaluateAlertRules,
  evaluateDashboards,
  instantQuery,
  metricsWithoutSeries,
  startMonitoring,
  waitForRuleEvaluation,
  waitForScrapes,
  type MonitoringStack,
  type QueryEvaluation,
} from './support/monitoring';
import {
  editorClient,
  editorHost,
  request as edgeRequest,
  startLoop,
  type Loop,
} from './support/loop';
import { metricNames } from './support/promql';

const SERVER = path.join(WEBAPP_DIR, 'src/server.ts');
const LIVE_SHA = '3f1c2b4a5d6e7f8091a2b3c4d5e6f708192a3b4c';

/** The host's textfile metrics, as deploy.sh and reconcile.sh publish them (docs/METRICS.md). */
function hostTextfile(now: number, successfulDeploys: number): string {
  return [
    '# HELP reflex_host_deploys_total Runs of deploy.sh, by result.',
    '# TYPE reflex_host_deploys_total counter',
    `reflex_host_deploys_total{result="success"} ${successfulDeploys}`,
    'reflex_host_deploys_total{result="failed"} 1',
    '# HELP reflex_host_deploy_duration_seconds Duration of the last deploy.',
    '# TYPE reflex_host_deploy_duration_seconds gauge',
    'reflex_host_deploy_duration_seconds 41.5',
    '# HELP reflex_host_last_deploy_timestamp_seconds When the last deploy of each result ended.',
    '# TYPE reflex_host_last_deploy_timestamp_seconds gauge',
    `reflex_host_last_deploy_timestamp_seconds{result="success"} ${now - 60}`,
    `reflex_host_last_deploy_timestamp_seconds{result="failed"} ${now - 7200}`,
    '# HELP reflex_release_info 1 for the live release.',
    '# TYPE reflex_release_info gauge',
    `reflex_release_info{sha="${LIVE_SHA}",color="blue"} 1`,
    '# HELP reflex_desired_release_lag_seconds 0 when the head of main is live.',
    '# TYPE reflex_desired_release_lag_seconds gauge',
    'reflex_desired_release_lag_seconds 0',
    '# HELP reflex_host_pinned 1 while a rollback pin holds reconcile off.',
    '# TYPE reflex_host_pinned gauge',
    'reflex_host_pinned 0',
    '',
  ].join('\n');
}

async function request(port: number, urlPath: string, method = 'GET'): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`, { method });
  await response.arrayBuffer();
  return response.status;
}

/** A few seconds of mixed traffic: 200s, a 404 outside the routes, a 405. */
async function driveTraffic(port: number, seconds: number): Promise<number[]> {
  const statuses: number[] = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    statuses.push(
      ...(await Promise.all([
        request(port, '/healthz'),
        request(port, '/version'),
        request(port, '/no-such-page'),
        request(port, '/healthz', 'POST'),
      ])),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return statuses;
}

/** Every instance a test started, so afterAll stops them even when a test failed midway. */
const started: InstanceProcess[] = [];

async function startInstance(sha: string): Promise<{ instance: InstanceProcess; port: number }> {
  const instance = spawnTs(SERVER, { PORT: '0', REFLEX_SHA: sha });
  started.push(instance);
  return { instance, port: await waitForListening(instance) };
}

async function stopInstance(instance: InstanceProcess): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  instance.child.kill('SIGKILL');
  await instance.exited;
}

const ROUTES = 'webapp/site/routes.ts';

/** The site's routes with a comment: a change to the site's code, which starts a new site. */
function routesWith(original: string, note: string): string {
  return `${original}\n// ${note}\n`;
}

/** The app's scrape targets as `component sha`, sorted. */
async function appTargets(prometheusUrl: string): Promise<string[]> {
  return (await activeTargets(prometheusUrl))
    .filter((t) => t.job === 'reflex-app')
    .map((t) => `${t.labels.component} ${t.labels.sha}${t.health === 'up' ? '' : ` (${t.health})`}`)
    .sort();
}

/**
 * Waits until the app's scrape targets are exactly `expected` (`component sha`), all up: a
 * retired process that Prometheus has not yet dropped from its file-SD list shows as down.
 */
async function waitForAppTargets(prometheusUrl: string, expected: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await appTargets(prometheusUrl);
    if (JSON.stringify(seen) === JSON.stringify([...expected].sort())) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `app targets stayed ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`,
  );
}

describe('dashboards and alerts against a live Prometheus watching the local loop', () => {
  let scratch: string;
  let loop: Loop | undefined;
  let stack: MonitoringStack | undefined;
  let panels: QueryEvaluation[] = [];
  let deployed = '';
  let first = '';

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'reflex-dashboards-'));
    const textfileDir = path.join(scratch, 'textfile');
    mkdirSync(textfileDir);
    const now = Math.floor(Date.now() / 1000);
    writeAtomically(path.join(textfileDir, 'reflex.prom'), hostTextfile(now, 3));

    loop = await startLoop();
    first = await loop.supervisor.whenLive();
    stack = await startMonitoring({ fileSdDir: path.join(loop.home, 'prometheus'), textfileDir });
    const jobs = ['reflex-app', 'reflex-supervisor', 'node', 'prometheus'];
    await waitForScrapes({ prometheusUrl: stack.prometheusUrl, jobs, scrapes: 2 });

    // The editor at work: a refused save, then a save and the deploy it starts (site code: a
    // new site process; the platform, which counted the saves, keeps serving).
    const client = await editorClient(loop.url);
    const refused = await edgeRequest(loop.url, 'PUT', '/api/files/package.json', {
      cookie: client.cookie,
      host: editorHost(loop.url),
      body: { content: '{}', baseCommit: await client.head() },
    });
    expect(refused.status).toBe(403);
    deployed = await client.save(ROUTES, routesWith(await client.read(ROUTES), 'watched'));
    const statuses = await driveTraffic(loop.supervisor.edgePort, 3);
    await loop.waitForVersion(deployed);
    expect(new Set(statuses)).toEqual(new Set([200, 404, 405]));
    await driveTraffic(loop.supervisor.edgePort, 2);
    // The retired site stays listed until Prometheus scraped it once more, then goes.
    await waitForAppTargets(stack.prometheusUrl, [`platform ${first}`, `site ${deployed}`]);

    // A deploy on the host while Prometheus watches: the textfile collector must pick it up.
    writeAtomically(path.join(textfileDir, 'reflex.prom'), hostTextfile(now, 4));
    const evaluatedAfter = new Date();
    await waitForScrapes({ prometheusUrl: stack.prometheusUrl, jobs, scrapes: 3 });
    await waitForRuleEvaluation(stack.prometheusUrl, evaluatedAfter);
    panels = await evaluateDashboards({ prometheusUrl: stack.prometheusUrl });
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    await loop?.close();
    rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  it('scrapes the live release and the supervisor through their file-SD lists, node-exporter and itself', async () => {
    const targets = await activeTargets(stack!.prometheusUrl);
    expect(
      targets
        .map(({ job, health }) => ({ job, health }))
        .sort((a, b) => a.job.localeCompare(b.job)),
    ).toEqual([
      { job: 'node', health: 'up' },
      { job: 'prometheus', health: 'up' },
      { job: 'reflex-app', health: 'up' },
      { job: 'reflex-app', health: 'up' },
      { job: 'reflex-supervisor', health: 'up' },
    ]);
    expect(await appTargets(stack!.prometheusUrl)).toEqual([
      `platform ${first}`,
      `site ${deployed}`,
    ]);
  });

  it('evaluates every panel of every dashboard', () => {
    const expected = loadDashboards().flatMap(({ dashboard }) =>
      (dashboard.panels ?? []).flatMap((panel) => (panel.targets ?? []).map(() => panel.title)),
    );
    expect(panels.map((p) => p.panel)).toEqual(expected);
    expect(panels.length).toBeGreaterThan(30);
  });

  it('no panel query is refused by Prometheus', () => {
    expect(panels.filter((p) => p.outcome === 'error').map(describeEvaluation)).toEqual([]);
  });

  it('every panel returns data', () => {
    expect(panels.filter((p) => p.outcome !== 'data').map(describeEvaluation)).toEqual([]);
  });

  it('every metric the panels read has series (no misspelt name)', async () => {
    const names = [...new Set(panels.flatMap((p) => metricNames(p.query)))];
    for (const family of [
      'http_requests_total',
      'node_load1',
      'reflex_release_info',
      'reflex_saves_total',
      'reflex_pipeline_stage_duration_seconds',
      'reflex_edit_to_live_seconds',
    ]) {
      expect(names.some((name) => name.startsWith(family))).toBe(true);
    }
    expect(await metricsWithoutSeries(stack!.prometheusUrl, names)).toEqual([]);
  });

  it('saw the save, the refusal and the deploy', async () => {
    // The release that handled the save has been replaced since: look back over its series.
    const saves = await instantQuery(
      stack!.prometheusUrl,
      'sum by (result) (max_over_time(reflex_saves_total[10m])) > 0',
    );
    expect(
      saves.resultType === 'vector' && saves.result.map((s) => s.metric.result).sort(),
    ).toEqual(['committed', 'forbidden']);
    const live = await instantQuery(
      stack!.prometheusUrl,
      'reflex_release_info{job="reflex-supervisor"} == 1',
    );
    expect(live.resultType === 'vector' && live.result.map((s) => s.metric.sha)).toEqual([
      deployed,
    ]);
    const editToLive = await instantQuery(
      stack!.prometheusUrl,
      'reflex_edit_to_live_seconds_count',
    );
    expect(
      editToLive.resultType === 'vector' && Number(editToLive.result[0]?.value[1]),
    ).toBeGreaterThanOrEqual(1);
  });

  it('reads the host textfile metrics, including a deploy that happened while it watched', async () => {
    const live = await instantQuery(stack!.prometheusUrl, 'reflex_release_info{job="node"} == 1');
    expect(live.resultType === 'vector' && live.result.map((s) => s.metric.sha)).toEqual([
      LIVE_SHA,
    ]);
    const deploys = await instantQuery(
      stack!.prometheusUrl,
      'increase(reflex_host_deploys_total{result="success"}[5m]) > 0',
    );
    expect(deploys.resultType === 'vector' && deploys.result.length).toBe(1);
  });

  it('every alert rule is loaded, healthy, and evaluates; every metric it reads has series', async () => {
    const rules = await evaluateAlertRules({ prometheusUrl: stack!.prometheusUrl });
    expect(
      rules.filter((rule) => rule.outcome !== 'evaluated').map((r) => `${r.alert}: ${r.detail}`),
    ).toEqual([]);
    expect(
      rules
        .filter((rule) => rule.metricsWithoutSeries.length > 0)
        .map((r) => ({ alert: r.alert, missing: r.metricsWithoutSeries })),
    ).toEqual([]);
  });

  it('a healthy loop and host fire no alert', async () => {
    const firing = await instantQuery(stack!.prometheusUrl, 'ALERTS{alertstate="firing"}');
    expect(firing.resultType === 'vector' && firing.result.map((s) => s.metric.alertname)).toEqual(
      [],
    );
  });

  it('follows a blue/green deploy of the loop through the file-SD list', async () => {
    const client = await editorClient(loop!.url);
    const next = await client.save(ROUTES, routesWith(await client.read(ROUTES), 'switched'));
    await loop!.waitForVersion(next);
    await waitForAppTargets(stack!.prometheusUrl, [`platform ${first}`, `site ${next}`]);
  }, 120_000);
});

describe('when the live instance stops', () => {
  let stack: MonitoringStack | undefined;
  let live: { instance: InstanceProcess; port: number } | undefined;
  afterAll(async () => {
    await Promise.all(started.map(stopInstance));
    await stack?.stop();
  });

  it('the app-down alert goes pending for it', async () => {
    live = await startInstance(LIVE_SHA);
    stack = await startMonitoring({ targets: { 'reflex-app': [`127.0.0.1:${live.port}`] } });
    await waitForScrapes({
      prometheusUrl: stack.prometheusUrl,
      jobs: ['reflex-app', 'node'],
      scrapes: 2,
    });
    await stopInstance(live.instance);
    await waitForScrapes({ prometheusUrl: stack.prometheusUrl, jobs: ['node'], scrapes: 3 });
    const pending = await instantQuery(stack.prometheusUrl, 'ALERTS{alertname="ReflexAppDown"}');
    expect(
      pending.resultType === 'vector' &&
        pending.result.map((s) => [s.metric.instance, s.metric.alertstate]),
    ).toEqual([[`127.0.0.1:${live.port}`, 'pending']]);
  }, 60_000);
});

describe('the harness names a panel without data', () => {
  let stack: MonitoringStack | undefined;
  afterAll(() => stack?.stop());

  it('a missing metric, a NaN-only result and a refused query fail with the dashboard and panel', async () => {
    stack = await startMonitoring();
    const ghost: DashboardFile = {
      file: 'ghost.json',
      dashboard: {
        uid: 'ghost',
        title: 'Ghost',
        panels: [
          {
            id: 1,
            title: 'Missing metric',
            targets: [{ refId: 'A', expr: 'sum(rate(reflex_no_such_total[$__rate_interval]))' }],
          },
          { id: 2, title: 'Only NaN', targets: [{ refId: 'A', expr: 'vector(0) / vector(0)' }] },
          { id: 3, title: 'Bad query', targets: [{ refId: 'B', expr: 'sum(' }] },
          { id: 4, title: 'Fine', targets: [{ refId: 'A', expr: 'vector(1)' }] },
        ],
      },
    };
    const results = await evaluateDashboards({
      prometheusUrl: stack.prometheusUrl,
      dashboards: [ghost],
    });
    expect(results.map((r) => [panelName(r.dashboard, r.panel), r.refId, r.outcome])).toEqual([
      ['Ghost › Missing metric', 'A', 'no-data'],
      ['Ghost › Only NaN', 'A', 'no-data'],
      ['Ghost › Bad query', 'B', 'error'],
      ['Ghost › Fine', 'A', 'data'],
    ]);
    expect(describeEvaluation(results[0]!)).toMatch(
      /^Ghost › Missing metric \[A\]: no-data .*reflex_no_such_total\[1m\]/,
    );
  }, 40_000);
});
