/**
 * A change request's save when the deploy branch moved under it, through the editor's API
 * against a real bare origin: the save takes the deploy branch in (a merge commit) with the
 * file merged three-way when the changes don't overlap; an overlap is a conflict showing the
 * deploy branch's version, nothing written, and the author's resolution saved on the base the
 * conflict gave is taken in whole; a save whose file the deploy branch did not touch takes in
 * the deploy branch's other files.
 */
import type { ChangeRequest } from '../src/api/contract';
import { editorHarness, fileUrl, type EditorHarness } from './support/editorApp';
import { git } from './support/repos';

const PAGE = 'webapp/site/pages/index.html';
const OTHER = 'webapp/site/pages/about.html';
const LINES = ['<h1>Hello</h1>', 'one', 'two', 'three', 'four', 'five', '<p>End</p>', ''];
const text = (edit: (lines: string[]) => void) => {
  const lines = [...LINES];
  edit(lines);
  return lines.join('\n');
};
const ORIGINAL = text(() => undefined);

describe("a change request's save when main moved", () => {
  let h: EditorHarness;
  let cr: ChangeRequest;
  beforeEach(async () => {
    h = await editorHarness();
    h.origin.commit({ [PAGE]: ORIGINAL, [OTHER]: '<p>About</p>\n' }, 'Longer pages');
    const agent = await h.signedIn('ann', 'author');
    cr = (await agent.post('/api/changes').send({ title: 'New look' })).body as ChangeRequest;
    const first = await agent.put(fileUrl(PAGE, `/api/changes/${cr.id}/files/`)).send({
      content: text((l) => (l[0] = '<h1>A new look</h1>')),
      baseCommit: h.origin.head(cr.branch),
    });
    expect(first.status).toBe(200);
  });
  afterEach(() => h.close());

  const save = async (content: string, baseCommit: string) =>
    (await h.signedIn('ann', 'author'))
      .put(fileUrl(PAGE, `/api/changes/${cr.id}/files/`))
      .send({ content, baseCommit });
  const parents = (commit: string) =>
    git(h.origin.dir, ['rev-list', '--parents', '-n', '1', commit]).split(' ').slice(1);

  it('a change to other lines on main is merged into the next save, which takes main in', async () => {
    const mine = h.origin.head(cr.branch);
    const main = h.origin.commit({ [PAGE]: text((l) => (l[6] = '<p>The end</p>')) }, 'By Bob');
    const res = await save(
      text((l) => {
        l[0] = '<h1>A new look</h1>';
        l[3] = 'THREE';
      }),
      mine,
    );
    expect(res.status).toBe(200);
    const both = text((l) => {
      l[0] = '<h1>A new look</h1>';
      l[3] = 'THREE';
      l[6] = '<p>The end</p>';
    });
    expect(res.body.merged).toEqual({ content: both, theirs: main });
    expect(h.origin.head(cr.branch)).toBe(res.body.commit);
    expect(h.origin.show(PAGE, cr.branch)).toBe(both);
    const [authored, tookIn] = parents(res.body.commit);
    expect(tookIn).toBe(main);
    expect(parents(authored!)).toEqual([mine]);
    expect(h.origin.head()).toBe(main);
    // Publishing it is then a merge without surprises.
    const published = await (
      await h.signedIn('root', 'admin')
    ).post(`/api/changes/${cr.id}/publish`);
    expect(published.status).toBe(200);
    expect(h.origin.show(PAGE)).toBe(both);
  });

  it("main's other files come in with a save of a file main did not touch", async () => {
    const mine = h.origin.head(cr.branch);
    const main = h.origin.commit({ [OTHER]: '<p>About us</p>\n' }, 'By Bob');
    const res = await save(
      text((l) => (l[0] = '<h1>A newer look</h1>')),
      mine,
    );
    expect(res.status).toBe(200);
    expect(res.body.merged).toBeUndefined();
    expect(parents(res.body.commit)[1]).toBe(main);
    expect(h.origin.show(OTHER, cr.branch)).toBe('<p>About us</p>\n');
  });

  it('when main changed a protected path, the save stands alone: no merge of the author carries it, publishing brings it in', async () => {
    const mine = h.origin.head(cr.branch);
    const workflow = '.github/workflows/deploy.yml';
    const main = h.origin.commit({ [workflow]: 'name: deploy\n' }, 'By a maintainer');
    const res = await save(
      text((l) => (l[0] = '<h1>A newer look</h1>')),
      mine,
    );
    expect(res.status).toBe(200);
    // The deploy workflow's policy counts every parent of an editor's merge: a merge taking
    // main in would list the workflow as the author's change and be refused there.
    expect(parents(res.body.commit)).toEqual([mine]);
    expect(git(h.origin.dir, ['ls-tree', '--name-only', cr.branch, workflow])).toBe('');
    const published = await (
      await h.signedIn('root', 'admin')
    ).post(`/api/changes/${cr.id}/publish`);
    expect(published.status).toBe(200);
    expect(h.origin.show(workflow)).toBe('name: deploy\n');
    expect(h.origin.show(PAGE)).toBe(text((l) => (l[0] = '<h1>A newer look</h1>')));
    expect(parents(h.origin.head())).toContain(main);
  });

  it('an overlapping change on main is a conflict with its version; the resolution saved on the conflict base takes main in', async () => {
    const mine = h.origin.head(cr.branch);
    const main = h.origin.commit({ [PAGE]: text((l) => (l[0] = '<h1>Welcome</h1>')) }, 'By Bob');
    const refused = await save(
      text((l) => (l[0] = '<h1>A newer look</h1>')),
      mine,
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe(
      `${PAGE} changed on main since this change request took it in, and the changes overlap`,
    );
    expect(refused.body.upstream.content).toBe(text((l) => (l[0] = '<h1>Welcome</h1>')));
    expect(refused.body.upstream.from).toEqual({ branch: 'main', commit: main });
    expect(h.origin.head(cr.branch)).toBe(mine);

    const resolved = text((l) => (l[0] = '<h1>Welcome to a newer look</h1>'));
    const res = await save(resolved, refused.body.upstream.commit);
    expect(res.status).toBe(200);
    expect(h.origin.show(PAGE, cr.branch)).toBe(resolved);
    expect(parents(res.body.commit)[1]).toBe(main);
    // Saved again on its own commit, the file is not in conflict with main any more.
    const again = await save(resolved.replace('two', 'TWO'), res.body.commit);
    expect(again.status).toBe(200);
    expect(parents(again.body.commit)).toHaveLength(1);
  });

  it('a resolution does not drop what was saved to the change request meanwhile', async () => {
    const mine = h.origin.head(cr.branch);
    h.origin.commit({ [PAGE]: text((l) => (l[0] = '<h1>Welcome</h1>')) }, 'By Bob');
    const refused = await save(
      text((l) => (l[0] = '<h1>A newer look</h1>')),
      mine,
    );
    expect(refused.status).toBe(409);
    // Pushed to the branch by other means (a save would meet main's change too).
    h.origin.commit(
      {
        [PAGE]: text((l) => {
          l[0] = '<h1>A new look</h1>';
          l[5] = 'FIVE';
        }),
      },
      'By Carol',
      cr.branch,
    );
    const res = await save(
      text((l) => (l[0] = '<h1>Welcome to a newer look</h1>')),
      refused.body.upstream.commit,
    );
    expect(res.status).toBe(200);
    expect(h.origin.show(PAGE, cr.branch)).toBe(
      text((l) => {
        l[0] = '<h1>Welcome to a newer look</h1>';
        l[5] = 'FIVE';
      }),
    );
  });
});
