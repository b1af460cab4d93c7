import type { PresenceEntry } from '../api/contract';
import { emptyTabs, reduceTabs } from './tabs';
import {
  SavedBy,
  mergedMessage,
  openFiles,
  othersOn,
  presenceText,
  sameReport,
  savedElsewhere,
} from './together';

const PAGE = 'webapp/site/pages/index.html';
const SINCE = '2026-01-01T00:00:00.000Z';

function entry(over: Partial<PresenceEntry>): PresenceEntry {
  return {
    path: PAGE,
    branch: 'main',
    dirty: false,
    user: 'bob',
    name: 'Bob',
    since: SINCE,
    ...over,
  };
}

describe('who else has a file open', () => {
  it('lists others on the same file and branch, not me, once each, unsaved changes shown', () => {
    const files = [
      entry({}),
      entry({ dirty: true }), // Bob in a second tab, with unsaved changes
      entry({ user: 'ann', name: 'Ann' }),
      entry({ user: 'dee', name: 'Dee', path: 'other.html' }),
    ];
    const others = othersOn(files, 'ann', PAGE, 'main');
    expect(others).toEqual([{ user: 'bob', name: 'Bob', dirty: true }]);
    expect(presenceText(others)).toBe('Also open by Bob (unsaved changes)');
  });

  it('names the branch of someone who has it open in a change request', () => {
    const files = [
      entry({ user: 'cy', name: 'Cy', branch: 'reflex/cy/x', dirty: true }),
      entry({ user: 'dee', name: 'Dee', branch: 'reflex/dee/y' }),
      entry({ user: 'dee', name: 'Dee' }), // also on main: main is what is said
    ];
    const others = othersOn(files, 'ann', PAGE, 'main');
    expect(others).toEqual([
      { user: 'cy', name: 'Cy', dirty: true, elsewhere: 'reflex/cy/x' },
      { user: 'dee', name: 'Dee', dirty: false },
    ]);
    expect(presenceText(others)).toBe('Also open by Cy (unsaved changes, on reflex/cy/x), Dee');
  });

  it('says nothing when nobody else has it open', () => {
    expect(presenceText(othersOn([entry({ user: 'ann' })], 'ann', PAGE, 'main'))).toBe('');
  });
});

describe('what this page reports as open', () => {
  it('is every tab on the workbench’s branch, with whether it is unsaved', () => {
    let state = reduceTabs(emptyTabs(), {
      type: 'opened',
      path: PAGE,
      file: { content: 'a', commit: '1'.repeat(40) },
      access: { editable: true },
      activate: true,
    });
    const before = openFiles(state, 'reflex/ann/x');
    expect(before).toEqual([{ path: PAGE, branch: 'reflex/ann/x', dirty: false }]);
    state = reduceTabs(state, { type: 'edited', path: PAGE, text: 'b' });
    const after = openFiles(state, 'reflex/ann/x');
    expect(after[0]?.dirty).toBe(true);
    expect(sameReport(before, after)).toBe(false);
    expect(sameReport(after, openFiles(state, 'reflex/ann/x'))).toBe(true);
  });
});

describe('a save merged with someone else’s change', () => {
  const merged = { content: 'both', theirs: 'b'.repeat(40) };

  it('names who made the change it was merged with', () => {
    const savedBy = new SavedBy();
    savedBy.add({ path: PAGE, branch: 'main', commit: 'b'.repeat(40), user: 'bob' });
    const message = mergedMessage(PAGE, merged, 'c'.repeat(40), (c) => savedBy.user(c));
    expect(message.kind).toBe('success');
    expect(message.title).toBe(`Saved ${PAGE} as ccccccc: merged with bob's change.`);
  });

  it('names the commit when nobody said who made it', () => {
    const message = mergedMessage(PAGE, merged, 'c'.repeat(40), () => undefined);
    expect(message.title).toContain('merged with the change in bbbbbbb');
  });

  it('remembers only the newest commits', () => {
    const savedBy = new SavedBy(2);
    for (const c of ['1', '2', '3']) {
      savedBy.add({ path: PAGE, branch: 'main', commit: c.repeat(40), user: `u${c}` });
    }
    expect(savedBy.user('1'.repeat(40))).toBeUndefined();
    expect(savedBy.user('3'.repeat(40))).toBe('u3');
  });
});

describe('someone else saves a file I have open', () => {
  const open = [{ path: PAGE, branch: 'main', dirty: true }];

  it('tells me at once', () => {
    const message = savedElsewhere(
      { path: PAGE, branch: 'main', commit: 'd'.repeat(40), user: 'bob' },
      'ann',
      open,
    );
    expect(message?.title).toBe(`bob saved ${PAGE} (ddddddd).`);
  });

  it('stays quiet about my own saves and files I do not have open', () => {
    const mine = { path: PAGE, branch: 'main', commit: 'd'.repeat(40), user: 'ann' };
    expect(savedElsewhere(mine, 'ann', open)).toBeUndefined();
    expect(
      savedElsewhere({ ...mine, user: 'bob', branch: 'reflex/x/y' }, 'ann', open),
    ).toBeUndefined();
  });

  it('tells me on a change request when the file I have open in it is saved on main', () => {
    const onChange = [{ path: PAGE, branch: 'reflex/ann/new-look', dirty: false }];
    const saved = { path: PAGE, branch: 'main', commit: 'e'.repeat(40), user: 'bob' };
    const message = savedElsewhere(saved, 'ann', onChange, 'main');
    expect(message?.title).toBe(`bob saved ${PAGE} on main (eeeeeee).`);
    expect(message?.detail).toBe(
      'Your next save takes it into reflex/ann/new-look, merged with yours when your changes are in other lines.',
    );
    expect(savedElsewhere(saved, 'ann', onChange)).toBeUndefined();
    expect(
      savedElsewhere({ ...saved, path: 'other.html' }, 'ann', onChange, 'main'),
    ).toBeUndefined();
  });
});
