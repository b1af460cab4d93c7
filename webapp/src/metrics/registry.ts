/**
 * Every metric the service exports is defined here, in one registry per app instance, so the
 * dashboards and alerts (grafana/, prometheus/) can be checked against this one list.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './process';

const httpLabels = ['method', 'route', 'status_code'] as const;

/** Results of an editor save or delete (reflex_saves_total{result}). */
export const SAVE_RESULTS = [
  'committed',
  'unchanged',
  'conflict',
  'forbidden',
  'invalid',
  'too_large',
  'not_found',
  'error',
] as const;

export function createMetrics() {
  const registry = new Registry();
  registerProcessMetrics(registry);
  const registers = [registry];

  const metrics = {
    registry,
    httpRequestsTotal: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests served, by method, route template and status code.',
      labelNames: httpLabels,
      registers,
    }),
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request to response, by method, route template and status code.',
      labelNames: httpLabels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    httpRequestsInFlight: new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests being handled right now (long-lived streams included).',
      registers,
    }),
    savesTotal: new Counter({
      name: 'reflex_saves_total',
      help: 'Saves and deletes attempted in the editor, by result.',
      labelNames: ['result'] as const,
      registers,
    }),
    gitPushDuration: new Histogram({
      name: 'reflex_git_push_duration_seconds',
      help: 'Time to push a commit to the origin, successful or not.',
      labelNames: ['result'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
  // Every documented label value exists from the start at 0: Prometheus cannot see the first
  // increment of a series that appears already at 1, so increase() and alerts would miss it.
  for (const result of SAVE_RESULTS) metrics.savesTotal.inc({ result }, 0);
  for (const result of ['ok', 'failed']) metrics.gitPushDuration.zero({ result });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
