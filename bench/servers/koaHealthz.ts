/** The real Reflex app (metrics and request logging on, logs to /dev/null) on a free port. */
import pino from 'pino';
import { createApp } from '../../webapp/src/app';
import { loadConfig } from '../../webapp/src/config';
import { Lifecycle } from '../../webapp/src/http/lifecycle';
import { serve } from '../../webapp/src/http/serve';
import { createLogger } from '../../webapp/src/logger';
import { createMetrics } from '../../webapp/src/metrics/registry';

async function run() {
  const logger = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
  const lifecycle = new Lifecycle();
  const app = createApp({
    config: loadConfig({}),
    logger,
    metrics: createMetrics(),
    lifecycle,
    buildInfo: { sha: 'bench', builtAt: 'bench' },
  });
  const running = await serve(app, {
    port: 0,
    host: '127.0.0.1',
    shutdownTimeoutMs: 1000,
    logger,
    lifecycle,
  });
  lifecycle.markReady();
  console.log(JSON.stringify({ listening: running.port }));
}
void run();
