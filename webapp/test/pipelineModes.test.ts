/**
 * The real instance process wires the pipeline its configuration names: with
 * REFLEX_PIPELINE=github, /api/releases comes from GitHub's Actions API (recorded GitHub API
 * responses, served locally) and the public /version.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killSpawned, spawnTs, waitForListening, WEBAPP_DIR } from './support/processes';
import { createOrigin, type Origin } from './support/repos';

const recorded = JSON.parse(
  readFileSync(path.join(__dirname, 'fixtures/github/deploy-runs-list.json'), 'utf8'),
) as {
  repository: string;
  runs: { workflow_runs: { head_sha: string }[] };
  version: { sha: string };
};
const TOKEN = 'github_pat_recorded';

describe('an instance with REFLEX_PIPELINE=github (recorded GitHub API responses)', () => {
  let github: Server;
  let origin: Origin;
  let dir: string;
  const seen: string[] = [];

  beforeAll(async () => {
    github = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      const url = new URL(req.url!, 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname === '/version') {
        res.end(JSON.stringify(recorded.version));
        return;
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401).end('{"message":"Bad credentials"}');
      } else if (
        url.pathname === `/repos/${recorded.repository}/actions/workflows/deploy.yml/runs`
      ) {
        res.end(JSON.stringify(recorded.runs));
      } else {
        res.writeHead(404).end('{"message":"Not Found"}');
      }
    });
    await new Promise<void>((resolve) => github.listen(0, '127.0.0.1', resolve));
    origin = createOrigin({ 'webapp/site/pages/index.html': '<h1>x</h1>\n' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-github-mode-'));
  });

  afterAll(async () => {
    killSpawned();
    await new Promise((resolve) => github.close(resolve));
    origin.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the releases of the deploy workflow for a signed-in user', async () => {
    const api = `http://127.0.0.1:${(github.address() as AddressInfo).port}`;
    const instance = spawnTs(path.join(WEBAPP_DIR, 'src/server.ts'), {
      PORT: '0',
      REFLEX_REPO_URL: origin.dir,
      REFLEX_USERS_FILE: path.join(dir, 'users.json'),
      REFLEX_SESSION_SECRET: 's'.repeat(40),
      REFLEX_ADMIN_PASSWORD: 'admin-password-1',
      REFLEX_PIPELINE: 'github',
      REFLEX_GITHUB_REPOSITORY: recorded.repository,
      REFLEX_GITHUB_TOKEN: TOKEN,
      REFLEX_GITHUB_API_URL: api,
      REFLEX_PUBLIC_URL: api,
    });
    const port = await waitForListening(instance);
    const base = `http://127.0.0.1:${port}`;
    const signIn = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'admin-password-1' }),
    });
    expect(signIn.status).toBe(204);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const res = await fetch(`${base}/api/releases`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { releases: { sha: string; live: boolean }[] };
    const expected = [...new Set(recorded.runs.workflow_runs.map((r) => r.head_sha))];
    expect(body.releases.map((r) => r.sha).sort()).toEqual(expected.sort());
    expect(body.releases.filter((r) => r.live).map((r) => r.sha)).toEqual([recorded.version.sha]);
    expect(
      seen.some(
        (line) =>
          line.includes('/actions/workflows/deploy.yml/runs') && line.endsWith(`Bearer ${TOKEN}`),
      ),
    ).toBe(true);
    const events = await fetch(`${base}/api/pipeline/events`, { headers: { cookie } });
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await events.body?.cancel();
  });
});
