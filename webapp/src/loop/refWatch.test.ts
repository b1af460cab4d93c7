/**
 * The branch watch tells of a push the moment the ref moves, with no hook in the origin: real
 * git pushes to a real bare repository.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readLooseRef, RefWatch } from './refWatch';
import { git } from '../../test/support/repos';

describe('the branch watch', () => {
  let root: string;
  let work: string;
  let origin: string;
  let watch: RefWatch | undefined;

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-refwatch-'));
    work = path.join(root, 'work');
    origin = path.join(root, 'origin.git');
    git(root, ['init', '--quiet', '--bare', '--initial-branch=main', origin]);
    git(root, ['init', '--quiet', '--initial-branch=main', work]);
  });

  afterEach(() => {
    watch?.close();
    rmSync(root, { recursive: true, force: true });
  });

  function commit(text: string, branch = 'main'): string {
    writeFileSync(path.join(work, 'page.html'), text);
    git(work, ['add', '-A']);
    git(work, ['commit', '--quiet', '-m', text]);
    const sha = git(work, ['rev-parse', 'HEAD']);
    git(work, ['push', '--quiet', origin, `HEAD:refs/heads/${branch}`]);
    return sha;
  }

  it('reports each push to the branch, in order, and no push to another branch', async () => {
    commit('first');
    const seen: string[] = [];
    watch = new RefWatch(origin, 'main', (sha) => seen.push(sha));
    expect(watch.active).toBe(true);
    const second = commit('second');
    const other = commit('elsewhere', 'reflex/ada/draft');
    const third = commit('third');
    const deadline = Date.now() + 10_000;
    while (!seen.includes(third) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(seen.filter((sha) => sha !== second)).toEqual([third]);
    expect(seen).not.toContain(other);
    expect(seen.at(-1)).toBe(third);
  });

  it('reads a loose ref, and nothing for one that is absent or not a commit name', async () => {
    const sha = commit('first');
    expect(await readLooseRef(origin, 'refs/heads/main')).toBe(sha);
    expect(await readLooseRef(origin, 'refs/heads/none')).toBeUndefined();
    writeFileSync(path.join(origin, 'refs/heads/odd'), 'ref: refs/heads/main\n');
    expect(await readLooseRef(origin, 'refs/heads/odd')).toBeUndefined();
  });
});
