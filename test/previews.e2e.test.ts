/**
 * Change requests' previews on the local loop: a push to `reflex/<user>/<name>` is gated,
 * built and served at `<name>.localhost` while the deploy branch keeps serving its own; a
 * preview gets no secret and none of production's settings; at most N run at once (the least
 * recently used sleeps, and wakes on a request); deleting the branch removes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git, request, startLoop, type Loop } from './support/loop';

const PAGE = 'webapp/site/pages/index.html';
const ROUTES = 'webapp/site/routes.ts';

/** The site's routes plus one that reports the process's environment. */
function routesWithEnv(original: string): string {
  return `${original}
export function registerEnvRoute(router: import('@koa/router').default): void {
  router.get('/env', (ctx) => {
    ctx.body = Object.keys(process.env).sort();
  });
}
`.replace("router.get('/hello'", "registerEnvRoute(router);\n  router.get('/hello'");
}

describe('previews of change requests (local loop)', () => {
  let loop: Loop;
  let work: string;

  beforeAll(async () => {
    loop = await startLoop({
      previews: { maxRunning: 1, idleMs: 60 * 60_000 },
      siteSettingsFrom: { REFLEX_SITE_ANALYTICS_ID: 'production-only' },
    });
    await loop.supervisor.whenLive();
    work = mkdtempSync(path.join(os.tmpdir(), 'reflex-preview-work-'));
    git(work, ['clone', '--quiet', path.join(loop.home, 'origin.git'), '.']);
  }, 300_000);

  afterAll(async () => {
    await loop?.close();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  const host = (name: string) => `${name}.localhost:${new URL(loop.url).port}`;
  const live = (name: string) =>
    loop.waitForEvent(
      (e) => e.preview === name && e.stage === 'live' && e.status === 'succeeded',
      180_000,
    );

  function pushBranch(branch: string, change: (file: string) => void): string {
    git(work, ['checkout', '--quiet', '-B', branch, 'origin/main']);
    change(work);
    git(work, ['commit', '--quiet', '-am', `Change for ${branch}`]);
    git(work, ['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`]);
    return git(work, ['rev-parse', 'HEAD']);
  }

  it('serves the change request at its own host while the deploy branch serves its own', async () => {
    const sha = pushBranch('reflex/ada/new-look', (dir) => {
      const file = path.join(dir, PAGE);
      writeFileSync(file, readFileSync(file, 'utf8').replace('Hello from Reflex', 'A new look'));
      const routes = path.join(dir, ROUTES);
      writeFileSync(routes, routesWithEnv(readFileSync(routes, 'utf8')));
    });
    await live('new-look');
    const preview = await request(loop.url, 'GET', '/', { host: host('new-look') });
    expect(preview.body).toContain('A new look');
    expect((await request(loop.url, 'GET', '/')).body).toContain('Hello from Reflex');
    const version = JSON.parse(
      (await request(loop.url, 'GET', '/version', { host: host('new-look') })).body,
    );
    expect(version).toMatchObject({ sha, preview: 'new-look' });
    const stages = loop.events
      .filter((e) => e.preview === 'new-look' && e.sha === sha && e.status === 'succeeded')
      .map((e) => e.stage);
    expect(stages).toEqual(['committed', 'checkout', 'gate', 'build', 'start', 'healthy', 'live']);
  }, 240_000);

  it('a preview holds no secret and none of production’s public settings', async () => {
    const env = JSON.parse(
      (await request(loop.url, 'GET', '/env', { host: host('new-look') })).body,
    );
    expect(env).toEqual([
      'HOST',
      'NODE_ENV',
      'PORT',
      'REFLEX_BUILT_AT',
      'REFLEX_EXIT_WITH_PARENT',
      'REFLEX_LOG_LEVEL',
      'REFLEX_SHA',
      'REFLEX_SITE_PREVIEW',
      'REFLEX_SITE_RELEASES',
    ]);
    for (const platformPath of ['/api/tree', '/metrics']) {
      expect(
        (await request(loop.url, 'GET', platformPath, { host: host('new-look') })).status,
      ).toBe(404);
    }
  });

  it('over the limit, the least recently used preview sleeps, and a request wakes it', async () => {
    pushBranch('reflex/grace/other', (dir) => {
      const file = path.join(dir, PAGE);
      writeFileSync(file, readFileSync(file, 'utf8').replace('Hello from Reflex', 'Another idea'));
    });
    await live('other');
    const list = async () =>
      (
        JSON.parse(
          (
            await request(`http://127.0.0.1:${loop.supervisor.controlPort}`, 'GET', '/previews', {
              authorization: readToken(loop),
            })
          ).body,
        ) as { previews: { name: string; state: string }[] }
      ).previews;
    expect(Object.fromEntries((await list()).map((p) => [p.name, p.state]))).toEqual({
      'new-look': 'asleep',
      other: 'live',
    });
    const waking = await request(loop.url, 'GET', '/', { host: host('new-look') });
    expect(waking.status).toBe(503);
    await live('new-look');
    await until(async () =>
      (await request(loop.url, 'GET', '/', { host: host('new-look') })).body.includes('A new look'),
    );
    expect(Object.fromEntries((await list()).map((p) => [p.name, p.state]))).toEqual({
      'new-look': 'live',
      other: 'asleep',
    });
  }, 240_000);

  it('deleting the branch (a merge or a close) removes the preview', async () => {
    git(work, ['push', '--quiet', 'origin', '--delete', 'reflex/ada/new-look']);
    await until(
      async () => (await request(loop.url, 'GET', '/', { host: host('new-look') })).status === 404,
    );
  }, 60_000);
});

function readToken(loop: Loop): string {
  const { token } = JSON.parse(
    readFileSync(path.join(loop.home, 'run/supervisor.json'), 'utf8'),
  ) as {
    token: string;
  };
  return `Bearer ${token}`;
}

async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
