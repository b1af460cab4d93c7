/** Builds the real app with in-memory logs, for tests that drive `app.callback()`. */
import { createApp, type AppDeps } from '../../src/app';
import { loadConfig } from '../../src/config';
import { Lifecycle } from '../../src/http/lifecycle';
import { createMetrics } from '../../src/metrics/registry';
import { captureLogs, type CapturedLogs } from './logs';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  logs: CapturedLogs;
}

export function buildTestApp(overrides: Partial<AppDeps> = {}): TestApp {
  const logs = captureLogs();
  const lifecycle = new Lifecycle();
  lifecycle.markReady();
  const deps: AppDeps = {
    config: loadConfig({}),
    logger: logs.logger,
    metrics: createMetrics(),
    lifecycle,
    buildInfo: { sha: 'abc1234', builtAt: '2026-01-01T00:00:00.000Z' },
    ...overrides,
  };
  return { app: createApp(deps), deps, logs };
}
