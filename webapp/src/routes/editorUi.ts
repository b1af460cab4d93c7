/**
 * The editor's page and assets under /editor/, from the folder `npm run build` writes
 * (`dist/ui`, see scripts/buildEditorUi.mjs): found through its manifest, served gzip-encoded
 * when the client accepts it (compressed once at build time), the page with `no-cache` and
 * the content-hashed assets as immutable. Every response carries the editor's
 * Content-Security-Policy. Without a build, /editor/ answers 503 with a page saying so.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Context, Middleware } from 'koa';

/**
 * Scripts only from this origin, never inline; Monaco's workers are same-origin module
 * workers (no blob: URLs). Monaco writes its theme into <style> elements at run time and
 * positions everything with style attributes, hence 'unsafe-inline' for styles only.
 * Trusted Types make any HTML-from-string sink throw, except through the named policies:
 * Monaco's own (each renders text it has escaped) and the editor's worker policy.
 */
export const EDITOR_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types reflexWorkers defaultWorkerFactory diffEditorWidget diffReview domLineBreaksComputer editorGhostText editorViewLayer richScreenReaderContent standaloneColorizer stickyScrollViewLayer tokenizeToString dompurify',
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

export interface UiManifest {
  version: 1;
  builtAt: string;
  assetUrl: string;
  page: { file: string; bytes: number; gzipBytes: number };
  entries: Record<'app' | 'appCss' | 'editorWorker' | 'jsonWorker' | 'licenses', string>;
  assets: Record<string, { type: string; bytes: number; gzipBytes?: number }>;
}

interface Body {
  raw: Buffer;
  gzip: Buffer | undefined;
  etag: string;
}

interface Built {
  manifest: UiManifest;
  page: Body;
  assets: Map<string, Promise<Body>>;
}

export interface EditorUiOptions {
  /** The built UI folder (holds manifest.json). */
  dir: string;
}

export function editorUi({ dir }: EditorUiOptions): Middleware {
  let built: Promise<Built | undefined> | undefined;
  // A missing build is looked for again on the next request (someone may be building now).
  const load = async () => {
    built ??= loadBuilt(dir);
    const result = await built;
    if (!result) built = undefined;
    return result;
  };

  return async (ctx, next) => {
    if (ctx.path !== '/editor' && !ctx.path.startsWith('/editor/')) {
      await next();
      return;
    }
    ctx.set('Content-Security-Policy', EDITOR_CSP);
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.state.route = '/editor/{*path}';
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      ctx.body = { error: 'method not allowed' };
      return;
    }
    if (ctx.path === '/editor') {
      ctx.state.route = '/editor';
      ctx.status = 308;
      ctx.redirect('/editor/');
      return;
    }
    const ui = await load();
    if (!ui) {
      ctx.state.route = '/editor/{*path}';
      notBuilt(ctx);
      return;
    }
    if (ctx.path === '/editor/') {
      ctx.state.route = '/editor/';
      ctx.set('Cache-Control', 'no-cache');
      send(ctx, ui.page, 'text/html; charset=utf-8');
      return;
    }
    const name = ctx.path.startsWith('/editor/assets/')
      ? ctx.path.slice('/editor/assets/'.length)
      : undefined;
    const asset =
      name !== undefined && ASSET_NAME.test(name) && Object.hasOwn(ui.manifest.assets, name)
        ? ui.manifest.assets[name]
        : undefined;
    if (name === undefined || !asset) {
      ctx.state.route = '/editor/{*path}';
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'Not found';
      return;
    }
    ctx.state.route = '/editor/assets/{file}';
    let body = ui.assets.get(name);
    if (!body) {
      body = readBody(path.join(dir, 'assets', name), asset.gzipBytes !== undefined);
      ui.assets.set(name, body);
    }
    ctx.set('Cache-Control', IMMUTABLE);
    send(ctx, await body, asset.type);
  };
}

async function loadBuilt(dir: string): Promise<Built | undefined> {
  let manifest: UiManifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as UiManifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (manifest.version !== 1) throw new Error(`unknown editor UI manifest version in ${dir}`);
  const page = await readBody(path.join(dir, manifest.page.file), true);
  return { manifest, page, assets: new Map() };
}

async function readBody(file: string, compressed: boolean): Promise<Body> {
  const raw = await readFile(file);
  const gzip = compressed ? await readFile(file + '.gz') : undefined;
  const etag = `"${createHash('sha1').update(raw).digest('base64url')}"`;
  return { raw, gzip, etag };
}

function send(ctx: Context, body: Body, type: string): void {
  ctx.set('ETag', body.etag);
  ctx.vary('Accept-Encoding');
  if (ctx.get('If-None-Match') === body.etag) {
    ctx.status = 304;
    return;
  }
  ctx.type = type;
  if (body.gzip && ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
    ctx.set('Content-Encoding', 'gzip');
    ctx.body = body.gzip;
  } else {
    ctx.body = body.raw;
  }
}

function notBuilt(ctx: Context): void {
  ctx.status = 503;
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Reflex editor: not built</title></head>
<body>
<h1>The editor's interface has not been built</h1>
<p>This instance runs from source and finds no built editor assets. Run <code>npm run build</code>
in the repository (<code>npm start</code> builds first), then reload this page.</p>
</body>
</html>
`;
}
