/**
 * The warm gate refuses exactly what the cold gate refuses: both run on the same commits of a
 * small project (real git, real TypeScript, real jest), one seeded with a type error and one
 * with a failing test.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runGate } from './gate';
import { GateWorkspace } from './gateWorkspace';
import { needsRestart, reaches, WarmGate } from './warmGate';
import { git, GIT_ENV } from '../../test/support/repos';

const PROJECT = path.resolve(__dirname, '../../..');

/** The warm gate's processes this test process started, by pid. */
function gateProcesses(): number[] {
  return execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,args='])
    .toString()
    .split('\n')
    .filter((line) => line.includes('gate-server'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

const GREET = `export function greet(name: string): string {\n  return \`Hello, \${name}!\`;\n}\n`;
const TEST = `import { greet } from './greet';\n\nit('greets', () => {\n  expect(greet('Ada')).toBe('Hello, Ada!');\n});\n`;
/** A site test that reads a page through another process (whose reads no one sees). */
const SPAWNS_TEST = `import { execFileSync } from 'node:child_process';\nimport path from 'node:path';\n\nit('the home page has markup', () => {\n  const page = execFileSync('cat', [path.join(__dirname, 'pages/index.html')]).toString();\n  expect(page).toMatch(/</);\n});\n`;
/** The site's page test: it lists the pages folder and reads every page. */
const COPIES_TEST = `import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';\nimport os from 'node:os';\nimport path from 'node:path';\n\nit('the stylesheet colours the headline', () => {\n  const copy = path.join(mkdtempSync(path.join(os.tmpdir(), 'style-')), 'site.css');\n  copyFileSync(path.join(__dirname, 'assets/site.css'), copy);\n  expect(readFileSync(copy, 'utf8')).toMatch(/h1 \\{ color/);\n});\n`;

const PAGES_TEST = `import { readdirSync, readFileSync } from 'node:fs';\nimport path from 'node:path';\n\nconst dir = path.join(__dirname, 'pages');\n\nit.each(readdirSync(dir))('%s has a headline', (page) => {\n  expect(readFileSync(path.join(dir, page), 'utf8')).toMatch(/<h1>/);\n});\n`;

function write(dir: string, files: Record<string, string>): void {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
}

describe('the warm gate against the cold gate', () => {
  let root: string;
  let work: string;
  let origin: string;
  const commits: Record<string, string> = {};
  let warm: WarmGate;

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-warm-'));
    work = path.join(root, 'work');
    origin = path.join(root, 'origin.git');
    mkdirSync(work);
    git(work, ['init', '--quiet', '--initial-branch=main']);
    write(work, {
      'tsconfig.json': JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node', 'jest'],
          skipLibCheck: true,
        },
      }),
      'webapp/tsconfig.json': JSON.stringify({
        extends: '../tsconfig.json',
        include: ['site/**/*.ts'],
      }),
      'webapp/site/tsconfig.json': JSON.stringify({
        extends: '../../tsconfig.json',
        include: ['**/*.ts'],
      }),
      'jest.config.js': `module.exports = { projects: [{ displayName: 'unit', rootDir: __dirname, testMatch: ['<rootDir>/**/*.test.ts'], testPathIgnorePatterns: ['/node_modules/'], transform: { '^.+\\\\.tsx?$': '<rootDir>/jest/esbuild-transform.cjs' } }] };\n`,
      // The editor's browser code: a project of its own, checked beside the webapp's.
      'webapp/src/editor-ui/tsconfig.json': JSON.stringify({
        extends: '../../../tsconfig.json',
        include: ['**/*.ts'],
      }),
      'webapp/src/editor-ui/title.ts': 'export const title: string = document.title;\n',
      'webapp/site/greet.ts': GREET,
      'webapp/site/greet.test.ts': TEST,
      'webapp/site/pages.test.ts': PAGES_TEST,
      'webapp/site/spawns.test.ts': SPAWNS_TEST,
      'webapp/site/copies.test.ts': COPIES_TEST,
      'webapp/site/assets/site.css': 'h1 { color: teal; }\n',
      'webapp/site/pages/index.html': '<h1>Hi</h1>\n',
    });
    mkdirSync(path.join(work, 'jest'));
    copyFileSync(
      path.join(PROJECT, 'jest/esbuild-transform.cjs'),
      path.join(work, 'jest/esbuild-transform.cjs'),
    );
    const commit = (name: string, files: Record<string, string>) => {
      write(work, files);
      git(work, ['add', '-A']);
      git(work, ['commit', '--quiet', '-m', name]);
      commits[name] = git(work, ['rev-parse', 'HEAD']);
    };
    commit('base', {});
    commit('page', { 'webapp/site/pages/index.html': '<h1>Hello</h1>\n' });
    commit('uiTypeError', {
      'webapp/src/editor-ui/title.ts': 'export const title: number = document.title;\n',
    });
    commit('typeError', {
      'webapp/src/editor-ui/title.ts': 'export const title: string = document.title;\n',
      'webapp/site/greet.ts': GREET.replace('return `', 'const n: number = name;\n  return `'),
    });
    commit('failingTest', { 'webapp/site/greet.ts': GREET.replace('Hello', 'Howdy') });
    commit('fixed', { 'webapp/site/greet.ts': GREET + '\n// fixed\n' });
    commit('pageAgain', { 'webapp/site/pages/index.html': '<h1>Hello again</h1>\n' });
    commit('brokenPage', { 'webapp/site/pages/index.html': '<p>no headline</p>\n' });
    commit('pageFixed', { 'webapp/site/pages/index.html': '<h1>Fixed</h1>\n' });
    commit('assetEdit', { 'webapp/site/assets/site.css': 'h1 { color: navy; }\n' });
    commit('newBrokenPage', { 'webapp/site/pages/about.html': '<p>no headline</p>\n' });
    commit('brokenStyle', {
      'webapp/site/pages/about.html': '<h1>About</h1>\n',
      'webapp/site/assets/site.css': 'p { margin: 0; }\n',
    });
    commit('greetComment', { 'webapp/site/greet.ts': GREET + '\n// a comment\n' });
    git(root, ['clone', '--quiet', '--bare', work, origin]);
    warm = new WarmGate({
      steps: ['typecheck', 'test'],
      workspace: new GateWorkspace(path.join(root, 'gate'), origin, path.join(root, 'gate.index')),
      cacheDir: path.join(root, 'cache'),
      timeoutMs: 120_000,
    });
  });

  afterAll(() => {
    warm?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A release folder of `sha`, as the pipeline makes one. */
  function release(sha: string): string {
    const dir = path.join(root, 'releases', sha);
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git --git-dir "${origin}" archive ${sha} | tar -x -C "${dir}"`], {
      env: GIT_ENV,
    });
    symlinkSync(path.join(PROJECT, 'node_modules'), path.join(dir, 'node_modules'));
    return dir;
  }

  async function verdicts(name: string, previous: string | undefined) {
    const sha = commits[name]!;
    const changed = previous
      ? git(origin, ['diff', '--name-only', previous, sha]).split('\n').filter(Boolean)
      : ['webapp/site/greet.ts', 'webapp/site/greet.test.ts'];
    const dir = release(sha);
    const logs = path.join(root, 'logs', name);
    mkdirSync(logs, { recursive: true });
    const outcome = (p: Promise<string[]>) =>
      p.then(
        () => 'passed',
        (err: Error) => `failed: ${/typecheck|TS\d+/.test(err.message) ? 'typecheck' : 'tests'}`,
      );
    const cold = await outcome(
      runGate({
        steps: ['typecheck', 'test'],
        dir,
        changedFiles: changed,
        changedSinceTypechecked: undefined,
        cacheDir: path.join(root, 'cold-cache'),
        logDir: logs,
        timeoutMs: 120_000,
      }),
    );
    const hot = await outcome(
      warm
        .run({
          sha,
          tree: undefined,
          releaseDir: dir,
          changedFiles: changed,
          changedSinceTypechecked: undefined,
          logDir: logs,
        })
        .then((ran) => ((said[name] = ran), ran)),
    );
    return { cold, warm: hot };
  }
  /** What the warm gate said it ran, by commit. */
  const said: Record<string, string[]> = {};

  it('both pass the base, refuse the seeded type error and the seeded failing test, and pass the fix', async () => {
    const seen = [];
    let previous: string | undefined;
    for (const name of ['base', 'page', 'uiTypeError', 'typeError', 'failingTest', 'fixed']) {
      seen.push([name, await verdicts(name, previous)]);
      previous = commits[name];
    }
    // Each project had a type-checker of its own, so a first check costs the longest one.
    expect(warm.typecheckProcesses).toBe(2);
    expect(seen).toEqual([
      ['base', { cold: 'passed', warm: 'passed' }],
      ['page', { cold: 'passed', warm: 'passed' }],
      ['uiTypeError', { cold: 'failed: typecheck', warm: 'failed: typecheck' }],
      ['typeError', { cold: 'failed: typecheck', warm: 'failed: typecheck' }],
      ['failingTest', { cold: 'failed: tests', warm: 'failed: tests' }],
      ['fixed', { cold: 'passed', warm: 'passed' }],
    ]);
  }, 240_000);

  it('a content edit runs only the passed tests that read it, list its folder or started a process, and a broken page is still refused', async () => {
    const seen = [];
    let previous = commits.fixed;
    const edits = [
      'pageAgain',
      'brokenPage',
      'pageFixed',
      'assetEdit',
      'newBrokenPage',
      'brokenStyle',
    ];
    for (const name of edits) {
      seen.push([name, await verdicts(name, previous)]);
      previous = commits[name];
    }
    expect(seen).toEqual([
      ['pageAgain', { cold: 'passed', warm: 'passed' }],
      ['brokenPage', { cold: 'failed: tests', warm: 'failed: tests' }],
      ['pageFixed', { cold: 'passed', warm: 'passed' }],
      ['assetEdit', { cold: 'passed', warm: 'passed' }],
      ['newBrokenPage', { cold: 'failed: tests', warm: 'failed: tests' }],
      // Its test read the stylesheet by copying it elsewhere first: it still counts as read.
      ['brokenStyle', { cold: 'failed: tests', warm: 'failed: tests' }],
    ]);
    // The greeting's test read no page: it passed at `fixed` and is not run again for a page;
    // the stylesheet's test, first run at `pageAgain`, is not run again for the next page.
    expect(said.pageAgain).toContain(
      'test (3 files; 1 passed before and read nothing changed since)',
    );
    expect(said.pageFixed).toContain(
      'test (2 files; 2 passed before and read nothing changed since)',
    );
    // A style reaches neither the greeting's test nor the pages' (they list and read pages
    // only); the test that copies the stylesheet is run again, and so is the one that reads
    // through another process, for any change.
    expect(said.assetEdit).toContain(
      'test (2 files; 2 passed before and read nothing changed since)',
    );
  }, 240_000);

  it('the warm failure names the failing test, as the cold one does', async () => {
    const dir = path.join(root, 'releases', commits.failingTest!);
    await expect(
      warm.run({
        sha: commits.failingTest!,
        tree: undefined,
        releaseDir: dir,
        changedFiles: ['webapp/site/greet.ts'],
        changedSinceTypechecked: undefined,
        logDir: path.join(root, 'logs', 'failingTest'),
      }),
    ).rejects.toMatchObject({ logTail: expect.stringContaining('greets') });
  }, 120_000);

  it('a gate process that died is started again at the next run, which gives the cold verdict', async () => {
    const dead = gateProcesses();
    // Both type-checkers and the test runner, all ran before.
    expect(dead).toHaveLength(3);
    for (const pid of dead) process.kill(-pid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (gateProcesses().some((pid) => dead.includes(pid)) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 100)); // their exit is heard
    expect(await verdicts('greetComment', commits.brokenStyle)).toEqual({
      cold: 'passed',
      warm: 'passed',
    });
    expect(gateProcesses().filter((pid) => !dead.includes(pid))).toHaveLength(3);
  }, 240_000);
});

describe('whether a change reaches a test that passed, by what it read', () => {
  const inputs = {
    files: ['webapp/site/pages/index.html', 'webapp/site/pages.test.ts'],
    listings: ['webapp/site/pages'],
  };
  it.each([
    [['webapp/site/pages/index.html'], true],
    [['webapp/site/pages/new.html'], true],
    [['webapp/site/pages/deep/new.html'], true],
    [['webapp/site/assets/site.css'], false],
    [['README.md'], false],
    [[], false],
  ])('%j: %s', (changed, reached) => {
    expect(reaches(inputs, changed)).toBe(reached);
  });

  it('a listing of the tree itself is reached by any change', () => {
    expect(reaches({ files: [], listings: [''] }, ['README.md'])).toBe(true);
  });
});

describe('what starts the warm processes over', () => {
  it.each([
    [undefined, true],
    [['webapp/site/greet.ts'], false],
    [['webapp/site/pages/index.html'], false],
    [['jest.config.js'], true],
    [['webapp/site/tsconfig.json'], true],
    [['package-lock.json'], true],
    [['jest/esbuild-transform.cjs'], true],
    [['test/tiers.json'], true],
  ])('%j: %s', (changed, restart) => {
    expect(needsRestart(changed)).toBe(restart);
  });
});
