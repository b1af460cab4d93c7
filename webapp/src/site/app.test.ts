import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { Lifecycle } from '../http/lifecycle';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics/registry';
import { createSiteApp, SITE_CSP, type RegisterRoutes } from './app';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

function writeRelease(releases: string, sha: string, headline: string): string {
  const dir = path.join(releases, sha, 'webapp/site');
  mkdirSync(path.join(dir, 'pages'), { recursive: true });
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'pages/index.html'), `<h1>${headline}</h1><p>{{shortSha}}</p>`);
  writeFileSync(path.join(dir, 'pages/404.html'), '<h1>Not here</h1>');
  writeFileSync(path.join(dir, 'assets/site.css'), 'body{}');
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
};

describe('the site process', () => {
  let releases: string;
  let lifecycle: Lifecycle;
  const app = (shared: boolean) =>
    createSiteApp({
      release: { sha: A, builtAt: 'then' },
      contentDir: path.join(releases, A, 'webapp/site'),
      releases: shared ? releases : undefined,
      builtAt: () => Promise.resolve('later'),
      registerRoutes: routes,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      lifecycle,
    }).callback();

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

  it('answers /healthz and /metrics itself (for its own port), before any site route', async () => {
    const site = app(false);
    expect((await request(site).get('/healthz')).body).toEqual({ status: 'ready', sha: A });
    const metrics = await request(site).get('/metrics');
    expect(metrics.text).toMatch(/^http_requests_total/m);
  });
});
