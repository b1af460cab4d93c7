/**
 * createApp builds the Koa application from its dependencies and does not listen
 * (server.ts does; compose.ts builds the dependencies). Middleware order: the client's address
 * (forwarded headers only from the edge), observation (request id, logs, metrics), errors,
 * security headers, the operational endpoints, body limits, then — when the editor is on —
 * CSRF, sessions and the /api routes, and the editor's UI. The site is not here: it runs in
 * its own process (webapp/src/site/), apart from the platform's secrets.
 */
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import type { BuildInfo } from './buildInfo';
import type { Config } from './config';
import { bodyLimit } from './http/body';
import { clientAddress } from './http/clientAddress';
import { csrfGuard } from './http/csrf';
import { errorHandler } from './http/errorHandler';
import type { Lifecycle } from './http/lifecycle';
import { observe } from './http/observe';
import { securityHeaders } from './http/securityHeaders';
import { currentUser, loadSession } from './http/session';
import type { Logger } from './logger';
import type { Metrics } from './metrics/registry';
import { editorEndpoints, signInEndpoint, type EditorApiDeps } from './routes/editorApi';
import { mount } from './routes/endpoints';
import { healthRoutes } from './routes/health';
import { pipelineEndpoints, pipelineEvents, type PipelineApiDeps } from './routes/pipelineApi';

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  buildInfo: BuildInfo;
  /** The editor's API; absent when the editor is off. */
  editor?: EditorApiDeps | undefined;
  /** The pipeline the editor follows (events, releases, rollback); absent when none. */
  pipeline?: PipelineApiDeps | undefined;
  /** The editor's pages and assets (/editor). */
  editorUi?: Middleware | undefined;
}

/** Bodies larger than any route accepts are refused before they are read. */
function largestBody(deps: AppDeps): number {
  return deps.editor ? deps.editor.config.maxFileBytes * 2 + 64 * 1024 : 64 * 1024;
}

export function createApp(deps: AppDeps): Koa {
  const { config } = deps;
  // Forwarded headers that survive clientAddress are trusted; it decides the client's address.
  const app = new Koa({ proxy: config.trustProxy || config.edgeToken !== undefined });
  // Errors are logged by errorHandler, once; Koa's own stderr printing would be a second copy.
  app.silent = true;

  app.use(clientAddress({ edgeToken: config.edgeToken, trustProxy: config.trustProxy }));
  app.use(observe(deps.logger, deps.metrics));
  app.use(errorHandler(deps.logger));
  app.use(securityHeaders());
  app.use(healthRoutes({ ...deps, edgeToken: deps.config.edgeToken }));
  app.use(bodyLimit(largestBody(deps)));

  if (deps.editor) {
    app.use(csrfGuard({ editorOrigin: config.editorOrigin }));
    app.use(loadSession({ ...deps.editor, cookieSecure: deps.editor.config.cookieSecure }));
    const api = apiRouter(deps.editor, deps.pipeline);
    app.use(api.routes()).use(api.allowedMethods());
  }
  if (deps.editorUi) app.use(deps.editorUi);
  return app;
}

/** /api: sign-in, then everything else behind a session. */
function apiRouter(editor: EditorApiDeps, pipeline: PipelineApiDeps | undefined): Router {
  const router = new Router({ prefix: '/api' });
  mount(router, signInEndpoint(editor));
  router.use(async (ctx, next) => {
    currentUser(ctx);
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  mount(router, editorEndpoints(editor));
  if (pipeline) {
    // The editor reads a 404 here as "no pipeline"; presence is then at GET /api/presence.
    pipelineEvents(router, { ...pipeline, presence: editor.presence });
    mount(router, pipelineEndpoints(pipeline));
  }
  return router;
}
