/**
 * createApp builds the Koa application from its dependencies and does not listen
 * (server.ts does). Middleware order: observation (request id, logs, metrics), errors, then routes.
 */
import Koa from 'koa';
import type { BuildInfo } from './buildInfo';
import type { Config } from './config';
import { errorHandler } from './http/errorHandler';
import type { Lifecycle } from './http/lifecycle';
import { observe } from './http/observe';
import type { Logger } from './logger';
import type { Metrics } from './metrics/registry';
import { healthRoutes } from './routes/health';

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  buildInfo: BuildInfo;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  // Errors are logged by errorHandler, once; Koa's own stderr printing would be a second copy.
  app.silent = true;

  app.use(observe(deps.logger, deps.metrics));
  app.use(errorHandler(deps.logger));

  app.use(healthRoutes(deps));

  return app;
}
