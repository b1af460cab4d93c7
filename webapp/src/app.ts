/**
 * createApp builds the Koa application from its dependencies and does not listen
 * (server.ts does). Middleware order: observation (request id, logs, metrics), errors,
 * security headers, the operational endpoints, body limits, then — when the editor is on —
 * CSRF, sessions and the /api routes, and last the site.
 */
import Koa, { type Middleware } from 'koa';
import type { BuildInfo } from './buildInfo';
import type { Config } from './config';
import { bodyLimit } from './http/body';
import { csrfGuard } from './http/csrf';
import { errorHandler } from './http/errorHandler';
import type { Lifecycle } from './http/lifecycle';
import { observe } from './http/observe';
import { securityHeaders } from './http/securityHeaders';
import { loadSession } from './http/session';
import type { Logger } from './logger';
import type { Metrics } from './metrics/registry';
import { editorApiRoutes, type EditorApiDeps } from './routes/editorApi';
import { healthRoutes } from './routes/health';
import { siteMiddleware } from './site/serve';

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  buildInfo: BuildInfo;
  /** The site folder to serve (`webapp/site`); no site when absent. */
  siteDir?: string | undefined;
  /** The editor's API; absent when the editor is off. */
  editor?: EditorApiDeps | undefined;
  /** The editor's pages and assets (/editor). */
  editorUi?: Middleware | undefined;
}

/** Bodies larger than any route accepts are refused before they are read. */
function largestBody(deps: AppDeps): number {
  return deps.editor ? deps.editor.config.maxFileBytes * 2 + 64 * 1024 : 64 * 1024;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: deps.config.trustProxy });
  // Errors are logged by errorHandler, once; Koa's own stderr printing would be a second copy.
  app.silent = true;

  app.use(observe(deps.logger, deps.metrics));
  app.use(errorHandler(deps.logger));
  app.use(securityHeaders());
  app.use(healthRoutes(deps));
  app.use(bodyLimit(largestBody(deps)));

  if (deps.editor) {
    app.use(csrfGuard());
    app.use(loadSession({ ...deps.editor, cookieSecure: deps.editor.config.cookieSecure }));
    const api = editorApiRoutes(deps.editor);
    app.use(api.routes()).use(api.allowedMethods());
  }
  if (deps.editorUi) app.use(deps.editorUi);
  if (deps.siteDir) {
    for (const middleware of siteMiddleware({ dir: deps.siteDir, buildInfo: deps.buildInfo }))
      app.use(middleware);
  }
  return app;
}
