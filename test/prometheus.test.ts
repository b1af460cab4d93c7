/**
 * prometheus/ as files: the host configuration, the local configuration derived from it, and the
 * promtool unit tests' coverage of the alerts. promtool itself runs in prometheus.monitoring.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { FILE_SD_JOBS, localPrometheusConfig } from '../scripts/monitoring/config';
import { ECS_RULE_FILES } from '../pulumi/monitoringConfig';
import { ROOT, hostRuleFiles, loadAlertRules, promtoolTestFiles } from './support/dashboards';

const hostConfig = YAML.parse(
  readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8'),
) as { global: Record<string, string>; rule_files: string[]; scrape_configs: ScrapeJob[] };

interface ScrapeJob {
  job_name: string;
  static_configs?: { targets: string[] }[];
  file_sd_configs?: { files: string[] }[];
}

function job(config: { scrape_configs: ScrapeJob[] }, name: string): ScrapeJob | undefined {
  return config.scrape_configs.find((scrape) => scrape.job_name === name);
}

describe('the host configuration (prometheus/prometheus.yml)', () => {
  it('scrapes every 15 s and evaluates rules every 15 s', () => {
    expect(hostConfig.global).toMatchObject({ scrape_interval: '15s', evaluation_interval: '15s' });
  });

  it('follows blue/green through the file-SD list deploy.sh rewrites (docs/HOST.md)', () => {
    expect(job(hostConfig, 'reflex-app')?.file_sd_configs?.[0]?.files).toEqual([
      '/var/lib/reflex/prometheus/app.json',
    ]);
    expect(job(hostConfig, 'reflex-app')?.static_configs).toBeUndefined();
  });

  it('scrapes node-exporter and itself on the host ports', () => {
    expect(job(hostConfig, 'node')?.static_configs).toEqual([{ targets: ['127.0.0.1:9100'] }]);
    expect(job(hostConfig, 'prometheus')?.static_configs).toEqual([
      { targets: ['127.0.0.1:9090'] },
    ]);
    expect(hostConfig.scrape_configs.map((scrape) => scrape.job_name).sort()).toEqual([
      'node',
      'prometheus',
      'reflex-app',
    ]);
  });

  it('loads the host rules beside it, not the ecs runtime rules', () => {
    expect(hostConfig.rule_files).toEqual(['rules/reflex.yml', 'rules/host.yml']);
  });
});

describe('the local configuration derived from it', () => {
  const local = localPrometheusConfig({
    fileSdDir: '/state/prometheus',
    prometheusAddress: '127.0.0.1:19090',
    nodeExporterAddress: '127.0.0.1:19100',
    interval: '1s',
  });

  it('keeps the host jobs, and adds the supervisor found through its own file-SD list', () => {
    expect(local.scrape_configs.map((scrape) => scrape.job_name)).toEqual([
      'reflex-app',
      'node',
      'prometheus',
      'reflex-supervisor',
    ]);
    expect(job(local, 'reflex-app')?.file_sd_configs?.[0]?.files).toEqual([
      '/state/prometheus/app.json',
    ]);
    expect(job(local, 'reflex-supervisor')?.file_sd_configs?.[0]?.files).toEqual([
      '/state/prometheus/supervisor.json',
    ]);
    expect(Object.values(FILE_SD_JOBS)).toEqual(['app.json', 'supervisor.json']);
  });

  it('points at the given addresses and interval, and at the repository rules by absolute path', () => {
    expect(job(local, 'node')?.static_configs).toEqual([{ targets: ['127.0.0.1:19100'] }]);
    expect(job(local, 'prometheus')?.static_configs).toEqual([{ targets: ['127.0.0.1:19090'] }]);
    expect(local.global).toMatchObject({ scrape_interval: '1s', evaluation_interval: '1s' });
    expect(local.rule_files).toEqual([
      path.join(ROOT, 'prometheus/rules/reflex.yml'),
      path.join(ROOT, 'prometheus/rules/host.yml'),
    ]);
  });
});

interface PromtoolTests {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
  }[];
}

describe('promtool unit tests (prometheus/tests/)', () => {
  const testFiles = promtoolTestFiles();
  const suites = testFiles.map((file) => ({
    file,
    tests: YAML.parse(readFileSync(file, 'utf8')) as PromtoolTests,
  }));
  const loadedBy = (suite: (typeof suites)[number]) =>
    suite.tests.rule_files.map((rules) => path.resolve(path.dirname(suite.file), rules)).sort();
  const cases = suites.flatMap((suite) =>
    suite.tests.tests.flatMap((t) => t.alert_rule_test ?? []),
  );

  it('test the host (the rule files its prometheus.yml loads) and the ecs runtime (no host rules)', () => {
    expect(suites.map((suite) => path.relative(ROOT, suite.file))).toEqual([
      'prometheus/tests/ecs.test.yml',
      'prometheus/tests/reflex.test.yml',
    ]);
    const [ecs, host] = suites as [(typeof suites)[0], (typeof suites)[0]];
    expect(loadedBy(host)).toEqual(hostRuleFiles());
    expect(loadedBy(ecs)).toEqual(
      ECS_RULE_FILES.map((file) => path.join(ROOT, 'prometheus', file)).sort(),
    );
  });

  it.each(loadAlertRules().map((rule) => rule.alert))('cover %s both firing and quiet', (alert) => {
    const mine = cases.filter((c) => c.alertname === alert);
    expect({
      alert,
      firing: mine.some((c) => c.exp_alerts.length > 0),
      quiet: mine.some((c) => c.exp_alerts.length === 0),
    }).toEqual({ alert, firing: true, quiet: true });
  });
});
