/** Reads what the monitoring checks look at: dashboards, alert rules, Grafana provisioning. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const ROOT = path.resolve(__dirname, '../..');
export const DASHBOARD_DIR = path.join(ROOT, 'grafana/dashboards');
/** Dashboards only the ecs runtime provisions (pulumi/monitoringConfig.ts, ECS_DASHBOARDS). */
export const ECS_DASHBOARD_DIR = path.join(ROOT, 'grafana/dashboards-ecs');
export const RULES_DIR = path.join(ROOT, 'prometheus/rules');
export const RULE_TESTS_DIR = path.join(ROOT, 'prometheus/tests');
export const DATASOURCES_DIR = path.join(ROOT, 'grafana/provisioning/datasources');

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: DatasourceRef;
  [key: string]: unknown;
}

export interface Panel {
  id?: number;
  title?: string;
  type?: string;
  datasource?: DatasourceRef;
  targets?: Target[];
  panels?: Panel[];
  gridPos?: { x: number; y: number; w: number; h: number };
  [key: string]: unknown;
}

export interface Dashboard {
  uid?: string;
  title?: string;
  panels?: Panel[];
  [key: string]: unknown;
}

export interface DashboardFile {
  file: string;
  dashboard: Dashboard;
}

export function loadDashboards(dir = DASHBOARD_DIR): DashboardFile[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Dashboard,
    }));
}

/** Every panel, including those inside collapsed rows. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** One PromQL query of one panel: the unit the live check evaluates. */
export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** `Dashboard › Panel`: how the checks and the explicit lists name a panel. */
export function panelName(dashboard: string, panel: string): string {
  return `${dashboard} › ${panel}`;
}

export function panelQueries(files: DashboardFile[] = loadDashboards()): PanelQuery[] {
  return files.flatMap(({ file, dashboard }) =>
    allPanels(dashboard).flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({
        dashboard: dashboard.title ?? file,
        panel: panel.title ?? `(untitled panel ${panel.id ?? '?'})`,
        refId: target.refId ?? '?',
        expr: target.expr ?? '',
      })),
    ),
  );
}

export interface AlertRule {
  file: string;
  group: string;
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface RuleFile {
  groups: {
    name: string;
    rules: {
      alert?: string;
      record?: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }[];
  }[];
}

/** The rule files the host's Prometheus loads (prometheus/prometheus.yml), as absolute paths. */
export function hostRuleFiles(): string[] {
  const config = YAML.parse(readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as {
    rule_files: string[];
  };
  return config.rule_files.map((file) => path.join(ROOT, 'prometheus', file)).sort();
}

export function ruleFiles(dir = RULES_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yml') || file.endsWith('.yaml'))
    .sort()
    .map((file) => path.join(dir, file));
}

/** The promtool unit-test files (`promtool test rules`), sorted. */
export function promtoolTestFiles(dir = RULE_TESTS_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.test.yml'))
    .sort()
    .map((file) => path.join(dir, file));
}

export function loadAlertRules(files: string[] = ruleFiles()): AlertRule[] {
  return files.flatMap((file) => {
    const parsed = YAML.parse(readFileSync(file, 'utf8')) as RuleFile;
    return parsed.groups.flatMap((group) =>
      group.rules
        .filter((rule) => rule.alert !== undefined)
        .map((rule) => ({
          file: path.relative(ROOT, file),
          group: group.name,
          alert: rule.alert!,
          expr: rule.expr,
          for: rule.for,
          labels: rule.labels ?? {},
          annotations: rule.annotations ?? {},
        })),
    );
  });
}

export interface ProvisionedDatasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  isDefault?: boolean;
  jsonData?: Record<string, unknown>;
}

export function provisionedDatasources(dir = DATASOURCES_DIR): ProvisionedDatasource[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yml') || file.endsWith('.yaml'))
    .flatMap(
      (file) =>
        (
          YAML.parse(readFileSync(path.join(dir, file), 'utf8')) as {
            datasources: ProvisionedDatasource[];
          }
        ).datasources,
    );
}
