import {
  DraftStore,
  TabMemory,
  loadSettings,
  moveWork,
  saveSettings,
  type StorageLike,
} from './storage';

/** The Web Storage API in memory; `full` makes every write fail like a full quota. */
class MemoryStorage implements StorageLike {
  private readonly items = new Map<string, string>();
  full = false;
  get length() {
    return this.items.size;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    if (this.full) throw new DOMException('quota exceeded', 'QuotaExceededError');
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

const BASE = '1'.repeat(40);
const NEWER = '2'.repeat(40);

describe('drafts of unsaved edits', () => {
  it('keeps a draft per path with the base it was made on', () => {
    const drafts = new DraftStore(new MemoryStorage(), 'ann');
    expect(drafts.put('a.html', BASE, 'edited', new Date('2026-01-01T00:00:00Z'))).toBe(true);
    expect(drafts.get('a.html')).toEqual({
      path: 'a.html',
      base: BASE,
      content: 'edited',
      savedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(drafts.get('b.html')).toBeUndefined();
  });

  it('a draft on a newer base replaces the older one', () => {
    const storage = new MemoryStorage();
    const drafts = new DraftStore(storage, 'ann');
    drafts.put('a.html', BASE, 'first');
    drafts.put('a.html', NEWER, 'second');
    expect(drafts.all()).toEqual([expect.objectContaining({ base: NEWER, content: 'second' })]);
    expect(storage.length).toBe(1);
  });

  it('drafts belong to one user: another user on the same browser does not see them', () => {
    const storage = new MemoryStorage();
    new DraftStore(storage, 'ann').put('a.html', BASE, 'ann edits');
    expect(new DraftStore(storage, 'bob').get('a.html')).toBeUndefined();
    expect(new DraftStore(storage, 'ann').get('a.html')?.content).toBe('ann edits');
  });

  it('removing a draft leaves the other paths and foreign keys alone', () => {
    const storage = new MemoryStorage();
    storage.setItem('something.else', 'x');
    const drafts = new DraftStore(storage, 'ann');
    drafts.put('a.html', BASE, 'a');
    drafts.put('b.html', BASE, 'b');
    drafts.remove('a.html');
    expect(drafts.all().map((d) => d.path)).toEqual(['b.html']);
    expect(storage.getItem('something.else')).toBe('x');
  });

  it('paths with quotes, colons and brackets round-trip', () => {
    const drafts = new DraftStore(new MemoryStorage(), 'ann');
    const odd = 'webapp/site/pages/"quoted" [1]:x.html';
    drafts.put(odd, BASE, 'odd');
    expect(drafts.get(odd)?.content).toBe('odd');
  });

  it('ignores entries it cannot read instead of failing', () => {
    const storage = new MemoryStorage();
    storage.setItem('reflex.draft.v1:not json', '{}');
    storage.setItem(`reflex.draft.v1:${JSON.stringify(['ann', 'a.html', BASE])}`, 'not json');
    expect(new DraftStore(storage, 'ann').all()).toEqual([]);
  });

  it('reports a full storage instead of throwing', () => {
    const storage = new MemoryStorage();
    storage.full = true;
    expect(new DraftStore(storage, 'ann').put('a.html', BASE, 'x')).toBe(false);
  });
});

describe('open tabs and settings', () => {
  it('remembers the open tabs and the active one per user', () => {
    const storage = new MemoryStorage();
    new TabMemory(storage, 'ann').save({ paths: ['a', 'b'], active: 'b' });
    expect(new TabMemory(storage, 'ann').load()).toEqual({ paths: ['a', 'b'], active: 'b' });
    expect(new TabMemory(storage, 'bob').load()).toEqual({ paths: [], active: undefined });
  });

  it('drops an active tab that is not among the open ones', () => {
    const storage = new MemoryStorage();
    storage.setItem('reflex.tabs.v1:ann', JSON.stringify({ paths: ['a', 7], active: 'zzz' }));
    expect(new TabMemory(storage, 'ann').load()).toEqual({ paths: ['a'], active: undefined });
  });

  it('taking the user to the updated app is on by default; turning it off persists', () => {
    const storage = new MemoryStorage();
    expect(loadSettings(storage)).toEqual({ followDeploy: true });
    expect(saveSettings(storage, { followDeploy: false })).toBe(true);
    expect(loadSettings(storage)).toEqual({ followDeploy: false });
    storage.setItem('reflex.settings.v1', '{"followDeploy":"yes"}');
    expect(loadSettings(storage)).toEqual({ followDeploy: true });
  });
});

describe('work carried into a new change request', () => {
  it('moves the drafts and the open tabs, leaving none on the deploy branch', () => {
    const storage = new MemoryStorage();
    new DraftStore(storage, 'ann').put('a.html', BASE, 'mine');
    new DraftStore(storage, 'bob').put('a.html', BASE, 'not ann’s');
    new TabMemory(storage, 'ann').save({ paths: ['a.html', 'b.css'], active: 'a.html' });
    expect(moveWork(storage, 'ann', 'ann@reflex/ann/x')).toEqual(['a.html']);
    expect(new DraftStore(storage, 'ann').all()).toEqual([]);
    expect(new DraftStore(storage, 'ann@reflex/ann/x').get('a.html')).toMatchObject({
      base: BASE,
      content: 'mine',
    });
    expect(new TabMemory(storage, 'ann@reflex/ann/x').load()).toEqual({
      paths: ['a.html', 'b.css'],
      active: 'a.html',
    });
    expect(new DraftStore(storage, 'bob').get('a.html')?.content).toBe('not ann’s');
  });

  it('keeps a draft where it was when it cannot be written to the change request', () => {
    const storage = new MemoryStorage();
    new DraftStore(storage, 'ann').put('a.html', BASE, 'mine');
    storage.full = true;
    expect(moveWork(storage, 'ann', 'ann@reflex/ann/x')).toEqual([]);
    expect(new DraftStore(storage, 'ann').get('a.html')?.content).toBe('mine');
  });
});
