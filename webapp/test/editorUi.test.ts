import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { EDITOR_CSP, editorUi } from '../src/routes/editorUi';
import { buildTestApp } from './support/app';

const PAGE =
  '<!doctype html><title>editor</title><script type="module" src="/editor/assets/app-AAAA.js"></script>';
const APP_JS = 'console.log("editor");'.repeat(50);

/** A folder laid out like `npm run build`'s dist/ui, small enough to read in a test. */
function writeBuild(dir: string): void {
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), PAGE);
  writeFileSync(path.join(dir, 'index.html.gz'), gzipSync(PAGE));
  writeFileSync(path.join(dir, 'assets/app-AAAA.js'), APP_JS);
  writeFileSync(path.join(dir, 'assets/app-AAAA.js.gz'), gzipSync(APP_JS));
  writeFileSync(path.join(dir, 'assets/font-BBBB.woff2'), Buffer.from([0, 1, 2, 3]));
  writeFileSync(path.join(dir, 'assets/stray.js'), 'not in the manifest');
  writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({
      version: 1,
      builtAt: '2026-01-01T00:00:00.000Z',
      assetUrl: '/editor/assets/',
      page: { file: 'index.html', bytes: PAGE.length, gzipBytes: 0 },
      entries: {},
      assets: {
        'app-AAAA.js': {
          type: 'text/javascript; charset=utf-8',
          bytes: APP_JS.length,
          gzipBytes: 1,
        },
        'font-BBBB.woff2': { type: 'font/woff2', bytes: 4 },
      },
    }),
  );
}

/** GET over a real socket, body as sent (supertest would decompress it). */
async function rawGet(
  handler: ReturnType<ReturnType<typeof buildTestApp>['app']['callback']>,
  url: string,
  acceptEncoding: string,
): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  const server = http.createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port, path: url, headers: { 'Accept-Encoding': acceptEncoding } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          },
        )
        .on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('editor UI routes', () => {
  let dir: string;
  let app: ReturnType<typeof buildTestApp>['app'];
  let deps: ReturnType<typeof buildTestApp>['deps'];
  beforeEach(() => {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'reflex-ui-test-')), 'ui');
    ({ app, deps } = buildTestApp({ editorUi: editorUi({ dir }) }));
  });
  afterEach(() => {
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('without a build, /editor/ answers 503 with a page that says how to build', async () => {
    const res = await request(app.callback()).get('/editor/');
    expect(res.status).toBe(503);
    expect(res.type).toBe('text/html');
    expect(res.text).toContain('npm run build');
    expect(res.headers['content-security-policy']).toBe(EDITOR_CSP);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('finds a build made after start, without a restart', async () => {
    expect((await request(app.callback()).get('/editor/')).status).toBe(503);
    writeBuild(dir);
    expect((await request(app.callback()).get('/editor/')).status).toBe(200);
  });

  it('/editor redirects to /editor/', async () => {
    const res = await request(app.callback()).get('/editor');
    expect(res.status).toBe(308);
    expect(res.headers.location).toBe('/editor/');
  });

  it('serves the page with no-cache, an ETag, the CSP, and refuses framing', async () => {
    writeBuild(dir);
    const res = await request(app.callback()).get('/editor/').set('Accept-Encoding', 'identity');
    expect(res.status).toBe(200);
    expect(res.text).toBe(PAGE);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-frame-options']).toBe('DENY');
    const csp = res.headers['content-security-policy'];
    expect(csp).toBe(EDITOR_CSP);
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).not.toContain('blob:');
    const again = await request(app.callback())
      .get('/editor/')
      .set('If-None-Match', res.headers.etag!);
    expect(again.status).toBe(304);
  });

  it('serves gzip to clients that accept it, and the plain bytes to others', async () => {
    writeBuild(dir);
    const gz = await rawGet(app.callback(), '/editor/assets/app-AAAA.js', 'gzip, deflate, br');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toContain('Accept-Encoding');
    expect(gunzipSync(gz.body).toString()).toBe(APP_JS);
    expect(Number(gz.headers['content-length'])).toBeLessThan(APP_JS.length);

    const plain = await request(app.callback())
      .get('/editor/assets/app-AAAA.js')
      .set('Accept-Encoding', 'identity');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toBe(APP_JS);
  });

  it('hashed assets are immutable for a year, with their content type', async () => {
    writeBuild(dir);
    const res = await request(app.callback()).get('/editor/assets/font-BBBB.woff2');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-type']).toBe('font/woff2');
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it.each([
    '/editor/assets/stray.js',
    '/editor/assets/missing-CCCC.js',
    '/editor/assets/..%2Fmanifest.json',
    '/editor/assets/%2e%2e/manifest.json',
    '/editor/manifest.json',
    '/editor/index.html',
    '/editor/assets/',
  ])('404 for %s (only assets named by the manifest are served)', async (url) => {
    writeBuild(dir);
    const res = await request(app.callback()).get(url);
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('"version"');
  });

  it('refuses other methods with 405', async () => {
    writeBuild(dir);
    const res = await request(app.callback()).post('/editor/').send({});
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });

  it('labels metrics by route template, never by asset name', async () => {
    writeBuild(dir);
    await request(app.callback()).get('/editor/assets/app-AAAA.js');
    await request(app.callback()).get('/editor/');
    const text = await deps.metrics.registry.metrics();
    expect(text).toContain('route="/editor/assets/{file}"');
    expect(text).toContain('route="/editor/"');
    expect(text).not.toContain('app-AAAA');
  });

  it('leaves every other path to the rest of the app', async () => {
    writeBuild(dir);
    const res = await request(app.callback()).get('/editorial');
    expect(res.status).toBe(404);
    expect(res.headers['content-security-policy']).toBeUndefined();
  });
});
