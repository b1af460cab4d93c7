/**
 * The process's own figures, under prom-client's default names and meanings: CPU, resident
 * memory, heap, start time, Node's version, and the event loop's delay.
 *
 * These replace prom-client's `collectDefaultMetrics` in every Reflex process. The defaults
 * export about thirty series, and one scrape of them costs about a millisecond of CPU on the
 * event loop that also answers the requests: most of it lists `/proc/self/fd`, walks the
 * event-loop histogram for a standard deviation and reads `/proc/self/status`. They also keep
 * a garbage-collection observer whose callback runs after every collection, scrape or not.
 * Nothing reads those figures (docs/METRICS.md lists what dashboards and alerts use); the
 * supervisor's edge loses throughput to each scrape (`npm run bench -- edge-scrape`).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import { Counter, Gauge, type Registry } from 'prom-client';

/** The event loop's delay is sampled this often (ms), as prom-client does by default. */
const DELAY_RESOLUTION_MS = 10;

const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);

/**
 * Registers the process's figures in `registry`. Once per process: each set keeps a timer.
 * A registry reads its metrics in the order they were registered, so in each group the one
 * whose `collect` sets the others comes first.
 */
export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];

  // CPU since the process started, read once per scrape for all three counters.
  const cpu: Record<'total' | 'user' | 'system', Counter> = {
    total: new Counter({
      name: 'process_cpu_seconds_total',
      help: 'Total user and system CPU time spent in seconds.',
      registers,
      collect() {
        const usage = process.cpuUsage();
        for (const [counter, micros] of [
          [cpu.total, usage.user + usage.system],
          [cpu.user, usage.user],
          [cpu.system, usage.system],
        ] as const) {
          counter.reset();
          counter.inc(micros / 1e6);
        }
      },
    }),
    user: new Counter({
      name: 'process_cpu_user_seconds_total',
      help: 'Total user CPU time spent in seconds.',
      registers,
    }),
    system: new Counter({
      name: 'process_cpu_system_seconds_total',
      help: 'Total system CPU time spent in seconds.',
      registers,
    }),
  };

  const rss: Gauge = new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    registers,
    collect: () => rss.set(process.memoryUsage.rss()),
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
    registers,
  }).set(Math.round(Date.now() / 1000 - process.uptime()));

  const heap: Record<'external' | 'total' | 'used', Gauge> = {
    external: new Gauge({
      name: 'nodejs_external_memory_bytes',
      help: 'Node.js external memory size in bytes.',
      registers,
      collect: () => {
        const stats = v8.getHeapStatistics();
        heap.external.set(stats.external_memory);
        heap.total.set(stats.total_heap_size);
        heap.used.set(stats.used_heap_size);
      },
    }),
    total: new Gauge({
      name: 'nodejs_heap_size_total_bytes',
      help: 'Process heap size from Node.js in bytes.',
      registers,
    }),
    used: new Gauge({
      name: 'nodejs_heap_size_used_bytes',
      help: 'Process heap size used from Node.js in bytes.',
      registers,
    }),
  };

  const [major, minor, patch] = process.versions.node.split('.');
  new Gauge({
    name: 'nodejs_version_info',
    help: 'Node.js version info.',
    labelNames: ['version', 'major', 'minor', 'patch'] as const,
    registers,
  }).set({ version: process.version, major, minor, patch }, 1);

  const delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  delay.enable();
  const lag: Record<'now' | 'min' | 'max' | 'mean' | 'p50' | 'p90' | 'p99', Gauge> = {
    // The delays since the previous scrape. `now` is the wait for the loop's next turn, set
    // when that comes: a scrape shows the one measured at the scrape before (as prom-client).
    now: new Gauge({
      name: 'nodejs_eventloop_lag_seconds',
      help: 'Lag of event loop in seconds.',
      registers,
      collect: () => {
        const started = process.hrtime.bigint();
        setImmediate(() => lag.now.set(Number(process.hrtime.bigint() - started) / 1e9));
        lag.min.set(seconds(delay.min));
        lag.max.set(seconds(delay.max));
        lag.mean.set(seconds(delay.mean));
        lag.p50.set(seconds(delay.percentile(50)));
        lag.p90.set(seconds(delay.percentile(90)));
        lag.p99.set(seconds(delay.percentile(99)));
        delay.reset();
      },
    }),
    min: new Gauge({
      name: 'nodejs_eventloop_lag_min_seconds',
      help: 'The minimum recorded event loop delay.',
      registers,
    }),
    max: new Gauge({
      name: 'nodejs_eventloop_lag_max_seconds',
      help: 'The maximum recorded event loop delay.',
      registers,
    }),
    mean: new Gauge({
      name: 'nodejs_eventloop_lag_mean_seconds',
      help: 'The mean of the recorded event loop delays.',
      registers,
    }),
    p50: new Gauge({
      name: 'nodejs_eventloop_lag_p50_seconds',
      help: 'The 50th percentile of the recorded event loop delays.',
      registers,
    }),
    p90: new Gauge({
      name: 'nodejs_eventloop_lag_p90_seconds',
      help: 'The 90th percentile of the recorded event loop delays.',
      registers,
    }),
    p99: new Gauge({
      name: 'nodejs_eventloop_lag_p99_seconds',
      help: 'The 99th percentile of the recorded event loop delays.',
      registers,
    }),
  };
}
