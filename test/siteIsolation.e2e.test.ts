/**
 * The site is code from the browser: an editor with the default scope can change
 * `webapp/site/routes.ts`, and it goes live in seconds. These tests save such code through the
 * editor's API, as an attacker with an ordinary account would, and check what it can reach on
 * the local loop: no secret, no platform file, no process, no platform path; and that a site
 * that breaks never takes the editor down.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { editorClient, editorHost, request, startLoop, type Loop } from './support/loop';

const ROUTES = 'webapp/site/routes.ts';

/** Site routes that report what the site's process can see and do. */
const PROBE = `import { execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type Router from '@koa/router';

export interface SiteContext {
  sha: string;
}

export function greeting(name: string): string {
  const trimmed = name.trim().slice(0, 60);
  return \`Hello, \${trimmed || 'world'}!\`;
}

function attempt(work: () => unknown): string {
  try {
    const result = work();
    return 'ALLOWED ' + String(result).slice(0, 80);
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
}

export function registerSiteRoutes(router: Router, site: SiteContext): void {
  router.get('/hello', (ctx) => {
    const name = typeof ctx.query.name === 'string' ? ctx.query.name : '';
    ctx.body = { greeting: greeting(name), sha: site.sha };
  });
  router.get('/probe', (ctx) => {
    // The release folder is <home>/releases/<sha>: the platform's state is two levels up.
    const home = path.resolve(process.cwd(), '..', '..');
    const workdirs = attempt(() => readdirSync(path.join(home, 'work')).join(','));
    ctx.body = {
      env: Object.keys(process.env).sort(),
      reads: {
        selfEnviron: attempt(() => readFileSync('/proc/self/environ', 'utf8')),
        parentEnviron: attempt(() => readFileSync('/proc/' + process.ppid + '/environ', 'utf8')),
        home: attempt(() => readdirSync(home).join(',')),
        users: attempt(() => readFileSync(path.join(home, 'users.json'), 'utf8')),
        sessionSecret: attempt(() => readFileSync(path.join(home, 'secrets/session-secret'), 'utf8')),
        audit: attempt(() => readFileSync(path.join(home, 'audit.log'), 'utf8')),
        origin: attempt(() => readFileSync(path.join(home, 'origin.git/config'), 'utf8')),
        supervisor: attempt(() => readFileSync(path.join(home, 'run/supervisor.json'), 'utf8')),
        workdirs,
        askpass: attempt(() => readFileSync(path.join(home, 'work', 'x', 'askpass.sh'), 'utf8')),
        passwd: attempt(() => readFileSync('/etc/passwd', 'utf8')),
      },
      childProcess: attempt(() => execSync('id').toString()),
      worker: attempt(() => new Worker('1', { eval: true })),
      signal: attempt(() => process.kill(process.ppid, 0)),
    };
  });
  router.get('/cookies', (ctx) => {
    ctx.body = { cookie: ctx.get('cookie') };
  });
  for (const claimed of ['/healthz', '/version', '/metrics', '/api/tree', '/api/session', '/editor/', '/editor/x']) {
    router.all(claimed, (ctx) => {
      ctx.body = 'answered by the site';
    });
  }
}
`;

describe('site code saved through the editor (local loop)', () => {
  let loop: Loop;
  let client: Awaited<ReturnType<typeof editorClient>>;

  beforeAll(async () => {
    loop = await startLoop();
    await loop.supervisor.whenLive();
    client = await editorClient(loop.url);
    const commit = await client.save(ROUTES, PROBE);
    await loop.waitForVersion(commit);
  }, 300_000);

  afterAll(async () => {
    await loop?.close();
  }, 60_000);

  it('reports no secret-bearing variable: its environment is the allowlist', async () => {
    const probe = JSON.parse((await request(loop.url, 'GET', '/probe')).body) as { env: string[] };
    expect(probe.env).toEqual([
      'HOST',
      'NODE_ENV',
      'PORT',
      'REFLEX_BUILT_AT',
      'REFLEX_EXIT_WITH_PARENT',
      'REFLEX_LOG_LEVEL',
      'REFLEX_SHA',
      'REFLEX_SITE_RELEASES',
    ]);
  });

  it('can read no platform file, nor another process environment, nor anything outside its release folders', async () => {
    const probe = JSON.parse((await request(loop.url, 'GET', '/probe')).body) as {
      reads: Record<string, string>;
    };
    for (const [what, outcome] of Object.entries(probe.reads)) {
      expect([what, outcome]).toEqual([what, 'ERR_ACCESS_DENIED']);
    }
    // The files it tried exist: the refusals are the sandbox's, not missing files.
    for (const file of ['users.json', 'secrets/session-secret', 'origin.git/config']) {
      expect(readFileSync(path.join(loop.home, file)).length).toBeGreaterThan(0);
    }
  });

  it('cannot start a process or a worker, nor signal the supervisor', async () => {
    const probe = JSON.parse((await request(loop.url, 'GET', '/probe')).body) as Record<
      string,
      string
    >;
    expect(probe.childProcess).toBe('ERR_ACCESS_DENIED');
    expect(probe.worker).toBe('ERR_ACCESS_DENIED');
    expect(probe.signal).toBe('the site may not send signals to processes');
  });

  it.each([
    ['/healthz', undefined],
    ['/version', undefined],
    ['/metrics', undefined],
    ['/api/tree', undefined],
    ['/api/session', undefined],
    ['/editor/', undefined],
    ['/editor/x', undefined],
    ['/metrics', 'editor'],
    ['/%6detrics', undefined],
  ])('%s (host: %s) never reaches the site, though a site route claims it', async (url, host) => {
    const reply = await request(loop.url, 'GET', url, {
      host: host ? editorHost(loop.url) : undefined,
    });
    expect(reply.body).not.toContain('answered by the site');
  });

  it('the platform cookie never reaches the site; the editor origin gets it', async () => {
    const echo = await request(loop.url, 'GET', '/cookies', {
      cookie: `${client.cookie}; theme=dark`,
    });
    expect(JSON.parse(echo.body)).toEqual({ cookie: 'theme=dark' });
    const tree = await request(loop.url, 'GET', '/api/tree', {
      cookie: client.cookie,
      host: editorHost(loop.url),
    });
    expect(tree.status).toBe(200);
  });
});

describe('a site that breaks (local loop)', () => {
  let loop: Loop;
  let client: Awaited<ReturnType<typeof editorClient>>;
  let good: string;

  beforeAll(async () => {
    loop = await startLoop({ healthTimeoutMs: 6000 });
    good = await loop.supervisor.whenLive();
    client = await editorClient(loop.url);
  }, 300_000);

  afterAll(async () => {
    await loop?.close();
  }, 60_000);

  const original = () => readFileSync(path.join(loop.project, ROUTES), 'utf8');

  it.each([
    // Each breaks only where the site runs (REFLEX_SHA is set there, not in the gate's tests).
    [
      'throws at start',
      "\nif (process.env.REFLEX_SHA) throw new Error('site code failed at start');\n",
    ],
    ['exits at start', '\nif (process.env.REFLEX_SHA) process.exit(3);\n'],
    ['hangs at start', '\nif (process.env.REFLEX_SHA) for (;;) {\n  // never listens\n}\n'],
  ])(
    'a site that %s is a failed release; the editor keeps serving and saves the fix',
    async (_what, code) => {
      const broken = await client.save(ROUTES, original() + code);
      const failed = await loop.waitForEvent((e) => e.sha === broken && e.status === 'failed');
      expect(['start', 'healthy']).toContain(failed.stage);
      // The editor (the platform) answered throughout, and the old site still serves.
      const tree = await request(loop.url, 'GET', '/api/tree', {
        cookie: client.cookie,
        host: editorHost(loop.url),
      });
      expect(tree.status).toBe(200);
      expect((await request(loop.url, 'GET', '/hello')).status).toBe(200);
      const fixed = await client.save(ROUTES, original() + `\n// fixed after: ${_what}\n`);
      await loop.waitForVersion(fixed);
      expect(fixed).not.toBe(good);
    },
    180_000,
  );
});
