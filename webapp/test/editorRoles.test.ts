/**
 * Roles by path, enforced by the server on every write, delete and rollback: an `author`
 * changes the site's content, a `developer` also its code, an `admin` also rolls back across
 * protected paths. Rollback returns only to a release that was live. Real app, real git.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import request from 'supertest';
import type { Role } from '../src/api/contract';
import { UserStore } from '../src/auth/users';
import { EditPolicy } from '../src/editor/policy';
import { PROTECTED_LIST_FILE } from '../src/editor/protectedList';
import { editorHarness, fileUrl, PASSWORD, type EditorHarness } from './support/editorApp';
import { release, supervisorStandIn, type SupervisorStandIn } from './support/supervisorStandIn';

const ROUTES = 'webapp/site/routes.ts';
const INDEX = 'webapp/site/pages/index.html';

/**
 * The oracle, written apart from the policy: the protected list read with Node's own glob
 * matcher (case folded), the site as a prefix, content as a list of extensions.
 */
const PROTECTED = readFileSync(path.resolve(__dirname, '../..', PROTECTED_LIST_FILE), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'))
  .map((line) => line.split(/\s+/)[0]!.toLowerCase());
const CONTENT = [
  'html',
  'htm',
  'css',
  'md',
  'markdown',
  'json',
  'png',
  'jpg',
  'jpeg',
  'gif',
  'svg',
  'webp',
  'avif',
  'ico',
];

function oracle(role: Role, file: string): boolean {
  const folded = file.toLowerCase();
  if (role === 'viewer') return false;
  if (PROTECTED.some((glob) => path.matchesGlob(folded, glob))) return false;
  if (!file.startsWith('webapp/site/')) return false;
  if (role !== 'author') return true;
  const name = folded.slice(folded.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 && CONTENT.includes(name.slice(dot + 1));
}

describe('roles by path', () => {
  it('the policy agrees with an independent oracle for every role and path (property)', () => {
    const policy = new EditPolicy();
    const segment = fc.constantFrom(
      'webapp',
      'Webapp',
      'site',
      'SITE',
      'src',
      'pages',
      'assets',
      'test',
      'tests',
      'workflows',
      'deploy-scripts',
      'Deploy-Scripts',
      'pulumi',
      'a',
      'b-c',
      'data',
      'lib',
    );
    const fileName = fc.constantFrom(
      'index.html',
      'style.CSS',
      'notes.md',
      'logo.png',
      'photo.JPEG',
      'data.json',
      'routes.ts',
      'page.test.ts',
      'app.js',
      'x.mjs',
      'tsconfig.json',
      'Dockerfile',
      'dockerfile',
      'package.json',
      'Package.json',
      'eslint.config.mjs',
      'jest.config.js',
      'README',
      'a.txt',
      'font.woff2',
      '.npmrc',
      'compose.yaml',
      'icon.svg',
    );
    const file = fc
      .tuple(
        fc.oneof(
          fc.constant(['webapp', 'site']),
          // Dot folders only in front: the oracle's matcher (Node's) skips them inside `**`.
          fc.constantFrom(['.github', 'workflows'], ['.GitHub'], ['.ci']),
          fc.array(segment, { minLength: 0, maxLength: 4 }),
          fc.tuple(fc.constant('webapp'), fc.constant('site'), segment).map((t) => [...t]),
        ),
        fc.array(segment, { maxLength: 2 }),
        fileName,
      )
      .map(([head, middle, name]) => [...head, ...middle, name].join('/'));
    const role = fc.constantFrom<Role>('viewer', 'author', 'developer', 'admin');
    fc.assert(
      fc.property(role, file, (r, f) => {
        expect(policy.verdictFor(r, f).editable).toBe(oracle(r, f));
      }),
      { numRuns: 3000 },
    );
  });

  describe('through the API', () => {
    let h: EditorHarness;
    beforeEach(async () => {
      h = await editorHarness();
    });
    afterEach(() => h.close());

    it('an author saving a .ts file is refused 403 with the reason; nothing is committed', async () => {
      const agent = await h.signedIn('ada', 'author');
      const head = h.origin.head();
      const res = await agent
        .put(fileUrl(ROUTES))
        .send({ content: 'export const answer = 43;\n', baseCommit: head });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({
        code: 'forbidden_path',
        reason: expect.stringContaining('role author changes the site’s content only'),
      });
      expect(h.origin.head()).toBe(head);
    });

    it('an author saves a page and deletes JSON data, but cannot delete site code', async () => {
      const agent = await h.signedIn('ada', 'author');
      const saved = await agent
        .put(fileUrl(INDEX))
        .send({ content: '<h1>By an author</h1>\n', baseCommit: h.origin.head() });
      expect(saved.status).toBe(200);
      const code = await agent.delete(`${fileUrl(ROUTES)}?baseCommit=${h.origin.head()}`);
      expect(code.status).toBe(403);
      const data = await agent.delete(
        `${fileUrl('webapp/site/data.json')}?baseCommit=${h.origin.head()}`,
      );
      expect(data.status).toBe(200);
      expect(h.origin.show('webapp/site/data.json')).toBeUndefined();
    });

    it('a developer saves site code', async () => {
      const agent = await h.signedIn('dev', 'developer');
      const res = await agent
        .put(fileUrl(ROUTES))
        .send({ content: 'export const answer: number = 43;\n', baseCommit: h.origin.head() });
      expect(res.status).toBe(200);
    });

    it('the tree gives each locked path its reason for this user', async () => {
      const author = await (await h.signedIn('ada', 'author')).get('/api/tree');
      const developer = await (await h.signedIn('dev', 'developer')).get('/api/tree');
      const of = (res: request.Response, p: string): unknown =>
        (res.body as { files: { path: string }[] }).files.find((f) => f.path === p);
      expect(of(author, ROUTES)).toMatchObject({
        editable: false,
        reason: expect.stringContaining('role author'),
      });
      expect(of(author, INDEX)).toMatchObject({ editable: true });
      expect(of(developer, ROUTES)).toMatchObject({ editable: true });
    });

    it('a users file of an earlier version, with role editor, signs in as a developer', async () => {
      const file = path.join(h.dir, 'users.json');
      const stored = JSON.parse(readFileSync(file, 'utf8'));
      const admin = stored.users[0];
      stored.users.push({ ...admin, username: 'old', name: 'Old Timer', role: 'editor' });
      writeFileSync(file, JSON.stringify(stored));
      expect((await new UserStore(file).find('old'))?.role).toBe('developer');
      const agent = request.agent(h.app.callback());
      await agent.post('/api/session').send({ username: 'old', password: PASSWORD }).expect(204);
      expect((await agent.get('/api/session')).body.role).toBe('developer');
      const res = await agent
        .put(fileUrl(ROUTES))
        .send({ content: 'export const answer: number = 44;\n', baseCommit: h.origin.head() });
      expect(res.status).toBe(200);
    });
  });
});

describe('rollback within policy', () => {
  let h: EditorHarness;
  let supervisor: SupervisorStandIn;
  let first: string;
  let siteOnly: string;
  let platformChange: string;

  beforeEach(async () => {
    supervisor = await supervisorStandIn();
    h = await editorHarness({ supervisorUrl: supervisor.url });
    first = h.origin.head();
    siteOnly = h.origin.commit({ [INDEX]: '<h1>Second</h1>\n' }, 'Second page');
    const neverLive = h.origin.commit({ [INDEX]: '<h1>Third</h1>\n' }, 'Third page');
    platformChange = h.origin.commit(
      { 'webapp/src/server.ts': 'export const changed = true;\n' },
      'Platform change by a maintainer',
    );
    supervisor.releases = [
      release(platformChange, 'live', true),
      release(neverLive, 'superseded'),
      release(siteOnly, 'retired'),
      release(first, 'retired'),
    ];
  });
  afterEach(async () => {
    await h.close();
    await supervisor.close();
  });

  it('refuses a commit of main that was never a release, and pushes nothing', async () => {
    const agent = await h.signedIn('admin');
    const neverLive = supervisor.releases[1]!.sha;
    const res = await agent.post(`/api/releases/${neverLive}/rollback`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_a_release');
    expect(h.origin.head()).toBe(platformChange);
  });

  it('says which paths a rollback touches before it runs, and whether this user may run it', async () => {
    const agent = await h.signedIn('dev', 'developer');
    const res = await agent.get(`/api/releases/${siteOnly}/rollback`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      sha: siteOnly,
      paths: expect.arrayContaining([INDEX, 'webapp/src/server.ts']),
      protectedPaths: ['webapp/src/server.ts'],
      allowed: false,
      reason: expect.stringContaining('only an admin'),
    });
    expect(h.origin.head()).toBe(platformChange);
  });

  it('a developer cannot roll back across protected paths; an admin can', async () => {
    const developer = await h.signedIn('dev', 'developer');
    const refused = await developer.post(`/api/releases/${siteOnly}/rollback`);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      code: 'forbidden_path',
      protectedPaths: ['webapp/src/server.ts'],
    });
    expect(h.origin.head()).toBe(platformChange);

    const admin = await h.signedIn('admin');
    const done = await admin.post(`/api/releases/${siteOnly}/rollback`);
    expect(done.status).toBe(200);
    expect(h.origin.head()).toBe(done.body.commit);
    expect(h.origin.show(INDEX)).toBe('<h1>Second</h1>\n');
  });

  it('a rollback that touches only site content goes through for an author; one over site code needs a developer', async () => {
    const onSite = h.origin.commit({ [INDEX]: '<h1>Fourth</h1>\n' }, 'Fourth page');
    supervisor.releases = [release(onSite, 'live', true), release(platformChange, 'retired')];
    const author = await h.signedIn('ada', 'author');
    const content = await author.post(`/api/releases/${platformChange}/rollback`);
    expect(content.status).toBe(200);

    const beforeCode = content.body.commit as string;
    const codeChange = h.origin.commit({ [ROUTES]: 'export const answer: number = 1;\n' }, 'code');
    supervisor.releases = [release(codeChange, 'live', true), release(beforeCode, 'retired')];
    const refused = await author.post(`/api/releases/${beforeCode}/rollback`);
    expect(refused.status).toBe(403);
    expect(refused.body.reason).toContain(`${ROUTES}: role author`);
    expect(h.origin.head()).toBe(codeChange);
    const developer = await h.signedIn('dev', 'developer');
    expect((await developer.post(`/api/releases/${beforeCode}/rollback`)).status).toBe(200);
  });
});
