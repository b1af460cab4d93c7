/**
 * Operational endpoints: readiness, the running version, and Prometheus metrics.
 *
 * They are answered by exact path ahead of the router, for two reasons: the site's routes are
 * editable from the browser and must never be able to shadow them, and load balancers call
 * /healthz constantly, so it skips route matching (which costs about a third of a trivial
 * request with @koa/router; see docs/BENCHMARKS.md).
 */
import type { Context, Middleware } from 'koa';
import type { BuildInfo } from '../buildInfo';
import type { Lifecycle } from '../http/lifecycle';
import type { Metrics } from '../metrics/registry';

export interface HealthDeps {
  lifecycle: Lifecycle;
  buildInfo: BuildInfo;
  metrics: Metrics;
  /** The edge's token (`REFLEX_EDGE_TOKEN`), when an edge that names the release is in front. */
  edgeToken?: string | undefined;
}

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * The release a request is served by. The local edge names it (`X-Reflex-Release`, with its
 * token): one platform process serves every release that leaves the platform's code as it is,
 * so the release is not always the commit this process was built from.
 */
function releaseOf(ctx: Context, own: BuildInfo, edgeToken: string | undefined): BuildInfo {
  const named = ctx.get('X-Reflex-Release');
  if (!edgeToken || ctx.get('X-Reflex-Edge') !== edgeToken || !SHA.test(named)) return own;
  const builtAt = ctx.get('X-Reflex-Built-At');
  return { sha: named, builtAt: builtAt || own.builtAt };
}

export function healthRoutes({ lifecycle, buildInfo, metrics, edgeToken }: HealthDeps): Middleware {
  const endpoints: Record<string, (ctx: Context) => void | Promise<void>> = {
    '/healthz': (ctx) => {
      ctx.status = lifecycle.isReady ? 200 : 503;
      ctx.body = { status: lifecycle.state, sha: buildInfo.sha };
    },
    '/version': (ctx) => {
      const release = releaseOf(ctx, buildInfo, edgeToken);
      ctx.body = { sha: release.sha, builtAt: release.builtAt };
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
