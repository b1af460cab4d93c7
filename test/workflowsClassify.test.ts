/**
 * What a deploy gates on (deploy-scripts/ci/classify.sh), as a table: the level a set of
 * changed paths needs (content: the site's tests and the build; code: plus the type-check and
 * the unit tier; all: every tier), and the same decision from a real commit range.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const CLASSIFY = path.join(ROOT, 'deploy-scripts/ci/classify.sh');

function classify(paths: string[]): string {
  const result = spawnSync(CLASSIFY, ['--paths'], { input: paths.join('\n'), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

const table: [string, string[], 'content' | 'code' | 'all'][] = [
  ['a page', ['webapp/site/pages/index.html'], 'content'],
  [
    'a style sheet and an image',
    ['webapp/site/assets/site.css', 'webapp/site/assets/logo.PNG'],
    'content',
  ],
  ['markdown and json data', ['webapp/site/README.md', 'webapp/site/data/team.json'], 'content'],
  ['no change at all', [], 'content'],
  ['a site route', ['webapp/site/routes.ts'], 'code'],
  ['a page and a site script', ['webapp/site/pages/a.html', 'webapp/site/assets/app.js'], 'code'],
  ['a site test, even as json', ['webapp/site/routes.test.ts'], 'code'],
  ['a site test fixture', ['webapp/site/test/fixture.json'], 'code'],
  ['a file with no extension in the site', ['webapp/site/CNAME'], 'code'],
  ['the platform', ['webapp/src/server.ts'], 'all'],
  ['a page and deploy-scripts/', ['webapp/site/pages/a.html', 'deploy-scripts/deploy.sh'], 'all'],
  ['a workflow', ['.github/workflows/deploy.yml'], 'all'],
  ['the protected list', ['.github/workflows/protected-paths.txt'], 'all'],
  ['infrastructure', ['pulumi/index.ts'], 'all'],
  ['a page and pulumi/', ['webapp/site/pages/a.html', 'pulumi/Pulumi.dev.yaml'], 'all'],
  ['the lockfile', ['package-lock.json'], 'all'],
  ['a package.json inside the site', ['webapp/site/package.json'], 'all'],
  ['a tsconfig inside the site', ['webapp/site/tsconfig.json'], 'all'],
  ['the image', ['Dockerfile'], 'all'],
  ['test configuration', ['jest.config.js'], 'all'],
  ['a shell script at the root', ['scripts/install-test-tools.sh'], 'all'],
  ['docs', ['docs/DEPLOY.md'], 'all'],
  ['a path that only looks like the site', ['webapp/site-old/index.html'], 'all'],
  ['the site folder in capitals', ['WEBAPP/SITE/pages/a.html'], 'content'],
];

describe('what a deploy gates on, by the paths it changes', () => {
  it.each(table)('%s -> %s', (_, paths, level) => {
    expect(classify(paths)).toBe(`level=${level}`);
  });

  it('a change under deploy-scripts/, .github/ or pulumi/ always gets every tier', () => {
    const site = ['webapp/site/pages/a.html', 'webapp/site/routes.ts'];
    for (const protectedPath of [
      'deploy-scripts/lib/common.sh',
      '.github/ci.yml',
      'pulumi/host.ts',
    ]) {
      for (const at of [0, 1, 2]) {
        const paths = [...site];
        paths.splice(at, 0, protectedPath);
        expect([paths, classify(paths)]).toEqual([paths, 'level=all']);
      }
    }
  });

  describe('from a commit range', () => {
    let repo: string;
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: repo,
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@x',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@x',
        },
      }).trim();
    const commit = (file: string) => {
      mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
      writeFileSync(path.join(repo, file), `${Math.random()}\n`);
      git('add', '--all');
      git('commit', '--quiet', '-m', file);
      return git('rev-parse', 'HEAD');
    };
    const range = (base: string, head: string) =>
      spawnSync(CLASSIFY, [base, head], { cwd: repo, encoding: 'utf8' });

    beforeEach(() => {
      repo = mkdtempSync(path.join(os.tmpdir(), 'reflex-classify-'));
      git('init', '--quiet');
    });
    afterEach(() => rmSync(repo, { recursive: true, force: true }));

    it('takes every path between the live commit and the new one, and none live means all', () => {
      const live = commit('webapp/src/server.ts');
      const page = commit('webapp/site/pages/index.html');
      expect(range(live, page).stdout).toBe('level=content\n');
      const route = commit('webapp/site/routes.ts');
      expect(range(live, route).stdout).toBe('level=code\n');
      expect(range(route, commit('webapp/site/pages/about.html')).stdout).toBe('level=content\n');
      const deployScripts = commit('deploy-scripts/deploy.sh');
      const later = commit('webapp/site/pages/b.html');
      expect(range(live, later).stdout).toBe('level=all\n');
      expect(range(deployScripts, later).stdout).toBe('level=content\n');
      expect(range('none', later).stdout).toBe('level=all\n');
    });

    it('bad input is named', () => {
      const head = commit('webapp/site/pages/index.html');
      expect(range('main', head)).toMatchObject({
        status: 64,
        stderr: expect.stringContaining("BASE must be a full commit SHA or none, got 'main'"),
      });
      expect(range('f'.repeat(40), head)).toMatchObject({
        status: 1,
        stderr: expect.stringContaining('cannot compare'),
      });
    });
  });
});
