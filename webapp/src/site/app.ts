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
import type http from 'node:http';
import path from 'node:path';
import Router from '@koa/router';
import Koa, { type Context, type Middleware } from 'koa';
import { errorHandler } from '../http/errorHandler';
import type { Lifecycle } from '../http/lifecycle';
import { observe, recordFinished, REQUEST_ID_HEADER, requestIdFor } from '../http/observe';
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

/** Headers of every site response. */
const SITE_HEADERS = {
  'Content-Security-Policy': SITE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
} as const;
const SITE_HEADER_ENTRIES = Object.entries(SITE_HEADERS);

export function createSiteApp(o: SiteAppOptions): Koa {
  const cache = new FileCache(o.cacheBytes ?? 32 * 1024 * 1024);
  const own = new Content(o.contentDir, o.release, cache);
  const current = new AsyncLocalStorage<Content>();
  const generations = new Map<string, Promise<Content>>([[o.release.sha, Promise.resolve(own)]]);
  /** The same releases, once their content is known: read without waiting. */
  const known = new Map<string, Content>([[o.release.sha, own]]);

  /** The release `X-Reflex-Release` names, when this process may serve one other than its own. */
  const named = (header: string | undefined): string | undefined =>
    o.releases && header !== undefined && SHA.test(header) ? header : undefined;

  /** The content of the release a request names, when this process may serve it. */
  const contentFor = (ctx: Context): Promise<Content> => {
    const sha = named(ctx.get('X-Reflex-Release'));
    if (!sha) return Promise.resolve(own);
    let found = generations.get(sha);
    if (!found) {
      const loading = o.builtAt(sha).then((builtAt) => {
        const content = new Content(
          path.join(o.releases!, sha, 'webapp/site'),
          { sha, builtAt },
          cache,
        );
        if (generations.get(sha) === loading) known.set(sha, content);
        return content;
      });
      found = loading;
      generations.set(sha, found);
      // A handful of releases is ever live at once; forget the oldest others.
      for (const old of generations.keys()) {
        if (generations.size <= MAX_GENERATIONS) break;
        if (old !== o.release.sha) {
          generations.delete(old);
          known.delete(old);
        }
      }
    }
    return found;
  };
  /** The content a request names when it is already known (no wait), else undefined. */
  const contentNow = (header: string | undefined): Content | undefined => {
    const sha = named(header);
    return sha ? known.get(sha) : own;
  };

  const site: SiteContext = {
    get sha() {
      return current.getStore()?.release.sha ?? o.release.sha;
    },
  };
  const router = new Router();
  o.registerRoutes(router, site);

  const app = new SiteApp(
    answerFromMemory({ router, content: contentNow, logger: o.logger, metrics: o.metrics }),
  );
  app.silent = true;
  app.use(observe(o.logger, o.metrics));
  app.use(errorHandler(o.logger));
  app.use(ownEndpoints(o, contentFor));
  app.use(async (ctx, next) => {
    ctx.set(SITE_HEADERS);
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

/** The file a path names: a page at `/<name>` (`/` is `index`) or an asset under `/assets/`. */
interface FileTarget {
  relative: string;
  template: boolean;
  route: string;
  cacheControl: string;
}

function fileFor(urlPath: string): FileTarget | undefined {
  if (urlPath.startsWith('/assets/')) {
    const relative = safeRelative(urlPath.slice('/assets/'.length));
    return relative
      ? {
          relative: `assets/${relative}`,
          template: false,
          route: '/assets/{*path}',
          cacheControl: 'public, max-age=300',
        }
      : undefined;
  }
  const name = urlPath === '/' ? 'index' : urlPath.slice(1);
  return PAGE_NAME.test(name)
    ? { relative: `pages/${name}.html`, template: true, route: '/{page}', cacheControl: 'no-cache' }
    : undefined;
}

/**
 * The site's Koa app, whose handler first tries `fromMemory` (answerFromMemory): a page or
 * asset already in memory is answered straight from Node's request handler, without Koa's
 * context and middleware chain: about 30 % less of the site's CPU per such request
 * (docs/BENCHMARKS.md, edge-page). Everything else, and any request it declines, goes to Koa.
 */
class SiteApp extends Koa {
  constructor(
    private readonly fromMemory: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
  ) {
    super();
  }

  override callback(): ReturnType<Koa['callback']> {
    const handle = super.callback();
    // Served by `http.createServer` (http/serve.ts): never an HTTP/2 request.
    return (req, res) =>
      this.fromMemory(req as http.IncomingMessage, res as http.ServerResponse)
        ? Promise.resolve()
        : handle(req, res);
  }
}

/** Paths the fast path takes: plain ones (anything else, Koa parses). */
const PLAIN_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

/**
 * A page or asset already in memory, for a release already known, answered before Koa: the same
 * status, headers, body, metrics and access-log line as the `files` middleware's answer
 * (app.test.ts holds the two to the same output). Most requests under load are this. Declines
 * (false), leaving the request to Koa (which fills the cache for the next one), unless the
 * request is a GET or HEAD of a page or asset already in memory that no site route claims and
 * that is not one of the site's own endpoints.
 */
function answerFromMemory(o: {
  router: Router;
  content: (release: string | undefined) => Content | undefined;
  logger: Logger;
  metrics: Metrics;
}): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  return (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const urlPath = query < 0 ? url : url.slice(0, query);
    if (!PLAIN_PATH.test(urlPath) || urlPath === '/healthz' || urlPath === '/metrics') return false;
    const target = fileFor(urlPath);
    const release = req.headers['x-reflex-release'];
    const file =
      target &&
      o.content(typeof release === 'string' ? release : undefined)?.cached(target.relative);
    if (!target || !file || o.router.match(urlPath, method).route) return false;

    const started = process.hrtime.bigint();
    const incoming = req.headers[REQUEST_ID_HEADER.toLowerCase()];
    const requestId = requestIdFor(typeof incoming === 'string' ? incoming : undefined);
    o.metrics.httpRequestsInFlight.inc();
    const status = req.headers['if-none-match'] === file.etag ? 304 : 200;
    res.once('close', () =>
      recordFinished(
        o.logger,
        o.metrics,
        {
          method,
          path: urlPath,
          route: target.route,
          status,
          started,
          completed: res.writableFinished,
        },
        requestId,
      ),
    );
    res.statusCode = status;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    for (const [name, value] of SITE_HEADER_ENTRIES) res.setHeader(name, value);
    res.setHeader('Cache-Control', target.cacheControl);
    res.setHeader('ETag', file.etag);
    if (status === 304) {
      res.end();
      return true;
    }
    res.setHeader('Content-Type', file.type);
    res.setHeader('Content-Length', file.body.length);
    if (method === 'HEAD') res.end();
    else res.end(file.body);
    return true;
  };
}

/** Pages and assets read from the release's folder (fileFor). */
function files(content: () => Content): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      await next();
      return;
    }
    const target = fileFor(ctx.path);
    if (target) ctx.state.route = target.route;
    else if (ctx.path.startsWith('/assets/')) ctx.state.route = '/assets/{*path}';
    const file = target && (await content().load(target.relative, target.template));
    if (!target || !file) {
      await next();
      return;
    }
    ctx.set('Cache-Control', target.cacheControl);
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
