import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git } from '../../test/support/repos';
import { Origin, refsStamp } from './origin';

describe("the origin's refs stamp (the branch poll asks git only when it moved)", () => {
  let dir: string;
  let bare: string;
  let work: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-origin-'));
    bare = path.join(dir, 'origin.git');
    work = path.join(dir, 'work');
    git(dir, ['init', '-q', '--bare', '-b', 'main', bare]);
    git(dir, ['init', '-q', '-b', 'main', work]);
    git(work, ['commit', '-q', '--allow-empty', '-m', 'one']);
    git(work, ['push', '-q', bare, 'main']);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A fresh Origin that has taken its first look. */
  function looked(): Origin {
    const origin = new Origin(bare, 'main');
    expect(origin.refsMayHaveMoved()).toBe(true);
    expect(origin.refsMayHaveMoved()).toBe(false);
    return origin;
  }

  it('says yes the first time and no while nothing moved', () => {
    looked();
  });

  it('sees a push to the branch', () => {
    const origin = looked();
    git(work, ['commit', '-q', '--allow-empty', '-m', 'two']);
    git(work, ['push', '-q', bare, 'main']);
    expect(origin.refsMayHaveMoved()).toBe(true);
    expect(origin.refsMayHaveMoved()).toBe(false);
  });

  it("sees a change request's branch made, moved and deleted in its nested folder", () => {
    const origin = looked();
    git(work, ['push', '-q', bare, 'main:refs/heads/reflex/ada/first']);
    expect(origin.refsMayHaveMoved()).toBe(true);
    git(work, ['commit', '-q', '--allow-empty', '-m', 'two']);
    git(work, ['push', '-q', bare, 'main:refs/heads/reflex/ada/first']);
    expect(origin.refsMayHaveMoved()).toBe(true);
    expect(origin.refsMayHaveMoved()).toBe(false);
    git(work, ['push', '-q', bare, ':refs/heads/reflex/ada/first']);
    expect(origin.refsMayHaveMoved()).toBe(true);
  });

  it('sees refs packed, and a packed branch deleted', () => {
    git(work, ['push', '-q', bare, 'main:refs/heads/other']);
    const origin = looked();
    git(bare, ['pack-refs', '--all']);
    expect(origin.refsMayHaveMoved()).toBe(true);
    expect(origin.refsMayHaveMoved()).toBe(false);
    git(work, ['push', '-q', bare, ':refs/heads/other']);
    expect(origin.refsMayHaveMoved()).toBe(true);
  });

  it('says yes now and then even when the stamp stayed the same (a coarse clock)', () => {
    const origin = looked();
    const answers = Array.from({ length: 30 }, () => origin.refsMayHaveMoved());
    expect(answers.filter(Boolean).length).toBe(2);
  });

  it('stamps a missing refs folder without throwing', () => {
    expect(refsStamp(path.join(dir, 'nowhere'))).toContain('none');
  });
});
