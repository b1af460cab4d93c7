/** The supervisor's metrics (its control server's /metrics). Names: docs/METRICS.md. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from '../metrics/process';
import { LOCAL_STAGES } from '../pipeline/types';

export const DEPLOY_RESULTS = ['success', 'failed', 'restored'] as const;

/**
 * `processMetrics`: the process's own figures (CPU, memory, event loop delay). One registry
 * per process has them: each set keeps an event-loop-delay timer running.
 */
export function createLoopMetrics(lag: () => number, { processMetrics = true } = {}) {
  const registry = new Registry();
  if (processMetrics) registerProcessMetrics(registry);
  const registers = [registry];
  const metrics = {
    registry,
    stageDuration: new Histogram({
      name: 'reflex_pipeline_stage_duration_seconds',
      help: 'Time spent in each pipeline stage, successful or not.',
      labelNames: ['stage'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 180],
      registers,
    }),
    deploys: new Counter({
      name: 'reflex_deploys_total',
      help: 'Pipeline runs that ended: success (went live), failed, or restored (previous release put back).',
      labelNames: ['result'] as const,
      registers,
    }),
    releaseInfo: new Gauge({
      name: 'reflex_release_info',
      help: 'The live release: 1 for its sha.',
      labelNames: ['sha'] as const,
      registers,
    }),
    editToLive: new Histogram({
      name: 'reflex_edit_to_live_seconds',
      help: 'From a push reaching the origin to its release serving.',
      buckets: [0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120],
      registers,
    }),
    desiredLag: new Gauge({
      name: 'reflex_desired_release_lag_seconds',
      help: "0 when the branch's head is live, else seconds since it was pushed.",
      registers,
      collect() {
        this.set(lag());
      },
    }),
  };
  // Every documented label value exists from the start at 0 (see metrics/registry.ts).
  for (const result of DEPLOY_RESULTS) metrics.deploys.inc({ result }, 0);
  for (const stage of LOCAL_STAGES)
    if (stage !== 'committed') metrics.stageDuration.zero({ stage });
  return metrics;
}

export type LoopMetrics = ReturnType<typeof createLoopMetrics>;
