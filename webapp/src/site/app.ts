/**
 * The site's process: the application visitors see (`webapp/site/`: its routes, pages and
 * assets), apart from the platform. It holds no secret and serves only what is public. The
 * edge sends it everything that is not the editor or an operational endpoint.
 *
 * Its own `/healthz` and `/metrics` are for the supervisor and Prometheus on its loopback port;
 * the edge never forwards those paths here, so a site route can never shadow the platform's.
 *
 * In the local loop one site process can serve several releases' content: when only pages or
 * assets changed, the release keeps the running process and the edge names the release per
 * request (`X-Reflex-Release`). The process then reads that release's folder; its code is the
 * same by construction (the pipeline checks the bundle's inputs did not change).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import Router from '@koa/router';
import Koa, { type Context, type Middleware } from 'koa';
import { errorHandler } from '../http/errorHandler';
import type { Lifecycle } from '../http/lifecycle';
import { observe } from '../http/observe';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics/registry';
import { Content, FileCache, safeRelative, type Loaded, type Release } from './content';

const PAGE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const MAX_GENERATIONS = 16;

/** What the site's code is told about the release that serves a request. */
export interface SiteContext {
  readonly sha: string;
}

export type RegisterRoutes = (router: Router, site: SiteContext) => void;

export interface SiteAppOptions {
  /** The release this process was started from, and its content folder (`webapp/site`). */
  release: Release;
  contentDir: string;
  /**
   * The folder holding every release (`<releases>/<sha>/webapp/site`), when this process may
   * serve other releases' content (the local loop); unset on a host.
   */
  releases: string | undefined;
  /** The releases' build times, for page templates (`{{builtAt}}`). */
  builtAt: (sha: string) => Promise<string>;
  registerRoutes: RegisterRoutes;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Bytes of files kept in memory. */
  cacheBytes?: number;
}

/** The site's own Content-Security-Policy; a route may set another for its responses. */
export const SITE_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "base-uri 'self'",
  "object-src 'none'",
].join('; ');

export function createSiteApp(o: SiteAppOptions): Koa {
  const cache = new FileCache(o.cacheBytes ?? 32 * 1024 * 1024);
  const own = new Content(o.contentDir, o.release, cache);
  const current = new AsyncLocalStorage<Content>();
  const generations = new Map<string, Promise<Content>>([[o.release.sha, Promise.resolve(own)]]);

  /** The content of the release a request names, when this process may serve it. */
  const contentFor = (ctx: Context): Promise<Content> => {
    const named = ctx.get('X-Reflex-Release');
    if (!o.releases || !SHA.test(named)) return Promise.resolve(own);
    let found = generations.get(named);
    if (!found) {
      found = o
        .builtAt(named)
        .then(
          (builtAt) =>
            new Content(
              path.join(o.releases!, named, 'webapp/site'),
              { sha: named, builtAt },
              cache,
            ),
        );
      generations.set(named, found);
      // A handful of releases is ever live at once; forget the oldest others.
      for (const sha of generations.keys()) {
        if (generations.size <= MAX_GENERATIONS) break;
        if (sha !== o.release.sha) generations.delete(sha);
      }
    }
    return found;
  };

  const site: SiteContext = {
    get sha() {
      return current.getStore()?.release.sha ?? o.release.sha;
    },
  };
  const router = new Router();
  o.registerRoutes(router, site);

  const app = new Koa();
  app.silent = true;
  app.use(observe(o.logger, o.metrics));
  app.use(errorHandler(o.logger));
  app.use(ownEndpoints(o, contentFor));
  app.use(async (ctx, next) => {
    ctx.set({
      'Content-Security-Policy': SITE_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'strict-origin-when-cross-origin',
    });
    const content = await contentFor(ctx);
    await current.run(content, next);
  });
  app.use(notFoundPage(() => current.getStore()!));
  app.use(router.routes());
  app.use(files(() => current.getStore()!));
  return app;
}

/** `/healthz` (for a named release: its content is there) and `/metrics`, on this port only. */
function ownEndpoints(
  o: SiteAppOptions,
  contentFor: (ctx: Context) => Promise<Content>,
): Middleware {
  return async (ctx, next) => {
    if (ctx.path === '/healthz') {
      ctx.state.route = '/healthz';
      const content = await contentFor(ctx);
      const ready = o.lifecycle.isReady && (await content.readable());
      ctx.status = ready ? 200 : 503;
      ctx.body = { status: ready ? o.lifecycle.state : 'no content', sha: content.release.sha };
      ctx.set('Cache-Control', 'no-store');
      return;
    }
    if (ctx.path === '/metrics') {
      ctx.state.route = '/metrics';
      ctx.type = o.metrics.registry.contentType;
      ctx.body = await o.metrics.registry.metrics();
      return;
    }
    await next();
  };
}

function send(ctx: Context, file: Loaded, status: number): void {
  ctx.set('ETag', file.etag);
  if (status === 200 && ctx.get('If-None-Match') === file.etag) {
    ctx.status = 304;
    return;
  }
  ctx.status = status;
  ctx.type = file.type;
  ctx.body = file.body;
}

/** Pages at `/<name>` (`/` is `index`) and assets under `/assets/`. */
function files(content: () => Content): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      await next();
      return;
    }
    let file: Loaded | undefined;
    if (ctx.path.startsWith('/assets/')) {
      ctx.state.route = '/assets/{*path}';
      const relative = safeRelative(ctx.path.slice('/assets/'.length));
      file = relative ? await content().load(`assets/${relative}`, false) : undefined;
      if (file) ctx.set('Cache-Control', 'public, max-age=300');
    } else {
      const name = ctx.path === '/' ? 'index' : ctx.path.slice(1);
      if (PAGE_NAME.test(name)) {
        ctx.state.route = '/{page}';
        file = await content().load(`pages/${name}.html`, true);
        if (file) ctx.set('Cache-Control', 'no-cache');
      }
    }
    if (!file) {
      await next();
      return;
    }
    send(ctx, file, 200);
  };
}

/** The site's own 404 page for browsers. */
function notFoundPage(content: () => Content): Middleware {
  return async (ctx, next) => {
    await next();
    if (
      ctx.status !== 404 ||
      (ctx.body !== undefined && ctx.body !== null) ||
      ctx.method !== 'GET' ||
      !ctx.accepts('html')
    )
      return;
    const page = await content().load('pages/404.html', true);
    if (page) send(ctx, page, 404);
  };
}
