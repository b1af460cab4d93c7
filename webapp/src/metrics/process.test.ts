import { Registry } from 'prom-client';
import { registerProcessMetrics } from './process';

async function scrape(registry: Registry): Promise<Map<string, { type: string; value: number }>> {
  const metrics = await registry.getMetricsAsJSON();
  return new Map(
    metrics.map((m) => [m.name, { type: String(m.type), value: m.values[0]?.value ?? NaN }]),
  );
}

describe("the process's own figures", () => {
  it("exports what dashboards read, under prom-client's names and types, and nothing else", async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    const got = await scrape(registry);
    expect([...got.keys()].sort()).toEqual(
      [
        'nodejs_eventloop_lag_max_seconds',
        'nodejs_eventloop_lag_mean_seconds',
        'nodejs_eventloop_lag_min_seconds',
        'nodejs_eventloop_lag_p50_seconds',
        'nodejs_eventloop_lag_p90_seconds',
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_eventloop_lag_seconds',
        'nodejs_external_memory_bytes',
        'nodejs_heap_size_total_bytes',
        'nodejs_heap_size_used_bytes',
        'nodejs_version_info',
        'process_cpu_seconds_total',
        'process_cpu_system_seconds_total',
        'process_cpu_user_seconds_total',
        'process_resident_memory_bytes',
        'process_start_time_seconds',
      ].sort(),
    );
    expect(got.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(got.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect(got.get('nodejs_eventloop_lag_p99_seconds')?.type).toBe('gauge');
  });

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const block = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };

  it('reads the figures of this scrape, not of the one before, and measures delays from it on', async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    await sleep(30);
    await scrape(registry);
    // Busy the CPU and block the event loop; the delay monitor records it on its next turn.
    // (Its first turn after a scrape only starts a new interval: a block must come later.)
    await sleep(30);
    block(60);
    await sleep(30);
    const cpuNow = process.cpuUsage();
    const got = await scrape(registry);
    const total = got.get('process_cpu_seconds_total')!.value;
    expect(total).toBeGreaterThanOrEqual((cpuNow.user + cpuNow.system) / 1e6);
    expect(total).toBeCloseTo(
      got.get('process_cpu_user_seconds_total')!.value +
        got.get('process_cpu_system_seconds_total')!.value,
      6,
    );
    expect(got.get('process_resident_memory_bytes')!.value).toBeGreaterThan(1e6);
    expect(got.get('nodejs_heap_size_used_bytes')!.value).toBeGreaterThan(0);
    expect(got.get('nodejs_heap_size_total_bytes')!.value).toBeGreaterThanOrEqual(
      got.get('nodejs_heap_size_used_bytes')!.value,
    );
    expect(got.get('nodejs_eventloop_lag_max_seconds')!.value).toBeGreaterThan(0.05);
    expect(got.get('nodejs_eventloop_lag_p99_seconds')!.value).toBeGreaterThanOrEqual(
      got.get('nodejs_eventloop_lag_p50_seconds')!.value,
    );
    // The next scrape sees only the delays since this one.
    await sleep(50);
    expect((await scrape(registry)).get('nodejs_eventloop_lag_max_seconds')!.value).toBeLessThan(
      0.05,
    );
  });
});
