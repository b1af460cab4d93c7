/**
 * Several people editing one file: a save whose file changed on the branch since its base is
 * merged three-way (git merge-file) when the two changes do not overlap, and says so with the
 * text it committed; overlapping changes, a deletion, or a merge that would not parse are a
 * 409 with both versions. Nothing is overwritten.
 */
import { editorHarness, fileUrl, type EditorHarness } from './support/editorApp';

const PAGE = 'webapp/site/pages/team.html';
const LINES = ['<h1>Team</h1>', '<p>Ada</p>', '<p>Brian</p>', '<p>Carol</p>', '<p>Dan</p>', ''];
const page = (lines: string[]) => lines.join('\n');
const DATA = 'webapp/site/data.json';

describe('saving a file someone else changed meanwhile', () => {
  let h: EditorHarness;
  beforeEach(async () => {
    h = await editorHarness({
      files: { [PAGE]: page(LINES), [DATA]: '{\n  "a": 1,\n  "b": 2,\n  "c": 3\n}\n' },
    });
  });
  afterEach(() => h.close());

  it('merges changes that do not overlap, commits both, and returns the merged text', async () => {
    const agent = await h.signedIn('ann');
    const base = h.origin.head();
    const theirs = h.origin.commit({ [PAGE]: page(LINES.with(1, '<p>Ada Lovelace</p>')) });
    const mine = page(LINES.with(4, '<p>Dan Brown</p>'));

    const res = await agent.put(fileUrl(PAGE)).send({ content: mine, baseCommit: base });

    expect(res.status).toBe(200);
    const both = page(LINES.with(1, '<p>Ada Lovelace</p>').with(4, '<p>Dan Brown</p>'));
    expect(res.body.merged).toEqual({ content: both, theirs });
    expect(h.origin.show(PAGE)).toBe(both);
    expect(
      h.origin
        .log()
        .map((c) => c.sha)
        .slice(1, 2),
    ).toEqual([theirs]);
    expect(h.origin.head()).toBe(res.body.commit);
    const audit = h.logs.lines.filter((l) => l.msg === 'audit').map((l) => l.audit);
    expect(audit).toContainEqual(expect.objectContaining({ path: PAGE, result: 'merged' }));
  });

  it('overlapping changes are a 409 with their version; the branch keeps theirs', async () => {
    const agent = await h.signedIn('ann');
    const base = h.origin.head();
    const theirs = h.origin.commit({ [PAGE]: page(LINES.with(2, '<p>Brian May</p>')) });
    const res = await agent
      .put(fileUrl(PAGE))
      .send({ content: page(LINES.with(2, '<p>Brian Eno</p>')), baseCommit: base });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      code: 'conflict',
      upstream: { content: page(LINES.with(2, '<p>Brian May</p>')), commit: theirs },
    });
    expect(res.body.error).toContain('the changes overlap');
    expect(h.origin.head()).toBe(theirs);
  });

  it('a file they deleted is a 409, not recreated silently', async () => {
    const agent = await h.signedIn('ann');
    const base = h.origin.head();
    const theirs = h.origin.commit({ [PAGE]: null });
    const res = await agent
      .put(fileUrl(PAGE))
      .send({ content: page(LINES.with(4, '<p>Dan Brown</p>')), baseCommit: base });
    expect(res.status).toBe(409);
    expect(res.body.upstream).toMatchObject({ content: null, commit: theirs });
    expect(h.origin.show(PAGE)).toBeUndefined();
  });

  it('a merge whose result would be refused (over the size limit) is a 409 naming why; nothing is committed', async () => {
    await h.close();
    h = await editorHarness({
      files: { [PAGE]: page(LINES) },
      env: { REFLEX_MAX_FILE_BYTES: '120' },
    });
    const agent = await h.signedIn('ann');
    const base = h.origin.head();
    const extra = '<p>' + 'x'.repeat(40) + '</p>';
    const theirs = h.origin.commit({ [PAGE]: page([...LINES.slice(0, -1), extra, '']) });
    const res = await agent
      .put(fileUrl(PAGE))
      .send({ content: page([extra, ...LINES]), baseCommit: base });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatch(/merged with yours it would not be saved: .*120/);
    expect(h.origin.head()).toBe(theirs);
  });
});
