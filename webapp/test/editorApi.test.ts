import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { editorHarness, fileUrl, PASSWORD, type EditorHarness } from './support/editorApp';

const INDEX = 'webapp/site/pages/index.html';

describe('editor API', () => {
  let h: EditorHarness;
  beforeEach(async () => {
    h = await editorHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('authentication', () => {
    it.each([
      ['GET', '/api/tree'],
      ['GET', '/api/session'],
      ['DELETE', '/api/session'],
      ['GET', `/api/files/${INDEX}`],
      ['PUT', `/api/files/${INDEX}`],
      ['DELETE', `/api/files/${INDEX}`],
      ['POST', `/api/diff/${INDEX}`],
      ['GET', '/api/commits'],
      ['GET', '/api/settings'],
    ])('%s %s answers 401 without a session', async (method, url) => {
      const res = await request(h.app.callback())[method.toLowerCase() as 'get'](url).send({});
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('unauthenticated');
    });

    it('signs in with a session cookie that is HttpOnly, SameSite=Strict, and new at every sign-in', async () => {
      const first = await request(h.app.callback())
        .post('/api/session')
        .send({ username: 'admin', password: PASSWORD });
      expect(first.status).toBe(204);
      const cookie = first.headers['set-cookie']![0]!;
      expect(cookie).toMatch(
        /^reflex_session=v1\.[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Strict$/,
      );
      const second = await request(h.app.callback())
        .post('/api/session')
        .send({ username: 'admin', password: PASSWORD });
      expect(second.headers['set-cookie']![0]).not.toBe(cookie);
      const sid = (c: string) =>
        JSON.parse(Buffer.from(c.split('.')[1]!, 'base64url').toString()).sid as string;
      expect(sid(second.headers['set-cookie']![0]!)).not.toBe(sid(cookie));
    });

    it('marks the cookie Secure when the request came over https through a trusted proxy', async () => {
      const proxied = await editorHarness({ env: { REFLEX_TRUST_PROXY: 'true' } });
      try {
        const res = await request(proxied.app.callback())
          .post('/api/session')
          .set('X-Forwarded-Proto', 'https')
          .send({ username: 'admin', password: PASSWORD });
        expect(res.headers['set-cookie']![0]).toMatch(/; Secure$/);
      } finally {
        await proxied.close();
      }
    });

    it('answers 401 for a wrong password or an unknown user, and 429 on the 6th rapid failure', async () => {
      const attempt = (username: string) =>
        request(h.app.callback())
          .post('/api/session')
          .send({ username, password: 'wrong password!' });
      for (let i = 0; i < 5; i++) {
        const res = await attempt(i % 2 ? 'admin' : 'nobody');
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('wrong username or password');
      }
      const limited = await attempt('admin');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Even the right password is refused while limited: the limit is per client.
      const right = await request(h.app.callback())
        .post('/api/session')
        .send({ username: 'admin', password: PASSWORD });
      expect(right.status).toBe(429);
    });

    it('signing out revokes the session: the old cookie no longer works', async () => {
      const agent = await h.signedIn();
      const cookie = (
        await request(h.app.callback())
          .post('/api/session')
          .send({ username: 'admin', password: PASSWORD })
      ).headers['set-cookie']![0]!.split(';')[0]!;
      expect(
        (await request(h.app.callback()).get('/api/session').set('Cookie', cookie)).status,
      ).toBe(200);
      const out = await request(h.app.callback()).delete('/api/session').set('Cookie', cookie);
      expect(out.status).toBe(204);
      expect(out.headers['set-cookie']![0]).toContain('Max-Age=0');
      expect(
        (await request(h.app.callback()).get('/api/session').set('Cookie', cookie)).status,
      ).toBe(401);
      expect((await agent.get('/api/session')).status).toBe(200);
    });

    it('removing a user ends their sessions at once', async () => {
      const agent = await h.signedIn('carol');
      expect((await agent.get('/api/tree')).status).toBe(200);
      await h.users.remove('carol');
      expect((await agent.get('/api/tree')).status).toBe(401);
    });

    it('GET /api/session names the signed-in user and role', async () => {
      const agent = await h.signedIn('dave');
      const res = await agent.get('/api/session');
      expect(res.body).toEqual({
        username: 'dave',
        name: 'dave Person',
        email: 'dave@example.com',
        role: 'developer',
      });
    });
  });

  describe('CSRF', () => {
    it('refuses a state-changing request marked cross-site or same-site by the browser', async () => {
      const agent = await h.signedIn();
      for (const site of ['cross-site', 'same-site']) {
        const res = await agent
          .put(fileUrl(INDEX))
          .set('Sec-Fetch-Site', site)
          .send({ content: 'x', baseCommit: h.origin.head() });
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('csrf');
      }
      const signIn = await request(h.app.callback())
        .post('/api/session')
        .set('Origin', 'https://evil.example')
        .send({ username: 'admin', password: PASSWORD });
      expect(signIn.status).toBe(403);
      expect(h.origin.log()).toHaveLength(1);
    });

    it('serves same-origin requests and clients that send neither header', async () => {
      const agent = await h.signedIn();
      const head = h.origin.head();
      const sameOrigin = await agent
        .put(fileUrl(INDEX))
        .set('Sec-Fetch-Site', 'same-origin')
        .set('Origin', 'http://127.0.0.1')
        .set('Host', '127.0.0.1')
        .send({ content: '<h1>same origin</h1>\n', baseCommit: head });
      expect(sameOrigin.status).toBe(200);
      const plain = await agent
        .put(fileUrl(INDEX))
        .send({ content: '<h1>curl</h1>\n', baseCommit: sameOrigin.body.commit });
      expect(plain.status).toBe(200);
    });
  });

  describe('tree and files', () => {
    it('lists the tree at the current commit with read-only markers and reasons', async () => {
      const agent = await h.signedIn();
      const res = await agent.get('/api/tree');
      expect(res.status).toBe(200);
      expect(res.body.commit).toBe(h.origin.head());
      const byPath = Object.fromEntries(res.body.files.map((f: { path: string }) => [f.path, f]));
      expect(byPath[INDEX]).toEqual({ path: INDEX, size: 15, editable: true });
      expect(byPath['package.json']).toMatchObject({
        editable: false,
        reason: expect.stringMatching(/^protected: \*\*\/package\.json/),
      });
      expect(byPath['.github/workflows/ci.yml'].reason).toMatch(/^protected: \.github\/\*\*/);
      expect(byPath['webapp/src/server.ts'].reason).toMatch(/^protected: webapp\/src\/\*\*/);
      expect(byPath['README.md'].reason).toBe('outside the editable scope (webapp/site/**)');
    });

    it('reads a file with its blob and commit, 404 for a missing one', async () => {
      const agent = await h.signedIn();
      const res = await agent.get(fileUrl(INDEX));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        path: INDEX,
        content: '<h1>Hello</h1>\n',
        blobSha: expect.stringMatching(/^[0-9a-f]{40}$/),
        commit: h.origin.head(),
      });
      expect((await agent.get(fileUrl('webapp/site/nope.html'))).status).toBe(404);
    });
  });

  describe('saving', () => {
    it('commits as the signed-in user, pushes to main, and the tree follows', async () => {
      const agent = await h.signedIn('erin');
      const base = h.origin.head();
      const res = await agent
        .put(fileUrl(INDEX))
        .send({ content: '<h1>Changed</h1>\n', baseCommit: base });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        commit: h.origin.head(),
        path: INDEX,
        blobSha: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
      expect(h.origin.show(INDEX)).toBe('<h1>Changed</h1>\n');
      const [top] = h.origin.log();
      expect(top).toMatchObject({
        subject: `Update ${INDEX}`,
        author: 'erin Person <erin@example.com>',
        committer: 'Reflex <reflex@users.reflex.invalid>',
      });
      const tree = await agent.get('/api/tree');
      expect(tree.body.commit).toBe(res.body.commit);
      expect((await agent.get(fileUrl(INDEX))).body.content).toBe('<h1>Changed</h1>\n');
    });

    it('creates a new file with the default message, or the given one', async () => {
      const agent = await h.signedIn();
      const created = await agent
        .put(fileUrl('webapp/site/pages/new page.html'))
        .send({ content: '<p>new</p>\n', baseCommit: h.origin.head() });
      expect(created.status).toBe(200);
      expect(h.origin.show('webapp/site/pages/new page.html')).toBe('<p>new</p>\n');
      expect(h.origin.log()[0]!.subject).toBe('Create webapp/site/pages/new page.html');
      const named = await agent
        .put(fileUrl(INDEX))
        .send({ content: 'x\n', baseCommit: created.body.commit, message: 'Shorter homepage' });
      expect(named.status).toBe(200);
      expect(h.origin.log()[0]!.subject).toBe('Shorter homepage');
    });

    it('deletes a file, and 404s deleting one that is not there', async () => {
      const agent = await h.signedIn();
      const res = await agent.delete(
        `${fileUrl('webapp/site/data.json')}?baseCommit=${h.origin.head()}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.commit).toBe(h.origin.head());
      expect(h.origin.show('webapp/site/data.json')).toBeUndefined();
      const again = await agent.delete(
        `${fileUrl('webapp/site/data.json')}?baseCommit=${h.origin.head()}`,
      );
      expect(again.status).toBe(404);
    });

    it('a save of unchanged content makes no commit', async () => {
      const agent = await h.signedIn();
      const head = h.origin.head();
      const res = await agent
        .put(fileUrl(INDEX))
        .send({ content: '<h1>Hello</h1>\n', baseCommit: head });
      expect(res.status).toBe(200);
      expect(res.body.commit).toBe(head);
      expect(h.origin.log()).toHaveLength(1);
    });

    it('when the file changed upstream since the base, the save gets 409 with the upstream version and nothing is overwritten', async () => {
      const agent = await h.signedIn();
      const base = h.origin.head();
      const upstream = h.origin.commit({ [INDEX]: '<h1>Theirs</h1>\n' });
      const res = await agent
        .put(fileUrl(INDEX))
        .send({ content: '<h1>Mine</h1>\n', baseCommit: base });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({
        code: 'conflict',
        upstream: { content: '<h1>Theirs</h1>\n', blobSha: expect.any(String), commit: upstream },
      });
      expect(h.origin.head()).toBe(upstream);
      expect(h.origin.show(INDEX)).toBe('<h1>Theirs</h1>\n');
    });

    it('a save whose base is behind but whose file is unchanged upstream lands on top of the new head', async () => {
      const agent = await h.signedIn();
      const base = h.origin.head();
      const upstream = h.origin.commit({ 'webapp/site/other.html': 'other\n' });
      const res = await agent
        .put(fileUrl(INDEX))
        .send({ content: '<h1>Mine</h1>\n', baseCommit: base });
      expect(res.status).toBe(200);
      const log = h.origin.log();
      expect(log.map((c) => c.sha).slice(0, 2)).toEqual([res.body.commit, upstream]);
      expect(h.origin.show('webapp/site/other.html')).toBe('other\n');
    });

    it('two concurrent saves of the same file from the same base: one 200, one 409, history linear', async () => {
      const a = await h.signedIn('ann');
      const b = await h.signedIn('bob');
      const base = h.origin.head();
      const results = await Promise.all([
        a.put(fileUrl(INDEX)).send({ content: 'from ann\n', baseCommit: base }),
        b.put(fileUrl(INDEX)).send({ content: 'from bob\n', baseCommit: base }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = results.find((r) => r.status === 200)!;
      const loser = results.find((r) => r.status === 409)!;
      expect(loser.body.upstream.commit).toBe(winner.body.commit);
      const log = h.origin.log();
      expect(log).toHaveLength(2);
      expect(log[1]!.sha).toBe(base);
    });

    it('20 concurrent saves to 20 different files make 20 commits on the remote', async () => {
      const agent = await h.signedIn();
      const base = h.origin.head();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          agent
            .put(fileUrl(`webapp/site/pages/p${i}.html`))
            .send({ content: `<p>${i}</p>\n`, baseCommit: base }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(h.origin.log()).toHaveLength(21);
      for (let i = 0; i < 20; i++)
        expect(h.origin.show(`webapp/site/pages/p${i}.html`)).toBe(`<p>${i}</p>\n`);
    });

    it('when someone pushed meanwhile, the rejected push is retried on top of theirs', async () => {
      const agent = await h.signedIn();
      const base = h.origin.head();
      // The instance has not fetched this one: its first push is rejected as non-fast-forward.
      const theirs = h.origin.commit({ 'README.md': '# changed upstream\n' });
      const res = await agent.put(fileUrl(INDEX)).send({ content: 'mine\n', baseCommit: base });
      expect(res.status).toBe(200);
      expect(
        h.origin
          .log()
          .map((c) => c.sha)
          .slice(0, 2),
      ).toEqual([res.body.commit, theirs]);
      expect(
        h.logs.lines.some(
          (l) => l.msg === 'push rejected: the branch moved; fetching and retrying',
        ),
      ).toBe(true);
    });
  });

  describe('when the origin refuses a push', () => {
    it("the save is 502 with git's reason, and no trace of it is left for the next save to carry", async () => {
      const agent = await h.signedIn();
      const base = h.origin.head();
      const hook = path.join(h.origin.dir, 'hooks/pre-receive');
      writeFileSync(hook, '#!/bin/sh\necho "pushes are closed today" >&2\nexit 1\n', {
        mode: 0o755,
      });
      const refused = await agent
        .put(fileUrl(INDEX))
        .send({ content: 'lost?\n', baseCommit: base });
      expect(refused.status).toBe(502);
      expect(refused.body).toMatchObject({
        code: 'push_failed',
        error: expect.stringContaining('pushes are closed today'),
      });
      expect(h.origin.head()).toBe(base);
      const commits = await agent.get('/api/commits?limit=1');
      expect(commits.body.commits[0].sha).toBe(base);

      rmSync(hook);
      const next = await agent
        .put(fileUrl('webapp/site/data.json'))
        .send({ content: '{"ok": false}\n', baseCommit: base });
      expect(next.status).toBe(200);
      const [top, parent] = h.origin.log();
      expect(top!.sha).toBe(next.body.commit);
      expect(parent!.sha).toBe(base);
      expect(h.origin.show(INDEX)).toBe('<h1>Hello</h1>\n');
    });
  });

  describe('refusals (nothing is committed)', () => {
    it.each([
      '.github/workflows/x.yml',
      'deploy-scripts/deploy.sh',
      'package.json',
      'webapp/package.json',
      'Pulumi.dev.yaml',
      'webapp/Dockerfile',
      'webapp/src/editor/policy.ts',
      'webapp/src/server.ts',
      'Package.json',
      'dockerfile',
      '.GitHub/workflows/ci.yml',
      'Deploy-Scripts/deploy.sh',
      'webapp/src/editor/Policy.ts',
      'eslint.config.mjs',
      'test/tiers.json',
    ])('saving %s is 403 even with the editable scope configured as **', async (target) => {
      const wide = await editorHarness({
        env: { REFLEX_EDITABLE: '**', REFLEX_WIDE_SCOPE: 'true' },
      });
      try {
        const agent = await wide.signedIn();
        const head = wide.origin.head();
        const res = await agent.put(fileUrl(target)).send({ content: 'x\n', baseCommit: head });
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({
          code: 'forbidden_path',
          reason: expect.stringMatching(/^protected: /),
        });
        expect(wide.origin.head()).toBe(head);
      } finally {
        await wide.close();
      }
    });

    it('the wide scope opens files beyond the site that are not protected, and the settings say so', async () => {
      const wide = await editorHarness({
        env: { REFLEX_EDITABLE: '**', REFLEX_WIDE_SCOPE: 'true' },
      });
      try {
        const agent = await wide.signedIn();
        const res = await agent
          .put(fileUrl('README.md'))
          .send({ content: '# wider\n', baseCommit: wide.origin.head() });
        expect(res.status).toBe(200);
        expect((await agent.get('/api/settings')).body.wideScope).toBe(true);
        expect((await (await h.signedIn()).get('/api/settings')).body.wideScope).toBe(false);
      } finally {
        await wide.close();
      }
    });

    it('outside the default scope is 403 with the reason', async () => {
      const agent = await h.signedIn();
      const res = await agent
        .put(fileUrl('README.md'))
        .send({ content: 'x\n', baseCommit: h.origin.head() });
      expect(res.status).toBe(403);
      expect(res.body.reason).toBe('outside the editable scope (webapp/site/**)');
    });

    it("a viewer's save is 403", async () => {
      await h.users.add({ username: 'vera', role: 'viewer', password: PASSWORD });
      const agent = request.agent(h.app.callback());
      expect(
        (await agent.post('/api/session').send({ username: 'vera', password: PASSWORD })).status,
      ).toBe(204);
      expect((await agent.get(fileUrl(INDEX))).status).toBe(200);
      const res = await agent
        .put(fileUrl(INDEX))
        .send({ content: 'x\n', baseCommit: h.origin.head() });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden_role');
      expect(h.origin.log()).toHaveLength(1);
    });

    it('413 for content over the limit, and for a body over the limit before it is read', async () => {
      const small = await editorHarness({ env: { REFLEX_MAX_FILE_BYTES: '1000' } });
      try {
        const agent = await small.signedIn();
        const over = await agent
          .put(fileUrl(INDEX))
          .send({ content: 'x'.repeat(1001), baseCommit: small.origin.head() });
        expect(over.status).toBe(413);
        const huge = await agent
          .put(fileUrl(INDEX))
          .send({ content: 'x'.repeat(200_000), baseCommit: small.origin.head() });
        expect(huge.status).toBe(413);
        expect(small.origin.log()).toHaveLength(1);
      } finally {
        await small.close();
      }
    });

    it('422 with the line for a .ts file that does not parse, and for broken JSON', async () => {
      const agent = await h.signedIn();
      const ts = await agent.put(fileUrl('webapp/site/routes.ts')).send({
        content: 'export const a = 1;\nexport const b = ;\n',
        baseCommit: h.origin.head(),
      });
      expect(ts.status).toBe(422);
      expect(ts.body).toMatchObject({
        code: 'invalid_content',
        line: 2,
        column: expect.any(Number),
      });
      expect(ts.body.error).toMatch(/^syntax error: /);
      const json = await agent
        .put(fileUrl('webapp/site/data.json'))
        .send({ content: '{\n  "a": 1,\n}\n', baseCommit: h.origin.head() });
      expect(json.status).toBe(422);
      expect(json.body.line).toBe(2);
      expect(h.origin.log()).toHaveLength(1);
    });

    it('a type error is not a syntax error: it parses, so it is committed (the pipeline gate catches it)', async () => {
      const agent = await h.signedIn();
      const res = await agent.put(fileUrl('webapp/site/routes.ts')).send({
        content: 'export const answer: number = "not a number";\n',
        baseCommit: h.origin.head(),
      });
      expect(res.status).toBe(200);
    });

    it('400 for a malformed baseCommit, a bad JSON body, or a missing field', async () => {
      const agent = await h.signedIn();
      expect(
        (await agent.put(fileUrl(INDEX)).send({ content: 'x', baseCommit: 'HEAD' })).status,
      ).toBe(400);
      expect(
        (await agent.put(fileUrl(INDEX)).set('Content-Type', 'application/json').send('{nope'))
          .status,
      ).toBe(400);
      const missing = await agent.put(fileUrl(INDEX)).send({ baseCommit: h.origin.head() });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatch(/^content: /);
    });
  });

  describe('diff, commits, audit and metrics', () => {
    it('POST /api/diff answers a unified diff against main and flags an upstream change', async () => {
      const agent = await h.signedIn();
      const base = h.origin.head();
      const res = await agent
        .post(fileUrl(INDEX, '/api/diff/'))
        .send({ content: '<h1>Bye</h1>\n', baseCommit: base });
      expect(res.status).toBe(200);
      expect(res.body.diff).toContain(`--- a/${INDEX}`);
      expect(res.body.diff).toContain('-<h1>Hello</h1>');
      expect(res.body.diff).toContain('+<h1>Bye</h1>');
      expect(res.body.changedUpstream).toBe(false);
    });

    it('lists recent commits', async () => {
      const agent = await h.signedIn();
      await agent.put(fileUrl(INDEX)).send({ content: 'v2\n', baseCommit: h.origin.head() });
      const res = await agent.get('/api/commits?limit=5');
      expect(res.body.commits.map((c: { message: string }) => c.message)).toEqual([
        `Update ${INDEX}`,
        'Seed the repository',
      ]);
    });

    it('audits every save and refusal with user, path, base, result and commit, and counts them', async () => {
      const agent = await h.signedIn('fay');
      const base = h.origin.head();
      const ok = await agent.put(fileUrl(INDEX)).send({ content: 'v2\n', baseCommit: base });
      await agent.put(fileUrl('package.json')).send({ content: '{}', baseCommit: base });
      await agent.put(fileUrl(INDEX)).send({ content: 'v3\n', baseCommit: base });
      const audits = h.logs.lines
        .filter((l) => l.msg === 'audit' && (l.audit as { action: string }).action === 'save')
        .map((l) => l.audit);
      expect(audits).toEqual([
        expect.objectContaining({
          user: 'fay',
          path: INDEX,
          base,
          result: 'committed',
          commit: ok.body.commit,
        }),
        expect.objectContaining({ user: 'fay', path: 'package.json', base, result: 'forbidden' }),
        expect.objectContaining({ user: 'fay', path: INDEX, base, result: 'conflict' }),
      ]);
      const metrics = await h.metrics.registry.metrics();
      expect(metrics).toContain('reflex_saves_total{result="committed"} 1');
      expect(metrics).toContain('reflex_saves_total{result="forbidden"} 1');
      expect(metrics).toContain('reflex_saves_total{result="conflict"} 1');
      expect(metrics).toMatch(/reflex_git_push_duration_seconds_count\{result="ok"\} 1/);
    });

    it('labels /api/files requests by the route template, never the file path', async () => {
      const agent = await h.signedIn();
      await agent.get(fileUrl('webapp/site/pages/index.html'));
      const text = await h.metrics.registry.metrics();
      expect(text).toContain('route="/api/files/{*path}"');
      expect(text).not.toContain('pages/index.html');
    });
  });
});
