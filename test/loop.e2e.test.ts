/**
 * The whole local loop, end to end, with real processes and real git on loopback: edit through
 * the API → push to the local origin → gate → build → start → health → blue/green switch.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { registerScraper, unregisterScraper } from '../webapp/src/loop/scraper';
import { editorClient, editorHost, git, request, startLoop, type Loop } from './support/loop';

type ScrapeList = { targets: string[]; labels: { sha: string; component: string } }[];

const PAGE = 'webapp/site/pages/index.html';
const ROUTES = 'webapp/site/routes.ts';

function page(text: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Reflex</title></head>\n<body><h1 id="headline">${text}</h1><footer>{{shortSha}}</footer></body></html>\n`;
}

function routes(extra = ''): string {
  return `import type Router from '@koa/router';

export interface SiteContext {
  sha: string;
}

export function greeting(name: string): string {
  const trimmed = name.trim().slice(0, 60);
  return \`Hello, \${trimmed || 'world'}!\`;
}
${extra}
export function registerSiteRoutes(router: Router, site: SiteContext): void {
  router.get('/hello', (ctx) => {
    const name = typeof ctx.query.name === 'string' ? ctx.query.name : '';
    ctx.body = { greeting: greeting(name), sha: site.sha };
  });
  router.get('/slow', async (ctx) => {
    const ms = Math.min(Number(ctx.query.ms) || 0, 10_000);
    await new Promise((resolve) => setTimeout(resolve, ms));
    ctx.body = { slept: ms, sha: site.sha };
  });
}
`;
}

async function version(loop: Loop): Promise<string> {
  return (JSON.parse((await request(loop.url, 'GET', '/version')).body) as { sha: string }).sha;
}

describe('the local loop (npm start)', () => {
  let loop: Loop;
  let client: Awaited<ReturnType<typeof editorClient>>;

  beforeAll(async () => {
    loop = await startLoop();
    await loop.supervisor.whenLive();
    client = await editorClient(loop.url);
  }, 300_000);

  afterAll(async () => {
    await loop?.close();
  }, 60_000);

  it('serves the first release, built from the branch head, and hides /metrics', async () => {
    const head = git(loop.home + '/origin.git', ['rev-parse', 'refs/heads/main']);
    expect(await version(loop)).toBe(head);
    const home = await request(loop.url, 'GET', '/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('Hello from Reflex');
    expect((await request(loop.url, 'GET', '/metrics')).status).toBe(404);
    expect(loop.lines.some((l) => l.startsWith('Reflex is live at http://localhost:'))).toBe(true);
  });

  it('a page saved through the API goes live: the edge serves it and /version reports the new sha', async () => {
    const commit = await client.save(PAGE, page('Edited through the loop'));
    await loop.waitForVersion(commit);
    expect((await request(loop.url, 'GET', '/')).body).toContain('Edited through the loop');
    const stages = loop.events
      .filter((e) => e.sha === commit && e.status === 'succeeded')
      .map((e) => e.stage);
    expect(stages).toEqual(['committed', 'checkout', 'gate', 'build', 'start', 'healthy', 'live']);
    const releases = JSON.parse(
      (
        await request(loop.url, 'GET', '/api/releases', {
          cookie: client.cookie,
          host: editorHost(loop.url),
        })
      ).body,
    );
    expect(releases.releases[0]).toMatchObject({
      sha: commit,
      outcome: 'live',
      live: true,
      author: 'Administrator <admin@users.reflex.invalid>',
    });
  }, 120_000);

  it('a type error fails the gate with the compiler output, and the old release keeps serving', async () => {
    const live = await version(loop);
    const commit = await client.save(
      ROUTES,
      routes().replace(
        'ctx.body = { greeting: greeting(name), sha: site.sha };',
        'const count: number = name;\n    ctx.body = { count };',
      ),
    );
    const failed = await loop.waitForEvent((e) => e.sha === commit && e.status === 'failed');
    expect(failed.stage).toBe('gate');
    expect(failed.log).toMatch(/error TS2322/);
    expect(await version(loop)).toBe(live);
    expect((await request(loop.url, 'GET', '/')).body).toContain('Edited through the loop');
  }, 120_000);

  it('a content-only release still passes the gate: a page that breaks a site test stays out', async () => {
    // The type error above is still on main: fix it first, so that only the page is wrong.
    const live = await client.save(ROUTES, routes());
    await loop.waitForVersion(live);
    const untitled = page('No title here').replace('<title>Reflex</title>', '');
    const commit = await client.save(PAGE, untitled);
    const failed = await loop.waitForEvent((e) => e.sha === commit && e.status === 'failed');
    expect(failed.stage).toBe('gate');
    expect(failed.log).toContain('index.html has a title');
    expect(await version(loop)).toBe(live);
    expect((await request(loop.url, 'GET', '/')).body).toContain('Edited through the loop');
    await loop.waitForVersion(await client.save(PAGE, page('Edited through the loop')));
  }, 180_000);

  it('a release that exits at start fails the health gate, and the old release keeps serving', async () => {
    const live = await version(loop);
    const commit = await client.save(
      ROUTES,
      routes('\nif (process.env.REFLEX_SHA) process.exit(3);\n'),
    );
    const failed = await loop.waitForEvent((e) => e.sha === commit && e.status === 'failed');
    expect(['start', 'healthy']).toContain(failed.stage);
    expect(failed.log).toMatch(/exited/);
    expect(await version(loop)).toBe(live);
  }, 120_000);

  it('a release that dies after the switch is replaced by the previous one', async () => {
    const previous = await version(loop);
    const commit = await client.save(
      ROUTES,
      routes('\nif (process.env.REFLEX_SHA) setTimeout(() => process.exit(4), 4000);\n'),
    );
    await loop.waitForEvent(
      (e) => e.sha === commit && e.stage === 'live' && e.status === 'succeeded',
    );
    const died = await loop.waitForEvent(
      (e) => e.sha === commit && e.stage === 'live' && e.status === 'failed',
      60_000,
    );
    expect(died.log).toMatch(/exited \(4\) after the switch/);
    await loop.waitForEvent(
      (e) => e.sha === previous && e.stage === 'live' && e.status === 'succeeded' && e.at > died.at,
    );
    await loop.waitForVersion(previous);
    const releases = JSON.parse(
      (
        await request(loop.url, 'GET', '/api/releases', {
          cookie: client.cookie,
          host: editorHost(loop.url),
        })
      ).body,
    ).releases;
    expect(releases.find((r: { sha: string }) => r.sha === previous)).toMatchObject({
      outcome: 'restored',
      live: true,
    });
    expect(releases.find((r: { sha: string }) => r.sha === commit)).toMatchObject({
      outcome: 'failed',
      live: false,
    });
  }, 120_000);

  it('rollback through the API commits the old tree on main and serves the old content', async () => {
    const fixed = await client.save(ROUTES, routes());
    await loop.waitForVersion(fixed);
    const target = fixed;
    const changed = await client.save(PAGE, page('A change to roll back'));
    await loop.waitForVersion(changed);
    expect((await request(loop.url, 'GET', '/')).body).toContain('A change to roll back');

    const res = await request(loop.url, 'POST', `/api/releases/${target}/rollback`, {
      cookie: client.cookie,
      host: editorHost(loop.url),
    });
    expect(res.status).toBe(200);
    const revert = (JSON.parse(res.body) as { commit: string }).commit;
    const origin = path.join(loop.home, 'origin.git');
    expect(git(origin, ['rev-parse', 'refs/heads/main'])).toBe(revert);
    expect(git(origin, ['rev-parse', `${revert}^{tree}`])).toBe(
      git(origin, ['rev-parse', `${target}^{tree}`]),
    );
    expect(git(origin, ['log', '-1', '--format=%s', revert])).toBe(
      `Roll back to ${target.slice(0, 12)}`,
    );
    await loop.waitForVersion(revert);
    expect((await request(loop.url, 'GET', '/')).body).toContain('Edited through the loop');
  }, 180_000);

  it('five pushes in quick succession start at most two pipeline runs, and the last one is served', async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'reflex-pusher-'));
    try {
      const origin = path.join(loop.home, 'origin.git');
      git(work, ['clone', '--quiet', origin, '.']);
      const pushed: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const file = path.join(work, PAGE);
        const html = readFileSync(file, 'utf8').replace(
          /<h1 id="headline">[^<]*<\/h1>/,
          `<h1 id="headline">Push ${i}</h1>`,
        );
        writeFileSync(file, html);
        git(work, ['commit', '--quiet', '-am', `Push ${i}`]);
        git(work, ['push', '--quiet', 'origin', 'HEAD:main']);
        pushed.push(git(work, ['rev-parse', 'HEAD']));
      }
      const last = pushed.at(-1)!;
      await loop.waitForVersion(last);
      const runs = new Set(
        loop.events
          .filter((e) => pushed.includes(e.sha) && e.stage === 'checkout' && e.status === 'started')
          .map((e) => e.sha),
      );
      expect(runs.size).toBeLessThanOrEqual(2);
      expect(runs.has(last)).toBe(true);
      expect((await request(loop.url, 'GET', '/')).body).toContain('Push 5');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);

  it('zero downtime: ten redeploys under load answer every request, and a 2-second request in flight across a switch completes', async () => {
    // 300 req/s offered, leaving the pipeline CPU on a two-core machine.
    let finish!: (result: autocannon.Result) => void;
    const finished = new Promise<autocannon.Result>((resolve) => (finish = resolve));
    const load = autocannon(
      { url: `${loop.url}/`, connections: 4, overallRate: 300, duration: 600 },
      (err, result) => {
        if (err) throw err;
        finish(result);
      },
    );
    const slowResults: number[] = [];
    try {
      for (let i = 1; i <= 10; i++) {
        const commit = await client.save(PAGE, page(`Deploy ${i} under load`));
        if (i === 5) {
          await loop.waitForEvent(
            (e) => e.sha === commit && e.stage === 'healthy' && e.status === 'succeeded',
          );
          const slow = request(loop.url, 'GET', '/slow?ms=2000');
          await loop.waitForVersion(commit);
          const reply = await slow;
          slowResults.push(reply.status);
          expect(JSON.parse(reply.body).slept).toBe(2000);
        }
        await loop.waitForVersion(commit);
      }
    } finally {
      load.stop();
    }
    const result = await finished;
    expect(slowResults).toEqual([200]);
    expect(result.non2xx).toBe(0);
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    // Requests kept coming across every switch (the rate itself is a benchmark: bench/edge.ts).
    expect(result.requests.total).toBeGreaterThan(500);
    expect((await request(loop.url, 'GET', '/')).body).toContain('Deploy 10 under load');
  }, 600_000);

  it('while a scraper is registered, a retired process stays up and listed for one more scrape, then stops', async () => {
    const sd = path.join(loop.home, 'prometheus');
    const listed = () =>
      (JSON.parse(readFileSync(path.join(sd, 'app.json'), 'utf8')) as ScrapeList).map(
        ({ targets, labels }) => ({ address: targets[0]!, ...labels }),
      );
    const site = () => listed().find((t) => t.component === 'site')!;
    const before = site();
    // A Prometheus scraping every 2 s: a retired process stays up 3 s (finalScrapeMs).
    registerScraper(sd, { intervalSeconds: 2, pid: process.pid });
    try {
      // Site code changed: a new site process; the platform's code did not, it keeps serving.
      const commit = await client.save(ROUTES, routes('\n// retire the site process\n'));
      await loop.waitForVersion(commit);
      const retiredAt = Date.now();
      expect(listed().map((t) => t.component)).toEqual(['platform', 'site', 'site']);
      expect(listed()[2]).toEqual(before);
      expect(site().sha).toBe(commit);
      // Still running (its counters readable), though the edge no longer sends it traffic.
      const retired = await request(`http://${before.address}`, 'GET', '/metrics');
      expect(retired.status).toBe(200);
      expect(retired.body).toMatch(/^http_requests_total\{/m);

      while (listed().length > 2 && Date.now() - retiredAt < 15_000)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(listed().map((t) => t.component)).toEqual(['platform', 'site']);
      expect(Date.now() - retiredAt).toBeGreaterThanOrEqual(2_500);
      await expect(request(`http://${before.address}`, 'GET', '/healthz')).rejects.toThrow(
        /ECONNREFUSED|ECONNRESET|socket hang up/,
      );
    } finally {
      unregisterScraper(sd);
    }
  }, 120_000);

  it('processes waiting for their final scrape keep their release folders, however many deploys pass meanwhile', async () => {
    const sd = path.join(loop.home, 'prometheus');
    // Scraped every ten minutes: every process retired below waits 15 min, longer than this test.
    registerScraper(sd, { intervalSeconds: 600, pid: process.pid });
    try {
      const deployed: string[] = [];
      for (let i = 1; i <= 7; i++) {
        const commit = await client.save(ROUTES, routes(`\n// site deploy ${i}\n`));
        await loop.waitForVersion(commit);
        deployed.push(commit);
      }
      const running = (
        JSON.parse(readFileSync(path.join(sd, 'app.json'), 'utf8')) as ScrapeList
      ).map(({ targets, labels }) => ({ address: targets[0]!, ...labels }));
      const sites = running.filter((t) => t.component === 'site');
      // The live site, then the seven retired since, oldest first — more than keepReleases (5).
      expect(sites).toHaveLength(8);
      expect(sites[0]!.sha).toBe(deployed[6]);
      expect(sites.slice(2).map((t) => t.sha)).toEqual(deployed.slice(0, 6));
      for (const { address, sha } of running) {
        expect(existsSync(path.join(loop.home, 'releases', sha, 'webapp/dist/site.js'))).toBe(true);
        expect((await request(`http://${address}`, 'GET', '/healthz')).status).toBe(200);
      }
    } finally {
      unregisterScraper(sd);
    }
  }, 300_000);
});
