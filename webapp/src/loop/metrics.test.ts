import { createLoopMetrics } from './metrics';

describe("the supervisor's metrics", () => {
  it('the process figures come from one registry only: a second one (previews) keeps no second set', async () => {
    const main = await createLoopMetrics(() => 0).registry.metrics();
    const second = await createLoopMetrics(() => 0, { processMetrics: false }).registry.metrics();
    expect(main).toContain('process_cpu_seconds_total');
    expect(main).toContain('nodejs_eventloop_lag_seconds');
    expect(second).not.toContain('process_cpu_seconds_total');
    expect(second).not.toContain('nodejs_eventloop_lag_seconds');
    expect(second).toContain('reflex_deploys_total{result="success"} 0');
  });
});
