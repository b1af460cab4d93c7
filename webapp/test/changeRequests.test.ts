/**
 * Change requests on one machine, through the editor's API against a real bare origin: a
 * branch `reflex/<author>/<slug>` per change request, saves to it under the same path policy
 * as direct saves, a list with author, files, status and preview link, publishing by a
 * publishing role only (a merge commit on the deploy branch), closing, and the per-role save
 * target setting.
 */
import type { ChangeRequest } from '../src/api/contract';
import { editorHarness, fileUrl, type EditorHarness } from './support/editorApp';
import { git } from './support/repos';
import { supervisorStandIn } from './support/supervisorStandIn';
import { loadConfig } from '../src/config';

const PAGE = 'webapp/site/pages/index.html';
const WORKFLOW = '.github/workflows/ci.yml';
const changeUrl = (id: string, file?: string) =>
  file ? fileUrl(file, `/api/changes/${id}/files/`) : `/api/changes/${id}`;

describe('change requests on one machine', () => {
  let h: EditorHarness;
  beforeEach(async () => {
    h = await editorHarness({ env: { REFLEX_PREVIEW_URL: 'http://{name}.localhost:8080/' } });
  });
  afterEach(() => h.close());

  async function open(username = 'ann', title = 'New team page'): Promise<ChangeRequest> {
    const agent = await h.signedIn(username, 'author');
    const res = await agent.post('/api/changes').send({ title, description: 'Adds Dan' });
    expect(res.status).toBe(200);
    return res.body as ChangeRequest;
  }

  it('an author opens one: a branch reflex/<author>/<slug> from main, listed with author, status and preview link', async () => {
    const cr = await open();
    expect(cr).toMatchObject({
      id: 'ann/new-team-page',
      branch: 'reflex/ann/new-team-page',
      title: 'New team page',
      description: 'Adds Dan',
      author: 'ann',
      status: 'open',
      files: [],
      previewUrl: 'http://new-team-page.localhost:8080/',
      url: null,
    });
    expect(h.origin.log('reflex/ann/new-team-page')[1]!.sha).toBe(h.origin.head());
    const list = await (await h.signedIn('bob', 'viewer')).get('/api/changes');
    expect(list.body.changeRequests.map((c: ChangeRequest) => c.id)).toEqual(['ann/new-team-page']);
  });

  it('a slug is never reused, whoever the author (preview host names are per slug)', async () => {
    await open('ann', 'Spring sale');
    const second = await open('bob', 'Spring sale');
    expect(second.branch).toBe('reflex/bob/spring-sale-2');
  });

  it('saves go to the change request branch; main does not change; the list shows the files', async () => {
    const cr = await open();
    const agent = await h.signedIn('ann', 'author');
    const main = h.origin.head();
    const tree = await agent.get(`${changeUrl(cr.id)}/tree`);
    expect(tree.status).toBe(200);
    const res = await agent
      .put(changeUrl(cr.id, PAGE))
      .send({ content: '<h1>Team</h1>\n', baseCommit: tree.body.commit });
    expect(res.status).toBe(200);
    expect(h.origin.show(PAGE, cr.branch)).toBe('<h1>Team</h1>\n');
    expect(h.origin.head()).toBe(main);
    expect(h.origin.show(PAGE)).toBe('<h1>Hello</h1>\n');
    const read = await agent.get(changeUrl(cr.id, PAGE));
    expect(read.body).toMatchObject({ content: '<h1>Team</h1>\n', commit: res.body.commit });
    const listed = (await agent.get('/api/changes')).body.changeRequests[0];
    expect(listed).toMatchObject({ files: [PAGE], head: res.body.commit });
  });

  it('a change request cannot touch a protected path, even saved by an admin', async () => {
    const cr = await open();
    const admin = await h.signedIn('root', 'admin');
    const head = h.origin.head(cr.branch);
    const res = await admin
      .put(changeUrl(cr.id, WORKFLOW))
      .send({ content: 'on: push\njobs: {}\n', baseCommit: head });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden_path');
    expect(h.origin.head(cr.branch)).toBe(head);
  });

  it('publishing cannot bring a protected path into main, even from a branch pushed by other means', async () => {
    const cr = await open();
    h.origin.commit({ [WORKFLOW]: 'on: push\njobs: {}\n' }, 'Sneak in a workflow', cr.branch);
    const main = h.origin.head();
    const admin = await h.signedIn('root', 'admin');
    const res = await admin.post(`${changeUrl(cr.id)}/publish`);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'forbidden_path' });
    expect(res.body.error).toContain(WORKFLOW);
    expect(h.origin.head()).toBe(main);
    expect(h.origin.show(WORKFLOW)).toBe('on: push\n');
  });

  it('only a publishing role publishes; the publish is a merge commit on main and the branch goes', async () => {
    const cr = await open();
    const author = await h.signedIn('ann', 'author');
    await author
      .put(changeUrl(cr.id, PAGE))
      .send({ content: '<h1>Team</h1>\n', baseCommit: h.origin.head(cr.branch) });
    const refused = await author.post(`${changeUrl(cr.id)}/publish`);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden_role');
    const branchHead = h.origin.head(cr.branch);
    const before = h.origin.head();

    const res = await (await h.signedIn('root', 'admin')).post(`${changeUrl(cr.id)}/publish`);

    expect(res.status).toBe(200);
    expect(h.origin.head()).toBe(res.body.commit);
    expect(h.origin.show(PAGE)).toBe('<h1>Team</h1>\n');
    expect(h.origin.log()[0]!.subject).toBe('Publish change request: New team page');
    expect(git(h.origin.dir, ['rev-parse', `${res.body.commit}^1`, `${res.body.commit}^2`])).toBe(
      `${before}\n${branchHead}`,
    );
    expect(git(h.origin.dir, ['branch', '--list', cr.branch])).toBe('');
    expect(res.body.changeRequest).toMatchObject({
      status: 'published',
      mergeCommit: res.body.commit,
      previewUrl: null,
    });
    expect((await author.get('/api/changes')).body.changeRequests).toEqual([]);
    const audit = h.logs.lines.filter((l) => l.msg === 'audit').map((l) => l.audit);
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: 'publish',
        user: 'root',
        result: 'published',
        commit: res.body.commit,
      }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: 'change-request',
        user: 'ann',
        result: 'opened',
        branch: cr.branch,
      }),
    );
  });

  it('a change request that conflicts with main is not published; the conflict names the files', async () => {
    const cr = await open();
    const author = await h.signedIn('ann', 'author');
    await author
      .put(changeUrl(cr.id, PAGE))
      .send({ content: '<h1>Team</h1>\n', baseCommit: h.origin.head(cr.branch) });
    const main = h.origin.commit({ [PAGE]: '<h1>Welcome</h1>\n' });
    const res = await (await h.signedIn('root', 'admin')).post(`${changeUrl(cr.id)}/publish`);
    expect(res.status).toBe(409);
    expect(res.body.error).toContain(PAGE);
    expect(h.origin.head()).toBe(main);
  });

  it('its author (or a publisher) closes it: the branch goes, saves to it are refused', async () => {
    const cr = await open();
    const other = await h.signedIn('bob', 'author');
    expect((await other.post(`${changeUrl(cr.id)}/close`)).status).toBe(403);
    const author = await h.signedIn('ann', 'author');
    const head = h.origin.head(cr.branch);
    const res = await author.post(`${changeUrl(cr.id)}/close`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('closed');
    expect(git(h.origin.dir, ['branch', '--list', cr.branch])).toBe('');
    const save = await author
      .put(changeUrl(cr.id, PAGE))
      .send({ content: '<h1>Late</h1>\n', baseCommit: head });
    expect(save.status).toBe(409);
  });

  it('title and description can be changed; an empty title is refused naming the field', async () => {
    const cr = await open();
    const author = await h.signedIn('ann', 'author');
    const res = await author.patch(changeUrl(cr.id)).send({ description: 'Adds Dan and Eve' });
    expect(res.body).toMatchObject({ title: 'New team page', description: 'Adds Dan and Eve' });
    const bad = await author.post('/api/changes').send({ title: '   ' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('title');
  });

  it('a malformed id is refused, not looked up', async () => {
    const agent = await h.signedIn('ann', 'author');
    const res = await agent.get('/api/changes/ANN/..');
    expect([400, 404]).toContain(res.status);
    const bad = await agent.get('/api/changes/ann/Bad_Slug');
    expect(bad.status).toBe(400);
  });
});

describe('a change request with the local pipeline', () => {
  it("shows its preview's link and state as the supervisor reports them, a failure with its reason", async () => {
    const supervisor = await supervisorStandIn();
    const h = await editorHarness({ supervisorUrl: supervisor.url });
    try {
      const agent = await h.signedIn('ann', 'author');
      const cr = (await agent.post('/api/changes').send({ title: 'Spring sale' }))
        .body as ChangeRequest;
      supervisor.previews = [
        {
          name: 'spring-sale',
          branch: cr.branch,
          state: 'failed',
          url: 'http://spring-sale.localhost:41234/',
          error: 'gate: tests failed',
        },
      ];
      const res = await agent.get(changeUrl(cr.id));
      expect(res.body).toMatchObject({
        previewUrl: 'http://spring-sale.localhost:41234/',
        preview: { state: 'failed', error: 'gate: tests failed' },
      });
    } finally {
      await h.close();
      await supervisor.close();
    }
  });
});

describe('where saves go, per role', () => {
  let h: EditorHarness;
  afterEach(() => h.close());

  it('by default an author is offered change requests and a developer direct saves', async () => {
    h = await editorHarness();
    const author = (await (await h.signedIn('ann', 'author')).get('/api/settings')).body;
    const developer = (await (await h.signedIn('dev', 'developer')).get('/api/settings')).body;
    expect(author).toMatchObject({
      saveTarget: 'change-request',
      directSaves: true,
      canPublish: false,
      changeRequests: 'local',
    });
    expect(developer).toMatchObject({ saveTarget: 'direct', directSaves: true, canPublish: true });
  });

  it('an operator can make direct saves admin-only: others are refused and default to change requests', async () => {
    h = await editorHarness({ env: { REFLEX_DIRECT_SAVE_ROLES: 'admin' } });
    const developer = await h.signedIn('dev', 'developer');
    expect((await developer.get('/api/settings')).body).toMatchObject({
      saveTarget: 'change-request',
      directSaves: false,
    });
    const head = h.origin.head();
    const refused = await developer
      .put(fileUrl(PAGE))
      .send({ content: '<h1>Hi</h1>\n', baseCommit: head });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden_role');
    const deleted = await developer.delete(`${fileUrl(PAGE)}?baseCommit=${head}`);
    expect(deleted.status).toBe(403);
    expect(h.origin.head()).toBe(head);
    const admin = await h.signedIn('root', 'admin');
    const saved = await admin
      .put(fileUrl(PAGE))
      .send({ content: '<h1>Hi</h1>\n', baseCommit: head });
    expect(saved.status).toBe(200);
  });

  it('a role list naming an unknown role stops the start naming the key', async () => {
    expect(() => loadConfig({ REFLEX_PUBLISH_ROLES: 'admin,owner' })).toThrow(
      /REFLEX_PUBLISH_ROLES/,
    );
    h = await editorHarness();
  });
});
