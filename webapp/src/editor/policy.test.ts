import { matchesGlob } from './glob';
import { EditPolicy, PathError, normalizeRepoPath } from './policy';

describe('globs', () => {
  it.each([
    ['webapp/site/**', 'webapp/site/pages/index.html', true],
    ['webapp/site/**', 'webapp/site', false],
    ['webapp/site/**', 'webapp/sitex/a', false],
    ['**/package.json', 'package.json', true],
    ['**/package.json', 'a/b/package.json', true],
    ['**/package.json', 'a/b/package.json.bak', false],
    ['**/Dockerfile.*', 'webapp/Dockerfile.prod', true],
    ['Pulumi*.yaml', 'Pulumi.dev.yaml', true],
    ['*.md', 'docs/x.md', false],
    ['docs/*.md', 'docs/x.md', true],
    ['docs/?.md', 'docs/ab.md', false],
    ['a.b/**', 'aXb/c', false],
    ['**', 'anything/at/all', true],
  ])('%s matches %s: %s', (glob, path, expected) => {
    expect(matchesGlob(path, glob)).toBe(expected);
  });
});

describe('normalizeRepoPath', () => {
  it.each(['webapp/site/pages/index.html', 'README.md', 'a b/c-d_e.f', 'dir/.hidden', 'é/ü.txt'])(
    'keeps %s',
    (p) => {
      expect(normalizeRepoPath(p)).toBe(p);
    },
  );

  it.each([
    ['', 'empty path'],
    ['../etc/passwd', '".." segment in path'],
    ['webapp/../../x', '".." segment in path'],
    ['./x', '"." segment in path'],
    ['a//b', '"//" segment in path'],
    ['a/', '"//" segment in path'],
    ['/etc/passwd', 'absolute path'],
    ['C:/x', 'absolute path'],
    ['a\\b', 'backslash in path'],
    ['a\u0000b', 'control character in path'],
    ['a\nb', 'control character in path'],
    ['.git/config', '.git in path'],
    ['sub/.GIT/hooks', '.git in path'],
    ['x'.repeat(1025), 'path longer than 1024 characters'],
    ['\ud800', 'path is not valid Unicode'],
  ])('refuses %j: %s', (p, reason) => {
    expect(() => normalizeRepoPath(p)).toThrow(new PathError(reason));
  });
});

describe('EditPolicy', () => {
  const everything = new EditPolicy(['**']);

  it.each([
    '.github/workflows/ci.yml',
    '.ci/run',
    'deploy-scripts/deploy.sh',
    'deploy-scripts/lib/common.sh',
    'pulumi/index.ts',
    'Pulumi.yaml',
    'Pulumi.prod.yaml',
    'Dockerfile',
    'webapp/Dockerfile',
    'package.json',
    'webapp/package.json',
    'package-lock.json',
    'yarn.lock',
    '.npmrc',
    'scripts/install-test-tools.sh',
    'webapp/scripts/build.mjs',
    'jest.config.js',
    'compose.yaml',
    'prometheus/rules/app.yml',
    'webapp/src/editor/policy.ts',
  ])('%s is protected even when the scope is **', (path) => {
    const verdict = everything.verdict(path);
    expect(verdict.editable).toBe(false);
    expect(verdict.editable === false && verdict.reason).toMatch(/^protected: /);
  });

  it('the default scope is the site, and the platform code is read-only', () => {
    const policy = new EditPolicy();
    expect(policy.verdict('webapp/site/pages/index.html')).toEqual({ editable: true });
    expect(policy.verdict('README.md')).toEqual({
      editable: false,
      reason: 'outside the editable scope (webapp/site/**)',
    });
    expect(policy.verdict('webapp/src/app.ts')).toMatchObject({
      editable: false,
      reason: expect.stringMatching(/^protected: webapp\/src\/\*\* /),
    });
  });

  it('configuration can narrow the scope', () => {
    const narrow = new EditPolicy(['webapp/site/pages/**']);
    expect(narrow.verdict('webapp/site/pages/a.html').editable).toBe(true);
    expect(narrow.verdict('webapp/site/routes.ts').editable).toBe(false);
  });

  it('refuses an empty scope', () => {
    expect(() => new EditPolicy([])).toThrow('the editable scope needs at least one glob');
  });
});
