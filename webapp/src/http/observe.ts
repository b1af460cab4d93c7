/**
 * First middleware of the chain: everything observed about a request, in one place.
 * - a request id (kept from a trusted upstream's `X-Request-Id` when well-formed), returned
 *   in the response header, with a child logger carrying it on `ctx.state.log`;
 * - RED metrics labelled by the route *template* (`/api/files/{*path}`), never the concrete
 *   path, so the number of series stays bounded whatever clients request;
 * - one access-log line when the response closes.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics/registry';

export const REQUEST_ID_HEADER = 'X-Request-Id';
export const UNMATCHED_ROUTE = '(unmatched)';
const WELL_FORMED_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** The route template that served the request: set by @koa/router, or by a middleware. */
export function routeTemplate(ctx: Context): string {
  const fromState: unknown = ctx.state.route;
  if (typeof fromState === 'string') return fromState;
  const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : UNMATCHED_ROUTE;
}

export function observe(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get(REQUEST_ID_HEADER);
    const requestId = WELL_FORMED_ID.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ reqId: requestId });
    ctx.state.requestId = requestId;
    ctx.state.log = log;
    ctx.set(REQUEST_ID_HEADER, requestId);
    metrics.httpRequestsInFlight.inc();

    ctx.res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplate(ctx);
      const labels = { method: ctx.method, route, status_code: String(ctx.status) };
      metrics.httpRequestsInFlight.dec();
      metrics.httpRequestsTotal.inc(labels);
      // A stream's lifetime is not a latency: leave it out of the histogram.
      if (ctx.state.longLived !== true) metrics.httpRequestDuration.observe(labels, seconds);
      log.info(
        {
          method: ctx.method,
          path: ctx.path,
          route,
          status: ctx.status,
          ms: seconds * 1e3,
          completed: ctx.res.writableFinished,
        },
        'request',
      );
    });
    await next();
  };
}
