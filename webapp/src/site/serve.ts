/**
 * Serves the site (`webapp/site/`): its dynamic routes (`site/routes.ts`), its pages
 * (`pages/<name>.html` at `/<name>`, `index.html` at `/`) and its assets (`/assets/...`).
 * The release folder an instance runs from never changes, so files are read once and kept.
 * Files are served only from inside the site folder: symlinks that lead out are refused.
 */
import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { BuildInfo } from '../buildInfo';
import { registerSiteRoutes } from '../../site/routes';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
const PAGE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const MAX_FILE = 5 * 1024 * 1024;

interface Loaded {
  body: Buffer;
  etag: string;
  type: string;
}

export interface SiteOptions {
  /** The site folder (`webapp/site`). */
  dir: string;
  buildInfo: BuildInfo;
}

/** The site's middleware, in the order to `app.use` them. */
export function siteMiddleware({ dir, buildInfo }: SiteOptions): Middleware[] {
  const router = new Router();
  registerSiteRoutes(router, { sha: buildInfo.sha });
  const cache = new Map<string, Promise<Loaded | undefined>>();
  let root: Promise<string> | undefined;

  const load = (relative: string, template: boolean) => {
    let entry = cache.get(relative);
    if (!entry) {
      root ??= realpath(dir);
      entry = root.then((r) => loadInside(r, relative, template ? buildInfo : undefined));
      cache.set(relative, entry);
    }
    return entry;
  };

  const files: Middleware = async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      await next();
      return;
    }
    let file: Loaded | undefined;
    if (ctx.path.startsWith('/assets/')) {
      ctx.state.route = '/assets/{*path}';
      const relative = safeRelative(ctx.path.slice('/assets/'.length));
      file = relative ? await load(`assets/${relative}`, false) : undefined;
      if (file) ctx.set('Cache-Control', 'public, max-age=300');
    } else {
      const name = ctx.path === '/' ? 'index' : ctx.path.slice(1);
      if (PAGE_NAME.test(name)) {
        ctx.state.route = '/{page}';
        file = await load(`pages/${name}.html`, true);
        if (file) ctx.set('Cache-Control', 'no-cache');
      }
    }
    if (!file) {
      await next();
      return;
    }
    send(ctx, file, 200);
  };

  const notFoundPage: Middleware = async (ctx, next) => {
    await next();
    if (
      ctx.status !== 404 ||
      (ctx.body !== undefined && ctx.body !== null) ||
      ctx.method !== 'GET' ||
      !ctx.accepts('html')
    )
      return;
    if (ctx.path.startsWith('/api/')) return;
    const page = await load('pages/404.html', true);
    if (page) send(ctx, page, 404);
  };

  return [notFoundPage, router.routes() as Middleware, files];
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

/** Decodes an asset path and refuses anything that is not a plain relative path. */
function safeRelative(raw: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const segments = decoded.split('/');
  if (
    segments.some(
      (s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'),
    )
  )
    return undefined;
  return segments.join('/');
}

async function loadInside(
  root: string,
  relative: string,
  templateValues: BuildInfo | undefined,
): Promise<Loaded | undefined> {
  let real: string;
  try {
    real = await realpath(path.join(root, relative));
  } catch {
    return undefined;
  }
  if (!real.startsWith(root + path.sep)) return undefined;
  let body = await readFile(real);
  if (body.length > MAX_FILE) return undefined;
  if (templateValues) {
    body = Buffer.from(
      body
        .toString('utf8')
        .replaceAll('{{sha}}', templateValues.sha)
        .replaceAll('{{shortSha}}', templateValues.sha.slice(0, 12))
        .replaceAll('{{builtAt}}', templateValues.builtAt),
    );
  }
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  return {
    body,
    etag,
    type: TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream',
  };
}
