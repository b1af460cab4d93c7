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

/** The request id a request is known by: a well-formed one it came with, else a new one. */
export function requestIdFor(incoming: string | undefined): string {
  return incoming !== undefined && WELL_FORMED_ID.test(incoming) ? incoming : randomUUID();
}

/** A request that was answered (or whose connection closed), as it is counted and logged. */
export interface Finished {
  method: string;
  path: string;
  route: string;
  status: number;
  /** `process.hrtime.bigint()` when it arrived. */
  started: bigint;
  completed: boolean;
  /** A stream: its lifetime is not a latency, so it stays out of the histogram. */
  longLived?: boolean;
}

/**
 * Counts a finished request (out of `http_requests_in_flight`, which its start went into) and
 * writes its access-log line. `log` carries the request id already (observe's child logger),
 * or `reqId` names it (a handler with no child logger).
 */
export function recordFinished(log: Logger, metrics: Metrics, r: Finished, reqId?: string): void {
  const seconds = Number(process.hrtime.bigint() - r.started) / 1e9;
  const labels = { method: r.method, route: r.route, status_code: String(r.status) };
  metrics.httpRequestsInFlight.dec();
  metrics.httpRequestsTotal.inc(labels);
  if (r.longLived !== true) metrics.httpRequestDuration.observe(labels, seconds);
  log.info(
    {
      ...(reqId !== undefined && { reqId }),
      method: r.method,
      path: r.path,
      route: r.route,
      status: r.status,
      ms: seconds * 1e3,
      completed: r.completed,
    },
    'request',
  );
}

export function observe(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdFor(ctx.get(REQUEST_ID_HEADER));
    const log = logger.child({ reqId: requestId });
    ctx.state.requestId = requestId;
    ctx.state.log = log;
    ctx.set(REQUEST_ID_HEADER, requestId);
    metrics.httpRequestsInFlight.inc();

    ctx.res.once('close', () =>
      recordFinished(log, metrics, {
        method: ctx.method,
        path: ctx.path,
        route: routeTemplate(ctx),
        status: ctx.status,
        started,
        completed: ctx.res.writableFinished,
        longLived: ctx.state.longLived === true,
      }),
    );
    await next();
  };
}
