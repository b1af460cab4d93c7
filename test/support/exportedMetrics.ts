/**
 * What the project exports, for the rule "no panel or alert reads a metric the project does not
 * export": the metrics its prom-client registries define (found in the source by their
 * `name: '…'`; the process's own figures among them), the host's textfile metrics and the ECS task
 * sidecar's from the catalogue (docs/METRICS.md; the deploy scripts and ecs_exporter export
 * them), Prometheus' own series and node-exporter's.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './dashboards';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface MetricDefinition {
  name: string;
  type: MetricType;
  /** Where it is defined: a source file, or `docs/METRICS.md (host)`. */
  source: string;
}

export const CATALOGUE = path.join(ROOT, 'docs/METRICS.md');
const SOURCE_ROOT = path.join(ROOT, 'webapp/src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const CONSTRUCTOR =
  /new\s+(?:\w+\.)?(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\(\s*\{[^}]*?\bname:\s*['"]([^'"]+)['"]/g;

/** Metrics defined with `new Counter|Gauge|Histogram|Summary({ name: '…' })` in webapp/src. */
export function registryMetrics(sourceRoot = SOURCE_ROOT): MetricDefinition[] {
  return sourceFiles(sourceRoot).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    if (!/from ['"]prom-client['"]/.test(text)) return [];
    return [...text.matchAll(CONSTRUCTOR)].map((match) => ({
      name: match[2]!,
      type: match[1]!.toLowerCase() as MetricType,
      source: path.relative(ROOT, file),
    }));
  });
}

export type CatalogueSection = 'app' | 'supervisor' | 'process' | 'host' | 'ecs';

/** Sections whose metrics come from outside the registries: the deploy scripts, ecs_exporter. */
export const EXTERNAL_SECTIONS: readonly CatalogueSection[] = ['host', 'ecs'];

export interface CatalogueEntry extends MetricDefinition {
  section: CatalogueSection;
}

const SECTION_HEADINGS: [RegExp, CatalogueSection][] = [
  [/^## The app instance/, 'app'],
  [/^## The local supervisor/, 'supervisor'],
  [/^## Every Reflex process/, 'process'],
  [/^## The host/, 'host'],
  [/^## The ECS task/, 'ecs'],
];

/** Every row of docs/METRICS.md's tables that names one metric: `| \`name\` | type | …`. */
export function catalogue(file = CATALOGUE): CatalogueEntry[] {
  let section: CatalogueSection | undefined;
  const entries: CatalogueEntry[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const heading = SECTION_HEADINGS.find(([pattern]) => pattern.test(line));
    if (heading) section = heading[1];
    const row =
      /^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram|summary)\s*\|/.exec(line);
    if (row && section) {
      entries.push({
        name: row[1]!,
        type: row[2] as MetricType,
        section,
        source: `docs/METRICS.md (${section})`,
      });
    }
  }
  return entries;
}

/** The series names a metric produces in Prometheus (a histogram is never read by its bare name). */
export function seriesNames({ name, type }: Pick<MetricDefinition, 'name' | 'type'>): string[] {
  switch (type) {
    case 'histogram':
      return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
    case 'summary':
      return [name, `${name}_sum`, `${name}_count`];
    case 'counter':
    case 'gauge':
      return [name];
  }
}

/** Series Prometheus makes itself, or node-exporter exports. */
export function isPrometheusOrNodeExporterSeries(name: string): boolean {
  return (
    ['up', 'ALERTS', 'ALERTS_FOR_STATE'].includes(name) ||
    name.startsWith('scrape_') ||
    name.startsWith('prometheus_') ||
    name.startsWith('node_')
  );
}

/**
 * Every series name a dashboard or alert may read: registries, the host's
 * textfile metrics, the ECS task sidecar's, plus `alsoAllowed` (metrics catalogued but not yet
 * defined in code).
 */
export function exportedSeriesNames(alsoAllowed: MetricDefinition[] = []): Set<string> {
  const definitions = [
    ...registryMetrics(),
    ...catalogue().filter((entry) => EXTERNAL_SECTIONS.includes(entry.section)),
    ...alsoAllowed,
  ];
  return new Set(definitions.flatMap(seriesNames));
}

/** The names in `names` that nothing exports. */
export function unexportedNames(names: string[], exported: Set<string>): string[] {
  return names.filter((name) => !exported.has(name) && !isPrometheusOrNodeExporterSeries(name));
}
