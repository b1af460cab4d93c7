import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { besideGate, GateError, runGate } from './gate';
import {
  expectedTests,
  jestArgs,
  jestFlags,
  parseGate,
  testCandidates,
  testsRun,
  typecheckNeeded,
  typecheckProjects,
} from './gateRules';

describe('the gate settings', () => {
  it.each([
    [undefined, ['typecheck', 'test']],
    ['', ['typecheck', 'test']],
    ['off', []],
    ['typecheck', ['typecheck']],
    ['test, typecheck', ['test', 'typecheck']],
  ])('REFLEX_GATE=%j runs %j', (value, steps) => {
    expect(parseGate(value)).toEqual(steps);
  });

  it('names an unknown step', () => {
    expect(() => parseGate('typecheck,lint')).toThrow(
      'REFLEX_GATE: unknown step "lint" (use typecheck, test, or off)',
    );
  });
});

describe('when the type-check can be skipped', () => {
  it('runs when no commit passed it yet', () => {
    expect(typecheckNeeded(undefined)).toBe(true);
  });

  it('skips when only pages, styles and assets changed since it last passed', () => {
    expect(typecheckNeeded([])).toBe(false);
    expect(
      typecheckNeeded([
        'webapp/site/pages/index.html',
        'webapp/site/assets/site.css',
        'webapp/site/assets/logo.PNG',
        'README.md',
      ]),
    ).toBe(false);
  });

  it.each([
    'webapp/site/routes.ts',
    'webapp/site/data.json',
    'webapp/site/assets/app.js',
    'package-lock.json',
    'webapp/tsconfig.json',
    'webapp/site/types.d.ts',
    'Makefile',
  ])('runs when %s changed', (file) => {
    expect(typecheckNeeded(['webapp/site/pages/index.html', file])).toBe(true);
  });
});

describe('the tests a change must run', () => {
  const files = new Set([
    'webapp/site/routes.ts',
    'webapp/site/routes.test.ts',
    'webapp/src/app.ts',
    'webapp/src/app.test.ts',
    'webapp/site/data.ts',
    'test/loop.e2e.test.ts',
  ]);
  const exists = (file: string) => files.has(file);

  it('are the test beside each changed source file, and each changed unit test', () => {
    expect(
      expectedTests(
        ['webapp/site/routes.ts', 'webapp/src/app.test.ts', 'webapp/site/data.ts'],
        exists,
      ),
    ).toEqual(['webapp/site/routes.test.ts', 'webapp/src/app.test.ts']);
  });

  it('leave out other tiers, declarations, data and deleted tests', () => {
    expect(
      expectedTests(
        ['test/loop.e2e.test.ts', 'webapp/site/types.d.ts', 'webapp/site/x.json', 'gone.test.ts'],
        exists,
      ),
    ).toEqual([]);
  });

  it('are read back from jest --json relative to the release folder', () => {
    const report = JSON.stringify({
      testResults: [{ name: '/r/.reflex/releases/abc/webapp/site/routes.test.ts' }],
    });
    expect(testsRun(report, '/r/.reflex/releases/abc')).toEqual(['webapp/site/routes.test.ts']);
  });
});

describe('jest inside a release folder under .reflex/ (where npm start keeps them)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-gate-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds the tests related to a site route', () => {
    const project = path.resolve(__dirname, '../../..');
    const release = path.join(root, 'checkout/.reflex/releases/0123456789ab');
    mkdirSync(release, { recursive: true });
    for (const file of [
      'jest.config.js',
      'test/tiers.json',
      'jest/esbuild-transform.cjs',
      'jest/browserSetup.mjs',
      'jest/browserTeardown.mjs',
      'webapp/site/routes.ts',
      'webapp/site/routes.test.ts',
    ]) {
      mkdirSync(path.dirname(path.join(release, file)), { recursive: true });
      copyFileSync(path.join(project, file), path.join(release, file));
    }
    symlinkSync(path.join(project, 'node_modules'), path.join(release, 'node_modules'));
    const listed = execFileSync(
      process.execPath,
      [
        path.join(project, 'node_modules/jest/bin/jest.js'),
        '--selectProjects',
        'unit',
        '--listTests',
        '--findRelatedTests',
        'webapp/site/routes.ts',
      ],
      { cwd: release, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
    expect(listed.split('\n').filter((line) => line.startsWith('/'))).toEqual([
      path.join(release, 'webapp/site/routes.test.ts'),
    ]);
  });
});

describe('a gate whose test configuration ignores the change', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-gate-vacuous-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('fails, naming the tests it did not run, instead of passing with none', async () => {
    const project = path.resolve(__dirname, '../../..');
    const release = path.join(root, '.reflex/releases/0123456789ab');
    for (const file of [
      'jest/esbuild-transform.cjs',
      'webapp/site/routes.ts',
      'webapp/site/routes.test.ts',
    ]) {
      mkdirSync(path.dirname(path.join(release, file)), { recursive: true });
      copyFileSync(path.join(project, file), path.join(release, file));
    }
    // The configuration the local gate once ran with: an unanchored pattern that ignores
    // every test inside `.reflex/`.
    writeFileSync(
      path.join(release, 'jest.config.js'),
      `module.exports = { projects: [{ displayName: 'unit', rootDir: __dirname,
        transform: { '^.+\\\\.tsx?$': '<rootDir>/jest/esbuild-transform.cjs' },
        testPathIgnorePatterns: ['/node_modules/', '/\\\\.reflex/'] }] };\n`,
    );
    symlinkSync(path.join(project, 'node_modules'), path.join(release, 'node_modules'));
    const logs = path.join(root, 'logs');
    mkdirSync(logs);
    const gate = runGate({
      steps: ['test'],
      dir: release,
      changedFiles: ['webapp/site/routes.ts'],
      changedSinceTypechecked: undefined,
      cacheDir: path.join(root, 'cache'),
      logDir: logs,
      timeoutMs: 60_000,
    });
    await expect(gate).rejects.toThrow(GateError);
    await expect(gate).rejects.toThrow('did not run: webapp/site/routes.test.ts');
  });
});

describe('the TypeScript projects a change needs checked', () => {
  const all = () => true;
  it.each([
    [undefined, ['webapp/tsconfig.json', 'webapp/src/editor-ui/tsconfig.json']],
    [['webapp/site/routes.ts'], ['webapp/site/tsconfig.json']],
    [['webapp/site/routes.ts', 'webapp/site/pages/index.html'], ['webapp/site/tsconfig.json']],
    [['webapp/site/data.json'], ['webapp/site/tsconfig.json']],
    [['webapp/src/site/app.ts'], ['webapp/tsconfig.json']],
    [['webapp/src/editor/service.ts'], ['webapp/tsconfig.json']],
    [
      ['webapp/src/editor-ui/tabs.ts'],
      ['webapp/tsconfig.json', 'webapp/src/editor-ui/tsconfig.json'],
    ],
    [['tsconfig.json'], ['webapp/tsconfig.json', 'webapp/src/editor-ui/tsconfig.json']],
  ])('after %j: %j', (changed, projects) => {
    expect(typecheckProjects(changed, all)).toEqual(projects);
  });

  it('a tree without the site project checks the whole webapp', () => {
    expect(
      typecheckProjects(['webapp/site/routes.ts'], (t) => t !== 'webapp/site/tsconfig.json'),
    ).toEqual(['webapp/tsconfig.json']);
  });
});

describe("jest's arguments", () => {
  it('are the same for the cold command line and the warm runCLI', () => {
    const args = jestArgs(['webapp/site/routes.ts'], '/cache/jest');
    expect(jestFlags(args)).toEqual([
      '--selectProjects',
      'unit',
      '--ci',
      '--runInBand',
      '--passWithNoTests',
      '--no-watchman',
      '--cacheDirectory',
      '/cache/jest',
      '--findRelatedTests',
      'webapp/site/routes.ts',
    ]);
  });
});

describe('the files jest is asked about', () => {
  const exists = () => true;
  const siteTests = ['webapp/site/pages.test.ts', 'webapp/site/routes.test.ts'];
  it('for a page or an asset: every site test, which are the tests that can read it', () => {
    expect(testCandidates(['webapp/site/pages/index.html'], exists, siteTests)).toEqual(siteTests);
    expect(testCandidates(['webapp/site/assets/site.css'], exists, siteTests)).toEqual(siteTests);
  });
  it('for code: the changed files (jest finds their tests)', () => {
    expect(testCandidates(['webapp/site/routes.ts'], exists, siteTests)).toEqual([
      'webapp/site/routes.ts',
    ]);
  });
  it('for text outside the site: nothing', () => {
    expect(testCandidates(['README.md', 'docs/EDITOR.md'], exists, siteTests)).toEqual([]);
  });
});

describe('the build beside the gate', () => {
  const building = (seen: { aborted?: boolean }) => (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => resolve('built'), 50);
      signal.addEventListener('abort', () => {
        seen.aborted = true;
        clearTimeout(timer);
        reject(new Error('build stopped'));
      });
    });

  it('a green gate hands over the build it ran beside', async () => {
    const seen: { aborted?: boolean } = {};
    const built = await besideGate(
      () => Promise.resolve(),
      building(seen),
      new AbortController().signal,
    );
    expect(await built()).toBe('built');
    expect(seen.aborted).toBeUndefined();
  });

  it('a red gate stops the build and fails with the gate', async () => {
    const seen: { aborted?: boolean } = {};
    await expect(
      besideGate(
        () => Promise.reject(new Error('tests failed')),
        building(seen),
        new AbortController().signal,
      ),
    ).rejects.toThrow('tests failed');
    expect(seen.aborted).toBe(true);
  });

  it('stopping the pipeline stops the build', async () => {
    const seen: { aborted?: boolean } = {};
    const stop = new AbortController();
    const gate = new Promise<void>((_, reject) =>
      stop.signal.addEventListener('abort', () => reject(new Error('stopping'))),
    );
    const run = besideGate(() => gate, building(seen), stop.signal);
    stop.abort();
    await expect(run).rejects.toThrow('stopping');
    expect(seen.aborted).toBe(true);
  });
});
