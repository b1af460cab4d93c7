import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { Lifecycle } from '../http/lifecycle';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics/registry';
import type Koa from 'koa';
import { createSiteApp, SITE_CSP, type RegisterRoutes, type SiteAppOptions } from './app';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

function writeRelease(releases: string, sha: string, headline: string): string {
  const dir = path.join(releases, sha, 'webapp/site');
  mkdirSync(path.join(dir, 'pages'), { recursive: true });
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'pages/index.html'), `<h1>${headline}</h1><p>{{shortSha}}</p>`);
  writeFileSync(path.join(dir, 'pages/404.html'), '<h1>Not here</h1>');
  writeFileSync(path.join(dir, 'assets/site.css'), 'body{}');
  writeFileSync(path.join(dir, 'pages/claimed.html'), '<h1>the page</h1>');
  // Pages named like the site's own endpoints: never served in their place.
  writeFileSync(path.join(dir, 'pages/healthz.html'), '<h1>a page</h1>');
  writeFileSync(path.join(dir, 'pages/metrics.html'), '<h1>a page</h1>');
  writeFileSync(path.join(releases, sha, 'webapp/outside.txt'), 'not the site');
  return dir;
}

/** Routes of a stand-in site: the sha it is told per request. */
const routes: RegisterRoutes = (router, site) => {
  router.get('/which', (ctx) => {
    ctx.body = { sha: site.sha };
  });
  router.get('/healthz-claim', (ctx) => {
    ctx.body = 'site';
  });
  // Only HEAD: a GET of the same path reads the page (and keeps it in memory).
  router.head('/claimed', (ctx) => {
    ctx.set('X-Answered-By', 'the route');
    ctx.status = 204;
  });
};

/** What a response says, without what differs per request. */
function described(res: request.Response) {
  const { date: _date, 'x-request-id': _id, ...headers } = res.headers;
  return { status: res.status, headers, body: res.text };
}

describe('the site process', () => {
  let releases: string;
  let lifecycle: Lifecycle;
  const siteApp = (shared: boolean, options: Partial<SiteAppOptions> = {}) =>
    createSiteApp({
      release: { sha: A, builtAt: 'then' },
      contentDir: path.join(releases, A, 'webapp/site'),
      releases: shared ? releases : undefined,
      builtAt: () => Promise.resolve('later'),
      registerRoutes: routes,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      lifecycle,
      ...options,
    });
  const app = (shared: boolean) => siteApp(shared).callback();

  beforeAll(() => {
    releases = mkdtempSync(path.join(os.tmpdir(), 'reflex-site-'));
    writeRelease(releases, A, 'First');
    writeRelease(releases, B, 'Second');
    lifecycle = new Lifecycle();
    lifecycle.markReady();
  });
  afterAll(() => rmSync(releases, { recursive: true, force: true }));

  it('serves its pages and assets under its own Content-Security-Policy', async () => {
    const res = await request(app(false)).get('/');
    expect(res.status).toBe(200);
    expect(res.text).toBe(`<h1>First</h1><p>${A.slice(0, 12)}</p>`);
    expect(res.headers['content-security-policy']).toBe(SITE_CSP);
    expect(SITE_CSP).toContain("connect-src 'self'");
    expect(SITE_CSP).toContain("form-action 'self'");
    expect((await request(app(false)).get('/assets/site.css')).text).toBe('body{}');
    const missing = await request(app(false)).get('/nowhere').set('Accept', 'text/html');
    expect([missing.status, missing.text]).toEqual([404, '<h1>Not here</h1>']);
  });

  it('serves the content of the release the edge names, with that release in its routes', async () => {
    const res = await request(app(true)).get('/').set('X-Reflex-Release', B);
    expect(res.text).toBe(`<h1>Second</h1><p>${B.slice(0, 12)}</p>`);
    const which = await request(app(true)).get('/which').set('X-Reflex-Release', B);
    expect(which.body).toEqual({ sha: B });
    expect((await request(app(true)).get('/which')).body).toEqual({ sha: A });
  });

  it('on a host (no shared release folders), ignores a named release', async () => {
    const res = await request(app(false)).get('/').set('X-Reflex-Release', B);
    expect(res.text).toContain('First');
    expect((await request(app(false)).get('/which').set('X-Reflex-Release', B)).body).toEqual({
      sha: A,
    });
  });

  it('is healthy for a release only when that release has content', async () => {
    expect((await request(app(true)).get('/healthz').set('X-Reflex-Release', B)).status).toBe(200);
    const gone = await request(app(true)).get('/healthz').set('X-Reflex-Release', 'c'.repeat(40));
    expect(gone.status).toBe(503);
    expect(gone.body).toMatchObject({ status: 'no content' });
  });

  describe('pages and assets in memory', () => {
    it('are answered again with the same headers and body, and 304 for their ETag', async () => {
      const site = app(false);
      for (const url of ['/', '/assets/site.css']) {
        const first = await request(site).get(url);
        const again = await request(site).get(url);
        expect(described(again)).toEqual(described(first));
        expect(again.headers['content-security-policy']).toBe(SITE_CSP);
        expect(again.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
        const unchanged = await request(site).get(url).set('If-None-Match', first.headers.etag!);
        expect([unchanged.status, unchanged.text]).toEqual([304, '']);
      }
    });

    it('are answered before Koa, with the same HEAD, query and request id handling', async () => {
      const site = siteApp(false);
      let reachedKoa = 0;
      site.middleware.unshift(async (_ctx: Koa.Context, next: Koa.Next) => {
        reachedKoa++;
        await next();
      });
      const handler = site.callback();
      const first = await request(handler).head('/assets/site.css');
      expect(reachedKoa).toBe(1);
      const again = await request(handler).head('/assets/site.css');
      expect(reachedKoa).toBe(1);
      expect(described(again)).toEqual(described(first));
      expect(again.headers['content-length']).toBe('6');
      const query = await request(handler).get('/assets/site.css?v=2');
      expect([query.status, query.text, reachedKoa]).toEqual([200, 'body{}', 1]);
      const id = await request(handler)
        .get('/assets/site.css')
        .set('X-Request-Id', 'edge-1234abcd');
      expect(id.headers['x-request-id']).toBe('edge-1234abcd');
      const forged = await request(handler).get('/assets/site.css').set('X-Request-Id', 'a b');
      expect(forged.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      // Anything but GET and HEAD goes to Koa.
      await request(handler).post('/assets/site.css');
      expect(reachedKoa).toBe(2);
    });

    it('are counted and logged as Koa counts and logs them', async () => {
      const lines: Record<string, unknown>[] = [];
      const metrics = createMetrics();
      const handler = siteApp(false, {
        logger: createLogger('info', {
          write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
        }),
        metrics,
      }).callback();
      const first = await request(handler).get('/');
      const again = await request(handler).get('/');
      await request(handler).get('/').set('If-None-Match', first.headers.etag!);
      await new Promise((resolve) => setImmediate(resolve));
      const logged = lines.filter((line) => line.msg === 'request');
      expect(logged).toHaveLength(3);
      const shape = ({ time: _t, ms, reqId, ...rest }: Record<string, unknown>) => ({
        ...rest,
        ms: typeof ms,
        reqId: typeof reqId,
      });
      expect(shape(logged[1]!)).toEqual(shape(logged[0]!));
      expect(logged.map((line) => line.reqId)).toEqual([
        first.headers['x-request-id'],
        again.headers['x-request-id'],
        expect.any(String),
      ]);
      expect(logged.map((line) => [line.route, line.status])).toEqual([
        ['/{page}', 200],
        ['/{page}', 200],
        ['/{page}', 304],
      ]);
      const text = await metrics.registry.metrics();
      expect(text).toContain(
        'http_requests_total{method="GET",route="/{page}",status_code="200"} 2',
      );
      expect(text).toContain(
        'http_requests_total{method="GET",route="/{page}",status_code="304"} 1',
      );
      expect(text).toContain(
        'http_request_duration_seconds_count{method="GET",route="/{page}",status_code="200"} 2',
      );
      expect(text).toMatch(/^http_requests_in_flight 0$/m);
    });

    it("never stand in for the site's own endpoints, whatever pages exist", async () => {
      const site = app(false);
      for (let i = 0; i < 2; i++) {
        expect((await request(site).get('/healthz')).body).toEqual({ status: 'ready', sha: A });
        expect((await request(site).get('/metrics')).text).toMatch(/^http_requests_total/m);
      }
    });

    it('never stand in for a site route that claims the same path', async () => {
      const site = app(false);
      for (let i = 0; i < 2; i++) {
        expect((await request(site).get('/claimed')).text).toBe('<h1>the page</h1>');
        const head = await request(site).head('/claimed');
        expect([head.status, head.headers['x-answered-by']]).toEqual([204, 'the route']);
      }
    });

    it('are kept per release: the release the edge names gets its own page', async () => {
      const site = app(true);
      for (const sha of [A, B, B, A, B]) {
        const res = await request(site).get('/').set('X-Reflex-Release', sha);
        expect(res.text).toContain(sha === A ? 'First' : 'Second');
        expect(res.text).toContain(sha.slice(0, 12));
      }
    });

    it('never include a file outside the content folder', async () => {
      const site = app(true);
      await request(site).get('/assets/site.css');
      for (const url of [
        '/assets/..%2foutside.txt',
        '/assets/%2e%2e/outside.txt',
        '/assets/..%2f..%2fwebapp%2foutside.txt',
        '/assets/site.css%2f..%2f..%2foutside.txt',
      ]) {
        for (let i = 0; i < 2; i++) {
          const res = await request(site).get(url).set('Accept', 'text/html');
          expect(res.status).toBe(404);
          expect(res.text).not.toContain('not the site');
        }
      }
    });
  });

  it('answers /healthz and /metrics itself (for its own port), before any site route', async () => {
    const site = app(false);
    expect((await request(site).get('/healthz')).body).toEqual({ status: 'ready', sha: A });
    const metrics = await request(site).get('/metrics');
    expect(metrics.text).toMatch(/^http_requests_total/m);
  });
});
