/**
 * The ecs runtime's monitoring with everything real but AWS: a real Prometheus with the files
 * the monitoring task gets (pulumi/monitoringConfig.ts, written by its config container's own
 * script) finds real platform and site processes through Cloud Map's DNS records, answered by
 * a DNS server standing in for the VPC's resolver, in a network namespace of the test's own
 * (test/support/ecsLab.ts). Every panel of the dashboards ECS provisions and every alert rule ECS
 * loads runs against it, while tasks come, go and fail.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ECS_DASHBOARDS, ECS_RULE_FILES } from '../pulumi/monitoringConfig';
import {
  ROOT,
  loadAlertRules,
  panelName,
  type Dashboard,
  type DashboardFile,
} from './support/dashboards';
import { startEcsLab, type EcsLab, type LabTask } from './support/ecsLab';
import {
  activeTargets,
  describeEvaluation,
  evaluateAlertRules,
  evaluateDashboards,
  instantQuery,
  waitForRuleEvaluation,
  waitForScrapes,
  type QueryEvaluation,
} from './support/monitoring';

jest.setTimeout(120_000);

const NAMESPACE = 'reflex-dev.internal';
const JOBS = ['reflex-app', 'ecs-task', 'prometheus'];

/**
 * Panels with no data on ECS, and why: the deploy paths that report them (the local supervisor,
 * the host's deploy scripts) do not exist there (docs/MONITORING.md, "On ECS").
 */
const EMPTY_ON_ECS: Record<string, string> = {
  'Reflex pipeline › Live release': 'reported by the supervisor or the host',
  'Reflex pipeline › main not live for': 'computed by the supervisor or reconcile.sh',
  'Reflex pipeline › Rollback pin (host)': 'the host only',
  'Reflex pipeline › Since last host deploy': 'the host only',
  'Reflex pipeline › Pipeline stage durations (p95)': 'the local loop only',
  'Reflex pipeline › Edit → live time': 'the local loop only',
  'Reflex pipeline › Deploy outcomes (local loop)': 'the local loop only',
  'Reflex pipeline › Deploy outcomes (host)': 'the host only',
  'Reflex pipeline › Host deploy duration': 'the host only',
  // The same on every runtime until a save is pushed; the lab's platform has no origin.
  'Reflex pipeline › Git push latency': 'no save pushed yet',
};

function ecsDashboards(): DashboardFile[] {
  return ECS_DASHBOARDS.map((file) => ({
    file: path.basename(file),
    dashboard: JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as Dashboard,
  }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last !== undefined) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** Targets that are up, as `job component task port`, sorted. */
async function upTargets(prometheusUrl: string): Promise<string[]> {
  return (await activeTargets(prometheusUrl))
    .filter((t) => t.health === 'up' && t.job !== 'prometheus')
    .map((t) => `${t.job} ${t.labels.component} ${t.labels.task} ${t.instance.split(':').at(-1)}`)
    .sort();
}

function expectedTargets(tasks: LabTask[]): string[] {
  return tasks
    .flatMap((task) => [
      `reflex-app ${task.service} ${task.id} 3000`,
      `ecs-task ${task.service} ${task.id} 9779`,
    ])
    .sort();
}

async function alerts(prometheusUrl: string, name: string): Promise<Record<string, string>[]> {
  const data = await instantQuery(prometheusUrl, `ALERTS{alertname="${name}"}`);
  return data.resultType === 'vector' ? data.result.map((sample) => sample.metric) : [];
}

/** A few seconds of traffic to every task: 200s, a 404 outside the routes, a 405. */
async function driveTraffic(lab: EcsLab, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  const urls = await Promise.all(lab.tasks.map((task) => lab.url(task.address, 3000)));
  while (Date.now() < until) {
    await Promise.all(
      urls.flatMap((url) =>
        [
          ['/healthz', 'GET'],
          ['/version', 'GET'],
          ['/no-such-page', 'GET'],
          ['/healthz', 'POST'],
        ].map(async ([urlPath, method]) => (await fetch(`${url}${urlPath}`, { method })).text()),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the ecs runtime: Prometheus finds every task through Cloud Map DNS (a stand-in resolver)', () => {
  let lab: EcsLab | undefined;
  let prometheusUrl = '';
  let panels: QueryEvaluation[] = [];

  beforeAll(async () => {
    lab = await startEcsLab({ namespace: NAMESPACE });
    // Two tasks per service, as ecsDesiredCount's default; started one after another, each a
    // Node process with its TypeScript compiled on the fly, on a two-core machine.
    for (const service of ['platform', 'platform', 'site', 'site'] as const) {
      await lab.runTask(service);
    }
    prometheusUrl = await lab.startPrometheus();
    await until('every task scraped', async () =>
      JSON.stringify(await upTargets(prometheusUrl)) === JSON.stringify(expectedTargets(lab!.tasks))
        ? true
        : undefined,
    );
    await driveTraffic(lab, 3);
    const evaluatedAfter = new Date();
    await waitForScrapes({ prometheusUrl, jobs: JOBS, scrapes: 3 });
    await waitForRuleEvaluation(prometheusUrl, evaluatedAfter);
    panels = await evaluateDashboards({ prometheusUrl, dashboards: ecsDashboards() });
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 60_000);

  it('scrapes the app and the task-metrics sidecar of every task, labelled with its service and task id', async () => {
    expect(await upTargets(prometheusUrl)).toEqual(expectedTargets(lab!.tasks));
    const instances = (await activeTargets(prometheusUrl))
      .filter((t) => t.job === 'reflex-app')
      .map((t) => t.instance)
      .sort();
    expect(instances).toEqual(lab!.tasks.map((task) => `${task.hostname}:3000`).sort());
  });

  it('no panel query is refused by Prometheus', () => {
    expect(panels.length).toBeGreaterThan(30);
    expect(panels.filter((p) => p.outcome === 'error').map(describeEvaluation)).toEqual([]);
  });

  it('every panel of the app dashboard and of the tasks dashboard returns data', () => {
    const mine = panels.filter((p) => p.dashboard !== 'Reflex pipeline');
    expect(mine.map((p) => p.dashboard)).toEqual(
      expect.arrayContaining(['Reflex app', 'Reflex ECS tasks']),
    );
    expect(mine.filter((p) => p.outcome !== 'data').map(describeEvaluation)).toEqual([]);
  });

  it('the pipeline dashboard shows the editor; only the deploy paths ECS does not have stay empty', () => {
    const empty = [
      ...new Set(
        panels.filter((p) => p.outcome !== 'data').map((p) => panelName(p.dashboard, p.panel)),
      ),
    ].sort();
    expect(empty).toEqual(Object.keys(EMPTY_ON_ECS).sort());
    expect(panels.find((p) => p.panel === 'Saves by result')?.outcome).toBe('data');
  });

  it('loads the app, pipeline and task alerts, not the host', async () => {
    const ecsRules = loadAlertRules(
      ECS_RULE_FILES.map((file) => path.join(ROOT, 'prometheus', file)),
    );
    const evaluated = await evaluateAlertRules({ prometheusUrl, rules: ecsRules });
    expect(
      evaluated.filter((r) => r.outcome !== 'evaluated').map((r) => `${r.alert}: ${r.detail}`),
    ).toEqual([]);
    const names = (
      (await (await fetch(`${prometheusUrl}/api/v1/rules?type=alert`)).json()) as {
        data: { groups: { name: string; rules: { name: string }[] }[] };
      }
    ).data.groups.flatMap((group) => group.rules.map((rule) => rule.name));
    expect(names.sort()).toEqual(ecsRules.map((rule) => rule.alert).sort());
    expect(names).not.toContain('ReflexHostDown');
    // The task alerts read the sidecar's series, which are there.
    expect(
      evaluated
        .filter((r) => r.group === 'reflex-ecs' && r.metricsWithoutSeries.length > 0)
        .map((r) => ({ alert: r.alert, missing: r.metricsWithoutSeries })),
    ).toEqual([]);
  });

  it('a healthy stack fires no alert and has none pending', async () => {
    const data = await instantQuery(prometheusUrl, 'ALERTS');
    expect(data.resultType === 'vector' && data.result.map((s) => s.metric.alertname)).toEqual([]);
  });

  it('follows the services as tasks come and go: a task started is scraped, a task stopped leaves', async () => {
    const added = await lab!.runTask('site', { revision: 2 });
    await until('the new task scraped', async () =>
      (await upTargets(prometheusUrl)).includes(`reflex-app site ${added.id} 3000`)
        ? true
        : undefined,
    );
    await lab!.stopTask(added);
    await until('the stopped task gone', async () =>
      JSON.stringify(await upTargets(prometheusUrl)) === JSON.stringify(expectedTargets(lab!.tasks))
        ? true
        : undefined,
    );
  });

  it('a task that runs but does not answer makes ReflexAppDown pending for that task, not its service', async () => {
    const [hung] = lab!.tasks.filter((task) => task.service === 'platform');
    await lab!.killApp(hung!);
    const pending = await until('ReflexAppDown pending', async () => {
      const found = await alerts(prometheusUrl, 'ReflexAppDown');
      return found.length > 0 ? found : undefined;
    });
    expect(pending.map((a) => [a.alertstate, a.component, a.task, a.instance])).toEqual([
      ['pending', 'platform', hung!.id, `${hung!.hostname}:3000`],
    ]);
    expect(await alerts(prometheusUrl, 'ReflexServiceDown')).toEqual([]);
    await lab!.stopTask(hung!);
  });

  it('a service left without any task makes ReflexServiceDown pending for that service', async () => {
    for (const task of lab!.tasks.filter((t) => t.service === 'site')) await lab!.stopTask(task);
    const pending = await until('ReflexServiceDown pending', async () => {
      const found = await alerts(prometheusUrl, 'ReflexServiceDown');
      return found.length > 0 ? found : undefined;
    });
    expect(pending.map((a) => [a.alertstate, a.component])).toEqual([['pending', 'site']]);
  });
});
