/**
 * createApp builds the Koa application from its dependencies and does not listen
 * (server.ts does). Middleware order: observation (request id, logs, metrics), errors,
 * security headers, the operational endpoints, body limits, then — when the editor is on —
 * CSRF, sessions and the /api routes, and the editor's UI. The site is not here: it runs in
 * its own process (webapp/src/site/), apart from the platform's secrets.
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

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  buildInfo: BuildInfo;
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
  app.use(healthRoutes({ ...deps, edgeToken: deps.config.edgeToken }));
  app.use(bodyLimit(largestBody(deps)));

  if (deps.editor) {
    app.use(csrfGuard());
    app.use(loadSession({ ...deps.editor, cookieSecure: deps.editor.config.cookieSecure }));
    const api = editorApiRoutes(deps.editor);
    app.use(api.routes()).use(api.allowedMethods());
  }
  if (deps.editorUi) app.use(deps.editorUi);
  return app;
}
