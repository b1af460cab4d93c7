/**
 * Operational endpoints: readiness, the running version, and Prometheus metrics.
 *
 * They are answered by exact path ahead of the router, for two reasons: the site's routes are
 * editable from the browser and must never be able to shadow them, and load balancers call
 * /healthz constantly, so it skips route matching (which costs about a third of a trivial
 * request with @koa/router; see docs/BENCHMARKS.md).
 */
import type { Context, Middleware } from 'koa';
import type { Version } from '../api/contract';
import type { BuildInfo } from '../buildInfo';
import type { Lifecycle } from '../http/lifecycle';
import type { Metrics } from '../metrics/registry';

export interface HealthDeps {
  lifecycle: Lifecycle;
  buildInfo: BuildInfo;
  metrics: Metrics;
}

export function healthRoutes({ lifecycle, buildInfo, metrics }: HealthDeps): Middleware {
  const version: Version = { sha: buildInfo.sha, builtAt: buildInfo.builtAt };
  const endpoints: Record<string, (ctx: Context) => void | Promise<void>> = {
    '/healthz': (ctx) => {
      ctx.status = lifecycle.isReady ? 200 : 503;
      ctx.body = { status: lifecycle.state, sha: buildInfo.sha };
    },
    '/version': (ctx) => {
      ctx.body = version;
    },
    '/metrics': async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.registry.metrics();
    },
  };

  return (ctx, next) => {
    const endpoint = Object.hasOwn(endpoints, ctx.path) ? endpoints[ctx.path] : undefined;
    if (!endpoint) return next();
    ctx.state.route = ctx.path;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      ctx.body = { error: 'method not allowed' };
      return undefined;
    }
    ctx.set('Cache-Control', 'no-store');
    return endpoint(ctx);
  };
}
