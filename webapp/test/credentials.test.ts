/**
 * The https credential path, over real git smart HTTP with basic auth: the token comes from
 * REFLEX_GIT_TOKEN through GIT_ASKPASS, and appears nowhere — not in logs, not in the clone's
 * .git/config, not in any API response, not in error messages.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { composeEditor } from '../src/compose';
import { DomainError } from '../src/errors';
import { loadConfig } from '../src/config';
import { createMetrics } from '../src/metrics/registry';
import { editorHarness, fileUrl, PASSWORD } from './support/editorApp';
import { startGitHttpServer, type GitHttpServer } from './support/gitHttpServer';
import { captureLogs } from './support/logs';
import { createOrigin, type Origin } from './support/repos';

const TOKEN = 'ghp_TestToken_9d8c7b6a5f4e3d2c1b0a';
const INDEX = 'webapp/site/pages/index.html';

/** Every file under `dir`, read as text (for a token search). */
function allText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    out += statSync(full).isDirectory() ? allText(full) : readFileSync(full).toString('latin1');
  }
  return out;
}

describe('pushing over https with a token', () => {
  let origin: Origin;
  let gitServer: GitHttpServer;

  beforeAll(async () => {
    origin = createOrigin({ [INDEX]: '<h1>Hello</h1>\n', 'README.md': '# r\n' });
    gitServer = await startGitHttpServer(origin.root, 'x-access-token', TOKEN);
  });
  afterAll(async () => {
    await gitServer.close();
    origin.cleanup();
  });

  it('clones and pushes through basic auth, and the token appears in no log, config or response', async () => {
    const h = await editorHarness({
      env: { REFLEX_REPO_URL: `${gitServer.url}/origin.git`, REFLEX_GIT_TOKEN: TOKEN },
    });
    try {
      // The harness cloned its own origin; this one goes through the HTTP server.
      const responses: string[] = [];
      const agent = request.agent(h.app.callback());
      const record = (res: request.Response) => {
        responses.push(JSON.stringify(res.headers) + res.text);
        return res;
      };
      record(await agent.post('/api/session').send({ username: 'admin', password: PASSWORD }));
      const tree = record(await agent.get('/api/tree'));
      const before = origin.head();
      expect(tree.body.commit).toBe(before);
      const saved = record(
        await agent
          .put(fileUrl(INDEX))
          .send({ content: '<h1>Over HTTP</h1>\n', baseCommit: before }),
      );
      expect(saved.status).toBe(200);
      expect(origin.show(INDEX)).toBe('<h1>Over HTTP</h1>\n');
      expect(origin.head()).toBe(saved.body.commit);
      record(await agent.get('/api/commits'));
      record(await agent.get('/metrics'));

      const workspace = path.join(h.dir, 'workspace');
      const gitConfig = readFileSync(path.join(workspace, 'repo.git', 'config'), 'utf8');
      expect(gitConfig).toContain(`${gitServer.url}/origin.git`);
      expect(gitConfig).not.toContain(TOKEN);
      expect(allText(workspace)).not.toContain(TOKEN);
      expect(JSON.stringify(h.logs.lines)).not.toContain(TOKEN);
      expect(responses.join('\n')).not.toContain(TOKEN);
    } finally {
      await h.close();
    }
  });

  it('a wrong token leaves the editor not ready, saying why with the URL but not the token', async () => {
    const wrong = 'ghp_WrongToken_000000000000';
    const logs = captureLogs();
    const config = loadConfig({
      REFLEX_REPO_URL: `${gitServer.url}/origin.git`,
      REFLEX_GIT_TOKEN: wrong,
      REFLEX_USERS_FILE: path.join(origin.root, 'users.json'),
      REFLEX_SESSION_SECRET: 'x'.repeat(40),
      REFLEX_ADMIN_PASSWORD: PASSWORD,
    });
    const refusedBefore = gitServer.refused;
    const editor = await composeEditor(config.editor!, {
      logger: logs.logger,
      metrics: createMetrics(),
      announce: () => undefined,
    });
    try {
      // The clone is refused, then retried in the background: wait for the first failure.
      let failure: unknown;
      for (let i = 0; i < 300; i++) {
        try {
          editor.clone.current();
        } catch (err) {
          failure = err;
        }
        if (failure instanceof Error && failure.message.includes('cannot clone')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(gitServer.refused).toBeGreaterThan(refusedBefore);
      expect(failure).toBeInstanceOf(DomainError);
      expect((failure as DomainError).code).toBe('not_ready');
      expect((failure as Error).message).toMatch(
        /cannot clone http:\/\/127\.0\.0\.1:\d+\/origin\.git \(branch main\)/,
      );
      expect((failure as Error).message).not.toContain(wrong);
      expect(JSON.stringify(logs.lines)).not.toContain(wrong);
    } finally {
      await editor.close();
    }
  });
});
