/**
 * Every metric the service exports is defined here, in one registry per app instance, so the
 * dashboards and alerts (grafana/, prometheus/) can be checked against this one list.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const httpLabels = ['method', 'route', 'status_code'] as const;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  return {
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
}

export type Metrics = ReturnType<typeof createMetrics>;
