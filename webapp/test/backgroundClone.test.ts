/**
 * The instance listens before its editor's clone is ready: /healthz and /version serve while
 * the origin is unreachable, the editor's API answers 503 with the reason and Retry-After, and
 * the clone is retried in the background until it succeeds. A real process and real git.
 */
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killSpawned, spawnTs, waitForListening, WEBAPP_DIR } from './support/processes';
import { createOrigin, type Origin } from './support/repos';

afterEach(killSpawned);

describe('an instance whose origin is unreachable at start', () => {
  let origin: Origin;
  let dir: string;
  beforeEach(() => {
    origin = createOrigin({ 'webapp/site/pages/index.html': '<h1>x</h1>\n' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-late-origin-'));
  });
  afterEach(() => {
    origin.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /healthz and /version at once, answers 503 with the reason until the clone is ready, then the editor works', async () => {
    const away = `${origin.dir}.away`;
    renameSync(origin.dir, away);
    const instance = spawnTs(path.join(WEBAPP_DIR, 'src/server.ts'), {
      PORT: '0',
      REFLEX_REPO_URL: origin.dir,
      REFLEX_USERS_FILE: path.join(dir, 'users.json'),
      REFLEX_SESSION_SECRET: 's'.repeat(40),
      REFLEX_ADMIN_PASSWORD: 'admin-password-1',
    });
    const base = `http://127.0.0.1:${await waitForListening(instance)}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/version`)).status).toBe(200);

    const signIn = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'admin-password-1' }),
    });
    expect(signIn.status).toBe(204);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const notReady = await fetch(`${base}/api/tree`, { headers: { cookie } });
    expect(notReady.status).toBe(503);
    expect(Number(notReady.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await notReady.json()) as { code: string; error: string };
    expect(body.code).toBe('not_ready');
    expect(body.error).toMatch(/^the editor is not ready: /);

    renameSync(away, origin.dir);
    let tree: Response | undefined;
    for (let i = 0; i < 100; i++) {
      tree = await fetch(`${base}/api/tree`, { headers: { cookie } });
      if (tree.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(tree?.status).toBe(200);
    expect(((await tree!.json()) as { commit: string }).commit).toBe(origin.head());
  });
});
