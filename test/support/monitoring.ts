/**
 * The live monitoring harness: a real Prometheus and node-exporter (startMonitoring), and checks
 * run through Prometheus' HTTP API — every dashboard panel's query, every alert rule.
 *
 *   const stack = await startMonitoring({ targets: { 'reflex-app': ['127.0.0.1:8123'] }, textfileDir });
 *   await waitForScrapes({ prometheusUrl: stack.prometheusUrl, jobs: ['reflex-app', 'node'] });
 *   const results = await evaluateDashboards({ prometheusUrl: stack.prometheusUrl });
 *   expect(results.filter((r) => r.outcome !== 'data').map(describeEvaluation)).toEqual([]);
 */
import {
  hostRuleFiles,
  loadAlertRules,
  loadDashboards,
  panelQueries,
  type AlertRule,
  type DashboardFile,
  type PanelQuery,
} from './dashboards';
import {
  metricNames,
  resolveGrafanaVariables,
  DEFAULT_INTERVALS,
  type GrafanaIntervals,
} from './promql';

export {
  startMonitoring,
  type MonitoringOptions,
  type MonitoringStack,
} from '../../scripts/monitoring/stack';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

type QueryData =
  | { resultType: 'vector'; result: Sample[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] }
  | {
      resultType: 'matrix';
      result: { metric: Record<string, string>; values: [number, string][] }[];
    };

interface ApiResponse<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

async function api<T>(
  prometheusUrl: string,
  endpoint: string,
  params?: Record<string, string>,
): Promise<T> {
  const response = await fetch(`${prometheusUrl}${endpoint}`, {
    method: params ? 'POST' : 'GET',
    body: params ? new URLSearchParams(params) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as ApiResponse<T>;
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(`${body.errorType ?? response.status}: ${body.error ?? 'no data in response'}`);
  }
  return body.data;
}

/** An instant query at the current time. Throws Prometheus' error for a bad query. */
export function instantQuery(prometheusUrl: string, query: string): Promise<QueryData> {
  return api<QueryData>(prometheusUrl, '/api/v1/query', { query });
}

/** Finite sample values of a query result (NaN and ±Inf are what Grafana shows as no data). */
function finiteValues(data: QueryData): number[] {
  switch (data.resultType) {
    case 'vector':
      return data.result.map((sample) => Number(sample.value[1])).filter(Number.isFinite);
    case 'scalar':
      return [Number(data.result[1])].filter(Number.isFinite);
    case 'matrix':
      return data.result.flatMap((s) => s.values.map(([, v]) => Number(v))).filter(Number.isFinite);
    case 'string':
      return [];
  }
}

function seriesCount(data: QueryData): number {
  return data.resultType === 'vector' || data.resultType === 'matrix' ? data.result.length : 1;
}

/** `data`: at least one finite value. `no-data`: empty, or only NaN/Inf. `error`: Prometheus refused it. */
export type Outcome = 'data' | 'no-data' | 'error';

export interface QueryEvaluation extends PanelQuery {
  /** The expression as sent, Grafana variables resolved. */
  query: string;
  outcome: Outcome;
  /** Series returned, or the error. */
  detail: string;
}

/** One line naming the dashboard, the panel and the query, for a failure message. */
export function describeEvaluation(evaluation: QueryEvaluation): string {
  return (
    `${evaluation.dashboard} › ${evaluation.panel} [${evaluation.refId}]: ` +
    `${evaluation.outcome} (${evaluation.detail}) — ${evaluation.query}`
  );
}

async function evaluate(
  prometheusUrl: string,
  query: string,
): Promise<{ outcome: Outcome; detail: string }> {
  try {
    const data = await instantQuery(prometheusUrl, query);
    const finite = finiteValues(data).length;
    return {
      outcome: finite > 0 ? 'data' : 'no-data',
      detail: `${seriesCount(data)} series, ${finite} finite`,
    };
  } catch (err) {
    return { outcome: 'error', detail: err instanceof Error ? err.message : String(err) };
  }
}

export interface EvaluateDashboardsOptions {
  prometheusUrl: string;
  /** Default: every dashboard in grafana/dashboards. */
  dashboards?: DashboardFile[];
  /** Values of `$__rate_interval`, `$__interval`, `$__range`. */
  intervals?: GrafanaIntervals;
}

/** Runs every query of every panel as an instant query now. */
export async function evaluateDashboards(
  options: EvaluateDashboardsOptions,
): Promise<QueryEvaluation[]> {
  const queries = panelQueries(options.dashboards ?? loadDashboards());
  const results: QueryEvaluation[] = [];
  for (const panelQuery of queries) {
    let query: string;
    try {
      query = resolveGrafanaVariables(panelQuery.expr, options.intervals ?? DEFAULT_INTERVALS);
    } catch (err) {
      results.push({
        ...panelQuery,
        query: panelQuery.expr,
        outcome: 'error',
        detail: String(err),
      });
      continue;
    }
    results.push({ ...panelQuery, query, ...(await evaluate(options.prometheusUrl, query)) });
  }
  return results;
}

/** The names in `names` of which Prometheus holds no series right now. */
export async function metricsWithoutSeries(
  prometheusUrl: string,
  names: string[],
): Promise<string[]> {
  if (names.length === 0) return [];
  const data = await instantQuery(
    prometheusUrl,
    `group by (__name__) ({__name__=~"${names.join('|')}"})`,
  );
  const present = new Set(
    data.resultType === 'vector' ? data.result.map((sample) => sample.metric.__name__) : [],
  );
  return names.filter((name) => !present.has(name));
}

interface RulesData {
  groups: {
    name: string;
    rules: {
      name: string;
      type: string;
      health: string;
      lastError?: string;
      lastEvaluation: string;
    }[];
  }[];
}

export interface RuleEvaluation {
  alert: string;
  group: string;
  expr: string;
  /** `error` when Prometheus refuses the expression, or reports the rule unhealthy. */
  outcome: 'evaluated' | 'error';
  /** Series the expression returns now (an alert that is not firing returns none). */
  series: number;
  detail: string;
  /** Metric names the rule reads of which Prometheus has no series. */
  metricsWithoutSeries: string[];
}

/**
 * Evaluates every alert rule's expression now, reads each rule's health from Prometheus' own
 * evaluation (`/api/v1/rules`), and lists the metrics each reads that have no series.
 */
export async function evaluateAlertRules(options: {
  prometheusUrl: string;
  rules?: AlertRule[];
}): Promise<RuleEvaluation[]> {
  const loaded = await api<RulesData>(options.prometheusUrl, '/api/v1/rules?type=alert');
  const health = new Map(
    loaded.groups.flatMap((group) => group.rules.map((rule) => [rule.name, rule] as const)),
  );
  const results: RuleEvaluation[] = [];
  for (const rule of options.rules ?? loadAlertRules(hostRuleFiles())) {
    const problems: string[] = [];
    let series = 0;
    try {
      series = seriesCount(await instantQuery(options.prometheusUrl, rule.expr));
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    const loadedRule = health.get(rule.alert);
    if (!loadedRule) problems.push('not loaded by Prometheus');
    else if (loadedRule.health !== 'ok') {
      problems.push(`health ${loadedRule.health}: ${loadedRule.lastError ?? ''}`);
    }
    results.push({
      alert: rule.alert,
      group: rule.group,
      expr: rule.expr,
      outcome: problems.length === 0 ? 'evaluated' : 'error',
      series,
      detail: problems.join('; ') || `health ok, ${series} series now`,
      metricsWithoutSeries: await metricsWithoutSeries(
        options.prometheusUrl,
        metricNames(rule.expr),
      ),
    });
  }
  return results;
}

/** Resolves once Prometheus has evaluated every alert rule after `since`. */
export async function waitForRuleEvaluation(
  prometheusUrl: string,
  since: Date,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const data = await api<RulesData>(prometheusUrl, '/api/v1/rules?type=alert');
    const rules = data.groups.flatMap((group) => group.rules);
    if (rules.length > 0 && rules.every((rule) => new Date(rule.lastEvaluation) > since)) return;
    if (Date.now() > deadline)
      throw new Error(`alert rules not all evaluated within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface ActiveTarget {
  job: string;
  instance: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  labels: Record<string, string>;
}

export async function activeTargets(prometheusUrl: string): Promise<ActiveTarget[]> {
  const data = await api<{
    activeTargets: {
      labels: Record<string, string>;
      health: ActiveTarget['health'];
      lastError: string;
    }[];
  }>(prometheusUrl, '/api/v1/targets?state=active');
  return data.activeTargets.map((target) => ({
    job: target.labels.job ?? '',
    instance: target.labels.instance ?? '',
    health: target.health,
    lastError: target.lastError,
    labels: target.labels,
  }));
}

async function successfulScrapes(prometheusUrl: string): Promise<Map<string, number>> {
  const data = await instantQuery(prometheusUrl, 'sum by (job) (sum_over_time(up[1h]))');
  return new Map(
    data.resultType === 'vector'
      ? data.result.map((sample) => [sample.metric.job ?? '', Number(sample.value[1])])
      : [],
  );
}

/**
 * Resolves once each job in `jobs` has been scraped successfully `scrapes` more times than when
 * called, so that rate() and increase() see the traffic that came before the call.
 */
export async function waitForScrapes(options: {
  prometheusUrl: string;
  jobs: string[];
  scrapes?: number;
  timeoutMs?: number;
}): Promise<void> {
  const wanted = options.scrapes ?? 3;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const before = await successfulScrapes(options.prometheusUrl);
  for (;;) {
    const now = await successfulScrapes(options.prometheusUrl);
    const behind = options.jobs.filter(
      (job) => (now.get(job) ?? 0) - (before.get(job) ?? 0) < wanted,
    );
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      const targets = await activeTargets(options.prometheusUrl);
      throw new Error(
        `jobs ${behind.join(', ')} not scraped ${wanted} more times; targets: ` +
          JSON.stringify(
            targets.map(({ job, instance, health, lastError }) => ({
              job,
              instance,
              health,
              lastError,
            })),
          ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
