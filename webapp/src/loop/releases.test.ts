/**
 * A release folder made beside the live one holds exactly the tree `git archive` gives, with
 * the unchanged files shared (hard links) and only the changed ones read from git: real git,
 * a real bare origin.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { homePaths, type HomePaths } from './home';
import { ReleaseStore } from './releases';
import { git, GIT_ENV } from '../../test/support/repos';

/** Every entry below `dir` except the dependency links: path → kind, mode and content. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const name of execFileSync('ls', ['-A', path.join(dir, relative)])
      .toString()
      .split('\n')
      .filter(Boolean)) {
      const child = path.join(relative, name);
      if (name === 'node_modules' || child === path.join('webapp', 'dist')) continue;
      const full = path.join(dir, child);
      const stat = lstatSync(full);
      if (stat.isSymbolicLink()) out[child] = `link ${readlinkSync(full)}`;
      else if (stat.isDirectory()) walk(child);
      else out[child] = `${(stat.mode & 0o111) !== 0 ? 'x' : '-'} ${readFileSync(full, 'utf8')}`;
    }
  };
  walk('');
  return out;
}

describe('a release folder made beside the live one', () => {
  let root: string;
  let paths: HomePaths;
  let store: ReleaseStore;
  const shas: Record<string, string> = {};

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-releases-'));
    const work = path.join(root, 'work-tree');
    const project = path.join(root, 'project');
    mkdirSync(path.join(project, 'node_modules'), { recursive: true });
    paths = homePaths(path.join(root, 'home'));
    for (const dir of [paths.releases, paths.deps, paths.cache])
      mkdirSync(dir, { recursive: true });
    git(root, ['init', '--quiet', '--initial-branch=main', work]);
    const commit = (name: string, change: () => void) => {
      change();
      git(work, ['add', '-A']);
      git(work, ['commit', '--quiet', '-m', name]);
      shas[name] = git(work, ['rev-parse', 'HEAD']);
    };
    commit('base', () => {
      mkdirSync(path.join(work, 'webapp/site/pages'), { recursive: true });
      mkdirSync(path.join(work, 'scripts'), { recursive: true });
      writeFileSync(path.join(work, 'webapp/site/pages/index.html'), '<h1>One</h1>\n');
      writeFileSync(path.join(work, 'webapp/site/pages/about.html'), '<h1>About</h1>\n');
      writeFileSync(path.join(work, 'scripts/run.sh'), '#!/bin/sh\necho run\n');
      chmodSync(path.join(work, 'scripts/run.sh'), 0o755);
      symlinkSync('pages/index.html', path.join(work, 'webapp/site/home.html'));
    });
    commit('edit', () => {
      writeFileSync(path.join(work, 'webapp/site/pages/index.html'), '<h1>Two</h1>\n');
      writeFileSync(path.join(work, 'webapp/site/pages/new.html'), '<h1>New</h1>\n');
      rmSync(path.join(work, 'webapp/site/pages/about.html'));
    });
    git(root, ['clone', '--quiet', '--bare', work, paths.origin]);
    store = new ReleaseStore(paths, project);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('holds the tree of the new commit, sharing the unchanged files with the base folder', async () => {
    const log = path.join(root, 'checkout.log');
    const base = await store.checkout(shas.base!, log);
    mkdirSync(path.join(base, 'webapp/dist'), { recursive: true });
    writeFileSync(
      path.join(base, 'webapp/dist/build-info.json'),
      JSON.stringify({ sha: shas.base, builtAt: new Date().toISOString() }),
    );
    const changed = git(paths.origin, ['diff', '--name-only', shas.base!, shas.edit!]).split('\n');
    const beside = await store.checkoutBeside(shas.edit!, shas.base!, changed, log);
    const reference = path.join(root, 'reference');
    mkdirSync(reference);
    execFileSync(
      'sh',
      ['-c', `git --git-dir "${paths.origin}" archive ${shas.edit} | tar -x -C "${reference}"`],
      { env: GIT_ENV },
    );

    expect(snapshot(beside)).toEqual(snapshot(reference));
    const inode = (dir: string, file: string) => statSync(path.join(dir, file)).ino;
    expect(inode(beside, 'scripts/run.sh')).toBe(inode(base, 'scripts/run.sh'));
    expect(inode(beside, 'webapp/site/pages/index.html')).not.toBe(
      inode(base, 'webapp/site/pages/index.html'),
    );
    expect(readFileSync(path.join(base, 'webapp/site/pages/index.html'), 'utf8')).toBe(
      '<h1>One</h1>\n',
    );
    expect(lstatSync(path.join(beside, 'node_modules')).isSymbolicLink()).toBe(true);
  });

  it('a file missing from the base folder is read from git instead of linked', async () => {
    const log = path.join(root, 'missing.log');
    const base = await store.checkout(shas.base!, log);
    mkdirSync(path.join(base, 'webapp/dist'), { recursive: true });
    writeFileSync(
      path.join(base, 'webapp/dist/build-info.json'),
      JSON.stringify({ sha: shas.base, builtAt: new Date().toISOString() }),
    );
    rmSync(path.join(base, 'scripts/run.sh'));
    const changed = git(paths.origin, ['diff', '--name-only', shas.base!, shas.edit!]).split('\n');
    const beside = await store.checkoutBeside(shas.edit!, shas.base!, changed, log);
    expect(readFileSync(path.join(beside, 'scripts/run.sh'), 'utf8')).toContain('echo run');
    expect(statSync(path.join(beside, 'scripts/run.sh')).mode & 0o111).not.toBe(0);
    expect(readFileSync(path.join(beside, 'webapp/site/pages/index.html'), 'utf8')).toBe(
      '<h1>Two</h1>\n',
    );
  });

  it('a base without a complete folder gives a full checkout', async () => {
    const changed = ['webapp/site/pages/index.html'];
    const dir = await store.checkoutBeside(
      shas.edit!,
      'f'.repeat(40),
      changed,
      path.join(root, 'log'),
    );
    expect(readFileSync(path.join(dir, 'scripts/run.sh'), 'utf8')).toContain('echo run');
    expect(readFileSync(path.join(dir, 'webapp/site/pages/index.html'), 'utf8')).toBe(
      '<h1>Two</h1>\n',
    );
  });
});
