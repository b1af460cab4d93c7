/**
 * Every dashboard panel and every alert rule, evaluated by a real Prometheus that scrapes a real
 * app instance, a real node-exporter (with the deploy scripts' textfile metrics written as
 * deploy.sh writes them) and itself, with the configuration derived from prometheus/prometheus.yml.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeAtomically } from '../scripts/monitoring/stack';
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
import { metricNames } from './support/promql';

/**
 * Panels whose metrics come from the editor (saves, pushes) and the local supervisor (stages,
 * deploys, edit→live), which do not exist yet. They are evaluated (a query error still fails)
 * but not required to return data. When the local loop lands, its test starts the supervisor,
 * makes a save and a deploy, and this list becomes empty.
 */
const PANELS_AWAITING_LOCAL_LOOP = [
  'Reflex pipeline › Saves by result',
  'Reflex pipeline › Git push latency',
  'Reflex pipeline › Pipeline stage durations (p95)',
  'Reflex pipeline › Edit → live time',
  'Reflex pipeline › Deploy outcomes (local loop)',
];
/** Alerts that read a supervisor metric as well as a host one; the host half must have data. */
const ALERTS_AWAITING_LOCAL_LOOP: Record<string, string[]> = {
  ReflexDeployFailed: ['reflex_deploys_total'],
};

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

describe('dashboards and alerts against a live Prometheus', () => {
  let scratch: string;
  let stack: MonitoringStack | undefined;
  let blue: { instance: InstanceProcess; port: number } | undefined;
  let green: { instance: InstanceProcess; port: number } | undefined;
  let panels: QueryEvaluation[] = [];

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'reflex-dashboards-'));
    const textfileDir = path.join(scratch, 'textfile');
    mkdirSync(textfileDir);
    const now = Math.floor(Date.now() / 1000);
    writeAtomically(path.join(textfileDir, 'reflex.prom'), hostTextfile(now, 3));
    blue = await startInstance(LIVE_SHA);
    stack = await startMonitoring({
      targets: { 'reflex-app': [`127.0.0.1:${blue.port}`] },
      textfileDir,
    });
    await waitForScrapes({
      prometheusUrl: stack.prometheusUrl,
      jobs: ['reflex-app', 'node', 'prometheus'],
      scrapes: 2,
    });

    const statuses = await driveTraffic(blue.port, 4);
    expect(new Set(statuses)).toEqual(new Set([200, 404, 405]));
    // A deploy on the host while Prometheus watches: the textfile collector must pick it up.
    writeAtomically(path.join(textfileDir, 'reflex.prom'), hostTextfile(now, 4));
    const evaluatedAfter = new Date();
    await waitForScrapes({
      prometheusUrl: stack.prometheusUrl,
      jobs: ['reflex-app', 'node', 'prometheus'],
      scrapes: 3,
    });
    await waitForRuleEvaluation(stack.prometheusUrl, evaluatedAfter);
    panels = await evaluateDashboards({ prometheusUrl: stack.prometheusUrl });
  }, 90_000);

  afterAll(async () => {
    await Promise.all(started.map(stopInstance));
    await stack?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('scrapes the app, node-exporter and itself through the derived configuration', async () => {
    const targets = await activeTargets(stack!.prometheusUrl);
    expect(
      targets
        .map(({ job, health }) => ({ job, health }))
        .sort((a, b) => a.job.localeCompare(b.job)),
    ).toEqual([
      { job: 'node', health: 'up' },
      { job: 'prometheus', health: 'up' },
      { job: 'reflex-app', health: 'up' },
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

  it('every panel returns data, except the explicit list awaiting the local loop', () => {
    const withoutData = panels
      .filter(
        (p) =>
          p.outcome !== 'data' &&
          !PANELS_AWAITING_LOCAL_LOOP.includes(panelName(p.dashboard, p.panel)),
      )
      .map(describeEvaluation);
    expect(withoutData).toEqual([]);
  });

  it('the panels awaiting the local loop are real panels that indeed have no data yet', () => {
    const names = new Set(panels.map((p) => panelName(p.dashboard, p.panel)));
    expect(PANELS_AWAITING_LOCAL_LOOP.filter((name) => !names.has(name))).toEqual([]);
    const nowWithData = panels
      .filter(
        (p) =>
          PANELS_AWAITING_LOCAL_LOOP.includes(panelName(p.dashboard, p.panel)) &&
          p.outcome === 'data',
      )
      .map(describeEvaluation);
    expect(nowWithData).toEqual([]);
  });

  it('every metric the panels with data read has series (no misspelt node-exporter name)', async () => {
    const names = [
      ...new Set(
        panels
          .filter((p) => !PANELS_AWAITING_LOCAL_LOOP.includes(panelName(p.dashboard, p.panel)))
          .flatMap((p) => metricNames(p.query)),
      ),
    ];
    expect(names).toEqual(
      expect.arrayContaining(['http_requests_total', 'node_load1', 'reflex_release_info']),
    );
    expect(await metricsWithoutSeries(stack!.prometheusUrl, names)).toEqual([]);
  });

  it('reads the host textfile metrics, including a deploy that happened while it watched', async () => {
    const live = await instantQuery(stack!.prometheusUrl, 'reflex_release_info == 1');
    expect(live.resultType === 'vector' && live.result.map((s) => s.metric.sha)).toEqual([
      LIVE_SHA,
    ]);
    const deploys = await instantQuery(
      stack!.prometheusUrl,
      'increase(reflex_host_deploys_total{result="success"}[5m]) > 0',
    );
    expect(deploys.resultType === 'vector' && deploys.result.length).toBe(1);
  });

  it('every alert rule is loaded, healthy, and evaluates; the metrics it reads have series', async () => {
    const rules = await evaluateAlertRules({ prometheusUrl: stack!.prometheusUrl });
    expect(
      rules.filter((rule) => rule.outcome !== 'evaluated').map((r) => `${r.alert}: ${r.detail}`),
    ).toEqual([]);
    const missing = rules
      .map((rule) => ({
        alert: rule.alert,
        missing: rule.metricsWithoutSeries.filter(
          (m) => !(ALERTS_AWAITING_LOCAL_LOOP[rule.alert] ?? []).includes(m),
        ),
      }))
      .filter((rule) => rule.missing.length > 0);
    expect(missing).toEqual([]);
    const stillAwaiting = rules
      .filter((rule) => rule.alert in ALERTS_AWAITING_LOCAL_LOOP)
      .map((rule) => ({ alert: rule.alert, missing: rule.metricsWithoutSeries }));
    expect(stillAwaiting).toEqual(
      Object.entries(ALERTS_AWAITING_LOCAL_LOOP).map(([alert, missing]) => ({ alert, missing })),
    );
  });

  it('a healthy app and host fire no alert', async () => {
    const firing = await instantQuery(stack!.prometheusUrl, 'ALERTS{alertstate="firing"}');
    expect(firing.resultType === 'vector' && firing.result.map((s) => s.metric.alertname)).toEqual(
      [],
    );
  });

  it('follows a blue/green switch through the file-SD list', async () => {
    green = await startInstance('4e2d3c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d');
    stack!.setTargets('reflex-app', [`127.0.0.1:${green.port}`], { color: 'green' });
    const deadline = Date.now() + 30_000;
    let app: { instance: string; health: string; color?: string }[] = [];
    while (Date.now() < deadline) {
      app = (await activeTargets(stack!.prometheusUrl))
        .filter((t) => t.job === 'reflex-app')
        .map((t) => ({ instance: t.instance, health: t.health, color: t.labels.color }));
      if (
        app.length === 1 &&
        app[0]!.instance.endsWith(`:${green.port}`) &&
        app[0]!.health === 'up'
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(app).toEqual([{ instance: `127.0.0.1:${green.port}`, health: 'up', color: 'green' }]);
  }, 40_000);

  it('when the live instance stops, the app-down alert goes pending for it', async () => {
    await stopInstance(green!.instance);
    await waitForScrapes({ prometheusUrl: stack!.prometheusUrl, jobs: ['node'], scrapes: 3 });
    const pending = await instantQuery(stack!.prometheusUrl, 'ALERTS{alertname="ReflexAppDown"}');
    expect(
      pending.resultType === 'vector' &&
        pending.result.map((s) => [s.metric.instance, s.metric.alertstate]),
    ).toEqual([[`127.0.0.1:${green!.port}`, 'pending']]);
  }, 40_000);
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
