/**
 * The Grafana dashboards and the Prometheus alert rules, checked as files: stable uids, every
 * panel titled and querying the provisioned datasource, and every metric they read exported by
 * the project. The live check (dashboards.monitoring.test.ts) runs every query against Prometheus.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ECS_DASHBOARDS, ecsPrometheusConfig } from '../pulumi/monitoringConfig';
import {
  ECS_DASHBOARD_DIR,
  ROOT,
  allPanels,
  loadAlertRules,
  loadDashboards,
  panelName,
  panelQueries,
  provisionedDatasources,
} from './support/dashboards';
import {
  EXTERNAL_SECTIONS,
  catalogue,
  exportedSeriesNames,
  registryMetrics,
  seriesNames,
  unexportedNames,
} from './support/exportedMetrics';
import { metricNames, resolveGrafanaVariables } from './support/promql';

/**
 * Catalogued in docs/METRICS.md but defined in no registry yet. Dashboards and alerts may read
 * them meanwhile; once a registry defines one, the test below fails until it is removed here.
 */
const METRICS_AWAITING_LOCAL_LOOP: string[] = [];

/** Pinned: links and bookmarks to a dashboard use its uid. Changing one is a breaking change. */
const DASHBOARD_UIDS = {
  'app.json': 'reflex-app',
  'host.json': 'reflex-host',
  'pipeline.json': 'reflex-pipeline',
};
const ECS_DASHBOARD_UIDS = { 'tasks.json': 'reflex-ecs-tasks' };

const hostDashboards = loadDashboards();
const ecsOnlyDashboards = loadDashboards(ECS_DASHBOARD_DIR);
/** Every dashboard of every runtime: the checks below hold for each. */
const dashboards = [...hostDashboards, ...ecsOnlyDashboards];
const queries = panelQueries(dashboards);
const rules = loadAlertRules();
const [datasource] = provisionedDatasources();

describe('Grafana provisioning', () => {
  it('provisions exactly one datasource: Prometheus with the fixed uid "prometheus" on 127.0.0.1:9090', () => {
    expect(provisionedDatasources()).toEqual([
      expect.objectContaining({
        name: 'Prometheus',
        type: 'prometheus',
        uid: 'prometheus',
        url: 'http://127.0.0.1:9090',
        isDefault: true,
      }),
    ]);
  });

  it('tells Grafana the scrape interval of prometheus/prometheus.yml (the floor of $__rate_interval)', () => {
    const prometheus = YAML.parse(
      readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8'),
    );
    expect(datasource!.jsonData?.timeInterval).toBe(prometheus.global.scrape_interval);
  });

  it('loads the dashboards from files, read-only', () => {
    const provider = YAML.parse(
      readFileSync(path.join(ROOT, 'grafana/provisioning/dashboards/reflex.yml'), 'utf8'),
    );
    expect(provider.providers).toEqual([
      expect.objectContaining({
        type: 'file',
        allowUiUpdates: false,
        options: expect.objectContaining({ path: '/etc/grafana/dashboards' }),
      }),
    ]);
  });
});

describe('dashboards', () => {
  it('are the app, the pipeline and the host, with their pinned uids', () => {
    expect(
      Object.fromEntries(hostDashboards.map(({ file, dashboard }) => [file, dashboard.uid])),
    ).toEqual(DASHBOARD_UIDS);
  });

  it('on ECS are the same app and pipeline dashboards, and the tasks dashboard instead of the host', () => {
    expect(
      Object.fromEntries(ecsOnlyDashboards.map(({ file, dashboard }) => [file, dashboard.uid])),
    ).toEqual(ECS_DASHBOARD_UIDS);
    expect(ECS_DASHBOARDS).toEqual([
      'grafana/dashboards/app.json',
      'grafana/dashboards/pipeline.json',
      'grafana/dashboards-ecs/tasks.json',
    ]);
  });

  it('have unique uids and titles, and no numeric id (Grafana assigns it)', () => {
    const uids = dashboards.map(({ dashboard }) => dashboard.uid);
    const titles = dashboards.map(({ dashboard }) => dashboard.title);
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(titles).size).toBe(titles.length);
    for (const { dashboard } of dashboards) expect(dashboard.id ?? null).toBeNull();
  });

  it('are plain dashboards, not "export for sharing" copies with datasource inputs', () => {
    for (const { file } of dashboards) {
      const dir =
        file in ECS_DASHBOARD_UIDS ? ECS_DASHBOARD_DIR : path.join(ROOT, 'grafana/dashboards');
      const text = readFileSync(path.join(dir, file), 'utf8');
      expect({ file, inputs: text.includes('__inputs') || text.includes('${DS_') }).toEqual({
        file,
        inputs: false,
      });
    }
  });

  describe.each(dashboards.map(({ file, dashboard }) => [file, dashboard] as const))(
    '%s',
    (_file, dashboard) => {
      const panels = allPanels(dashboard);

      it('has panels with unique ids and unique, non-empty titles', () => {
        expect(panels.length).toBeGreaterThan(0);
        const ids = panels.map((panel) => panel.id);
        const titles = panels.map((panel) => panel.title?.trim() ?? '');
        expect(ids.every((id) => typeof id === 'number')).toBe(true);
        expect(new Set(ids).size).toBe(ids.length);
        expect(titles.filter((title) => title === '')).toEqual([]);
        expect(new Set(titles).size).toBe(titles.length);
      });

      it('gives every panel a description and at least one query with a unique refId', () => {
        for (const panel of panels) {
          const refIds = (panel.targets ?? []).map((target) => target.refId);
          expect({
            panel: panel.title,
            description: typeof panel.description === 'string' && panel.description !== '',
          }).toEqual({
            panel: panel.title,
            description: true,
          });
          expect({ panel: panel.title, targets: refIds.length > 0 }).toEqual({
            panel: panel.title,
            targets: true,
          });
          expect({ panel: panel.title, unique: new Set(refIds).size === refIds.length }).toEqual({
            panel: panel.title,
            unique: true,
          });
          for (const target of panel.targets ?? []) {
            expect({ panel: panel.title, expr: (target.expr ?? '').trim() !== '' }).toEqual({
              panel: panel.title,
              expr: true,
            });
          }
        }
      });

      it('queries only the provisioned datasource, by its uid', () => {
        const refs = panels.flatMap((panel) => [
          { panel: panel.title, ...panel.datasource },
          ...(panel.targets ?? []).map((target) => ({ panel: panel.title, ...target.datasource })),
        ]);
        expect(refs).toEqual(
          refs.map((ref) => ({ panel: ref.panel, type: 'prometheus', uid: datasource!.uid })),
        );
      });

      it('lays panels out on the 24-column grid without overlaps', () => {
        const boxes = panels.map((panel) => ({ title: panel.title, ...panel.gridPos! }));
        for (const box of boxes) {
          expect({
            title: box.title,
            fits: box.x >= 0 && box.w > 0 && box.h > 0 && box.x + box.w <= 24,
          }).toEqual({
            title: box.title,
            fits: true,
          });
        }
        const overlaps = boxes.flatMap((a, i) =>
          boxes
            .slice(i + 1)
            .filter((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
            .map((b) => `${a.title} / ${b.title}`),
        );
        expect(overlaps).toEqual([]);
      });
    },
  );

  it("use no template variables other than Grafana's interval built-ins", () => {
    const unresolvable = queries.flatMap((query) => {
      try {
        resolveGrafanaVariables(query.expr);
        return [];
      } catch (err) {
        return [`${panelName(query.dashboard, query.panel)}: ${String(err)}`];
      }
    });
    expect(unresolvable).toEqual([]);
  });
});

describe('alert rules', () => {
  it('are the alerts the monitoring design asks for: everywhere, on the host, on ECS', () => {
    const byFile = (file: string) =>
      rules
        .filter((rule) => rule.file === file)
        .map((rule) => rule.alert)
        .sort();
    expect(byFile('prometheus/rules/reflex.yml')).toEqual([
      'ReflexAppDown',
      'ReflexDeployFailed',
      'ReflexHighErrorRatio',
      'ReflexHighLatencyP95',
      'ReflexMainNotLive',
      'ReflexServiceDown',
    ]);
    expect(byFile('prometheus/rules/host.yml')).toEqual(['ReflexDiskNearlyFull', 'ReflexHostDown']);
    expect(byFile('prometheus/rules/ecs.yml')).toEqual([
      'ReflexTaskCpuSaturated',
      'ReflexTaskMemoryNearLimit',
      'ReflexTaskMetricsDown',
    ]);
    expect(rules).toHaveLength(11);
  });

  it.each(rules.map((rule) => [rule.alert, rule] as const))(
    '%s has a severity, a summary and a runbook that links its section of docs/MONITORING.md',
    (alert, rule) => {
      const monitoringDoc = readFileSync(path.join(ROOT, 'docs/MONITORING.md'), 'utf8');
      expect(['critical', 'warning']).toContain(rule.labels.severity);
      expect(rule.annotations.summary?.trim()).toBeTruthy();
      expect(rule.annotations.runbook).toContain(`docs/MONITORING.md#${alert.toLowerCase()}`);
      expect(monitoringDoc).toMatch(new RegExp(`^#+ ${alert}$`, 'm'));
    },
  );
});

describe('every metric a panel or an alert reads is exported by the project', () => {
  const pending = catalogue().filter((entry) => METRICS_AWAITING_LOCAL_LOOP.includes(entry.name));
  const exported = exportedSeriesNames(pending);

  it('checks against the registries in the source (the app exports http_requests_total)', () => {
    expect(registryMetrics().map((metric) => metric.name)).toEqual(
      expect.arrayContaining([
        'http_requests_total',
        'http_request_duration_seconds',
        'http_requests_in_flight',
      ]),
    );
    expect(exported.has('http_request_duration_seconds_bucket')).toBe(true);
    expect(exported.has('http_request_duration_seconds')).toBe(false);
    expect(exported.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(exported.has('reflex_host_pinned')).toBe(true);
  });

  it('finds metrics however a registry spells its constructors, and only in prom-client files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-registry-'));
    try {
      mkdirSync(path.join(dir, 'loop'));
      writeFileSync(
        path.join(dir, 'loop/metrics.ts'),
        [
          "import client, { Counter, Histogram } from 'prom-client';",
          "new Histogram<'stage'>({ help: 'h', labelNames: ['stage'], name: 'a_seconds', buckets: [1, 2] });",
          'new client.Gauge({\n  name: "b_info",\n  help: \'g\',\n});',
          "new Counter({ name: 'c_total', help: 'c' });",
        ].join('\n'),
      );
      writeFileSync(path.join(dir, 'loop/other.ts'), "const x = { name: 'not_a_metric' };");
      writeFileSync(
        path.join(dir, 'loop/metrics.test.ts'),
        "import 'prom-client'; new Counter({ name: 'in_a_test_total' });",
      );
      expect(registryMetrics(dir).map(({ name, type }) => [name, type])).toEqual([
        ['a_seconds', 'histogram'],
        ['b_info', 'gauge'],
        ['c_total', 'counter'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a name nothing exports (the check can fail)', () => {
    expect(
      unexportedNames(['http_requests_totl', 'up', 'node_load1', 'reflex_made_up_total'], exported),
    ).toEqual(['http_requests_totl', 'reflex_made_up_total']);
  });

  it('dashboards', () => {
    const unknown = queries.flatMap((query) =>
      unexportedNames(metricNames(query.expr), exported).map(
        (name) => `${panelName(query.dashboard, query.panel)} [${query.refId}]: ${name}`,
      ),
    );
    expect(unknown).toEqual([]);
  });

  it('alert rules', () => {
    const unknown = rules.flatMap((rule) =>
      unexportedNames(metricNames(rule.expr), exported).map((name) => `${rule.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('the metrics awaiting the local loop are exactly the catalogued ones no registry defines yet', () => {
    const defined = new Set(registryMetrics().map((metric) => metric.name));
    const host = new Set(
      catalogue()
        .filter((e) => EXTERNAL_SECTIONS.includes(e.section))
        .map((e) => e.name),
    );
    const notYetDefined = catalogue()
      .filter(
        (entry) => entry.section !== 'host' && !defined.has(entry.name) && !host.has(entry.name),
      )
      .map((entry) => entry.name);
    expect([...METRICS_AWAITING_LOCAL_LOOP].sort()).toEqual([...new Set(notYetDefined)].sort());
  });

  it('every metric a registry defines is in the catalogue, with its type', () => {
    const catalogued = new Map(catalogue().map((entry) => [entry.name, entry.type]));
    const missing = registryMetrics()
      .filter((metric) => catalogued.get(metric.name) !== metric.type)
      .map((metric) => `${metric.name} (${metric.type}, ${metric.source})`);
    expect(missing).toEqual([]);
  });

  it('a histogram is read through its _bucket, _sum or _count series', () => {
    expect(seriesNames({ name: 'x_seconds', type: 'histogram' })).toEqual([
      'x_seconds_bucket',
      'x_seconds_sum',
      'x_seconds_count',
    ]);
  });
});

describe('job names', () => {
  const hostJobs = (
    YAML.parse(readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8'))
      .scrape_configs as {
      job_name: string;
    }[]
  ).map((job) => job.job_name);
  const ecsJobs = (
    ecsPrometheusConfig(ROOT, { namespace: 'reflex-dev.internal', services: ['platform', 'site'] })
      .scrape_configs as { job_name: string }[]
  ).map((job) => job.job_name);
  const jobs = new Set([...hostJobs, 'reflex-supervisor', ...ecsJobs]);

  it('every job="…" a panel or an alert selects is scraped', () => {
    const exprs = [...queries.map((q) => q.expr), ...rules.map((r) => r.expr)];
    const selected = exprs.flatMap((expr) =>
      [...expr.matchAll(/\bjob\s*=~?\s*"([^"]+)"/g)].map((m) => m[1]!),
    );
    expect(selected.length).toBeGreaterThan(0);
    expect([...new Set(selected)].filter((job) => !jobs.has(job))).toEqual([]);
  });
});
