import type { TreeFile } from '../api/contract';
import type { ReleaseRecord } from '../pipeline/types';
import { formatAgo, formatDuration, parseUnifiedDiff } from './format';
import {
  formatBytes,
  isMissingChunk,
  openFailureMessage,
  saveFailureMessage,
  signInFailureMessage,
} from './messages';
import { apiPath, languageFor, pageUrlFor } from './paths';
import {
  canRollback,
  outcomeLabel,
  rollbackChanges,
  stageTimings,
  totalDurationMs,
} from './releases';
import { buildTree, filterFiles, initiallyOpen } from './tree';

const CONTEXT = { path: 'webapp/site/pages/index.html', maxFileBytes: 1024 * 1024 };

describe('messages for refused saves', () => {
  it('422 names the line and column and carries the position for the cursor', () => {
    const message = saveFailureMessage(
      { status: 422, body: { error: "syntax error: ';' expected", line: 2, column: 18 } },
      CONTEXT,
    );
    expect(message).toEqual({
      kind: 'error',
      title: "Not saved: line 2, column 18: syntax error: ';' expected",
      detail: 'Nothing was committed. Fix the file and save again.',
      position: { line: 2, column: 18 },
    });
  });

  it('422 without a position still explains', () => {
    const message = saveFailureMessage({ status: 422, body: { error: 'not UTF-8' } }, CONTEXT);
    expect(message.title).toBe('Not saved: not UTF-8');
    expect(message.position).toBeUndefined();
  });

  it.each([
    [
      { code: 'forbidden_path', reason: 'protected: .github/**' },
      `Not saved: ${CONTEXT.path} cannot be changed from the editor.`,
      'Reason: protected: .github/**',
    ],
    [
      { code: 'forbidden_role', reason: 'role viewer is read-only' },
      'Not saved: your account can read but not change files.',
      'Reason: role viewer is read-only',
    ],
    [
      { code: 'csrf', reason: 'Sec-Fetch-Site: cross-site' },
      'Not saved: the request did not come from this page.',
      'Reason: Sec-Fetch-Site: cross-site',
    ],
  ])('403 %j says why', (body, title, detail) => {
    expect(saveFailureMessage({ status: 403, body }, CONTEXT)).toMatchObject({
      kind: 'error',
      title,
      detail,
    });
  });

  it('409 says nothing was overwritten', () => {
    const message = saveFailureMessage({ status: 409, body: { code: 'conflict' } }, CONTEXT);
    expect(message.kind).toBe('warning');
    expect(message.detail).toContain('Nothing was overwritten');
  });

  it("409 against the deploy branch's version (under a change request) names that branch", () => {
    const upstream = {
      content: 'x',
      blobSha: null,
      commit: 'a'.repeat(40),
      from: { branch: 'main', commit: 'b'.repeat(40) },
    };
    const message = saveFailureMessage(
      { status: 409, body: { code: 'conflict', upstream } },
      CONTEXT,
    );
    expect(message.title).toBe(
      `${CONTEXT.path} changed on main since this change request took it in.`,
    );
    expect(message.detail).toContain('Nothing was overwritten');
  });

  it('413 names the limit', () => {
    const message = saveFailureMessage(
      { status: 413, body: { error: 'content is 2000 bytes' } },
      { ...CONTEXT, maxFileBytes: 1024 },
    );
    expect(message.detail).toBe('The editor accepts files up to 1 KiB. content is 2000 bytes');
  });

  it('401 and an unreachable server keep the edits in the browser', () => {
    expect(saveFailureMessage({ status: 401, body: {} }, CONTEXT).detail).toContain(
      'kept in this browser',
    );
    expect(saveFailureMessage({ status: 0, body: {} }, CONTEXT).detail).toContain(
      'kept in this browser',
    );
  });

  it('anything else shows the server message and the request id', () => {
    expect(
      saveFailureMessage(
        { status: 500, body: { error: 'Internal Server Error', requestId: 'r-1' } },
        CONTEXT,
      ),
    ).toEqual({
      kind: 'error',
      title: 'Not saved: Internal Server Error',
      detail: 'Request id r-1',
    });
  });

  it('sign-in refusals', () => {
    expect(signInFailureMessage({ status: 401, body: {} })).toBe('Wrong username or password.');
    expect(signInFailureMessage({ status: 429, body: {}, retryAfterSeconds: 42 })).toBe(
      'Too many failed sign-ins. Try again in 42 seconds.',
    );
    expect(signInFailureMessage({ status: 0, body: {} })).toMatch(/could not be reached/);
  });

  it.each([
    [512, '512 bytes'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024, '1 MiB'],
  ])('formatBytes(%d) = %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('messages for a file that could not be opened', () => {
  const PATH = 'webapp/site/big.json';

  it.each([
    [404, {}, `Could not open ${PATH}: it is not on the branch any more.`],
    [415, {}, `Could not open ${PATH}: it is not a text file (binary, or a link).`],
    [500, { error: 'internal error' }, `Could not open ${PATH}: internal error.`],
    [502, {}, `Could not open ${PATH}: HTTP 502.`],
  ])('%i says why', (status, body, title) => {
    expect(openFailureMessage({ status, body }, PATH)).toEqual({ kind: 'error', title });
  });

  it('413 names the limit in the detail', () => {
    const body = { error: 'file is larger than 1048576 bytes' };
    expect(openFailureMessage({ status: 413, body }, PATH)).toEqual({
      kind: 'error',
      title: `Could not open ${PATH}: it is larger than the editor's limit.`,
      detail: body.error,
    });
  });
});

describe('a chunk that is gone after a release', () => {
  it.each([
    ['Failed to fetch dynamically imported module: http://x/editor/assets/chunk-A.js', true],
    ['error loading dynamically imported module: http://x/editor/assets/chunk-A.js', true],
    ['Importing a module script failed.', true],
    ['Cannot read properties of undefined', false],
  ])('%s: %s', (message, missing) => {
    expect(isMissingChunk(new TypeError(message))).toBe(missing);
    expect(isMissingChunk(message)).toBe(missing);
  });
});

describe('paths', () => {
  it('encodes each segment on its own', () => {
    expect(apiPath('/api/files/', 'webapp/site/pages/new page#1?.html')).toBe(
      '/api/files/webapp/site/pages/new%20page%231%3F.html',
    );
    expect(apiPath('/api/files/', 'a/%2F/b')).toBe('/api/files/a/%252F/b');
  });

  it.each([
    ['a/b.ts', 'typescript'],
    ['a/b.tsx', 'typescript'],
    ['b.mjs', 'javascript'],
    ['data.JSON', 'json'],
    ['site.css', 'css'],
    ['index.html', 'html'],
    ['README.md', 'markdown'],
    ['Makefile', 'plaintext'],
    ['.gitignore', 'plaintext'],
    ['a.weird', 'plaintext'],
  ])('%s is highlighted as %s', (path, language) => {
    expect(languageFor(path)).toBe(language);
  });

  it.each([
    ['webapp/site/pages/index.html', '/'],
    ['webapp/site/pages/about.html', '/about'],
    ['webapp/site/pages/404.html', '/'],
    ['webapp/site/assets/site.css', '/'],
    ['webapp/site/pages/Bad Name.html', '/'],
  ])('a change to %s is seen at %s', (path, url) => {
    expect(pageUrlFor(path)).toBe(url);
  });
});

describe('the file tree', () => {
  const files: TreeFile[] = [
    { path: 'webapp/site/pages/page10.html', size: 1, editable: true },
    { path: 'webapp/site/pages/page2.html', size: 1, editable: true },
    { path: 'webapp/src/server.ts', size: 1, editable: false, reason: 'outside' },
    { path: 'package.json', size: 1, editable: false, reason: 'protected' },
    { path: 'README.md', size: 1, editable: false, reason: 'outside' },
  ];

  it('nests folders, sorts names the way people do, and marks folders with editable files', () => {
    const root = buildTree(files);
    expect(root.folders.map((f) => f.name)).toEqual(['webapp']);
    expect(root.files.map((f) => f.path)).toEqual(['package.json', 'README.md']);
    const webapp = root.folders[0]!;
    expect(webapp.folders.map((f) => [f.name, f.hasEditable])).toEqual([
      ['site', true],
      ['src', false],
    ]);
    const pages = webapp.folders[0]!.folders[0]!;
    expect(pages.path).toBe('webapp/site/pages');
    expect(pages.files.map((f) => f.path)).toEqual([
      'webapp/site/pages/page2.html',
      'webapp/site/pages/page10.html',
    ]);
  });

  it('opens the folders that lead to editable files, unless there are too many of them', () => {
    const root = buildTree(files);
    expect([...initiallyOpen(root)].sort()).toEqual(['webapp', 'webapp/site', 'webapp/site/pages']);
    expect(initiallyOpen(root, 1).size).toBe(0);
  });

  it('filters by every word, editable files first, with a limit and the total', () => {
    expect(filterFiles(files, 'PAGE html', 1)).toEqual({
      matches: [files[1]],
      total: 2,
    });
    expect(filterFiles(files, 'e', 10).matches[0]!.editable).toBe(true);
    expect(filterFiles(files, '   ', 10)).toEqual({ matches: [], total: 0 });
  });
});

describe('formatting', () => {
  it.each([
    [12, '12 ms'],
    [1500, '1.5 s'],
    [12_400, '12 s'],
    [60_000, '1 min'],
    [95_000, '1 min 35 s'],
  ])('formatDuration(%d) = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('formatAgo', () => {
    const now = new Date('2026-01-01T12:00:00Z');
    expect(formatAgo('2026-01-01T11:59:50Z', now)).toBe('just now');
    expect(formatAgo('2026-01-01T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAgo('2026-01-01T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAgo('2025-12-20T09:00:00Z', now)).toBe('2025-12-20');
    expect(formatAgo('not a date', now)).toBe('');
  });

  it('parses a unified diff into lines worth showing, with counts', () => {
    const diff = [
      'Index: a/x.html',
      '===================================================================',
      '--- a/x.html',
      '+++ b/x.html',
      '@@ -1,2 +1,2 @@',
      ' same',
      '-old',
      '+new',
      '\\ No newline at end of file',
      '',
    ].join('\n');
    expect(parseUnifiedDiff(diff)).toEqual({
      lines: [
        { kind: 'hunk', text: '@@ -1,2 +1,2 @@' },
        { kind: 'context', text: ' same' },
        { kind: 'del', text: '-old' },
        { kind: 'add', text: '+new' },
        { kind: 'note', text: '\\ No newline at end of file' },
      ],
      added: 1,
      removed: 1,
    });
  });
});

describe('releases', () => {
  const release = (partial: Partial<ReleaseRecord>): ReleaseRecord => ({
    sha: 'c'.repeat(40),
    author: 'Ann',
    message: 'Change the homepage',
    committedAt: '2026-01-01T12:00:00Z',
    outcome: 'retired',
    live: false,
    stages: [],
    ...partial,
  });

  it.each([
    [{ outcome: 'retired' as const }, true],
    [{ outcome: 'restored' as const }, true],
    [{ outcome: 'live' as const, live: true }, false],
    [{ outcome: 'failed' as const }, false],
    [{ outcome: 'superseded' as const }, false],
    [{ outcome: 'running' as const }, false],
    [{ outcome: 'queued' as const }, false],
  ])('rollback offered for %j: %s', (partial, offered) => {
    expect(canRollback(release(partial))).toBe(offered);
  });

  it('labels the live release live whatever its outcome says', () => {
    expect(outcomeLabel(release({ outcome: 'restored', live: true }))).toBe('live');
    expect(outcomeLabel(release({ outcome: 'retired' }))).toBe('was live');
  });

  it('lists stage timings in order, and the total', () => {
    const r = release({
      stages: [
        {
          stage: 'gate',
          startedAt: '2026-01-01T12:00:00Z',
          endedAt: '2026-01-01T12:00:02Z',
          outcome: 'succeeded',
          durationMs: 2000,
        },
        {
          stage: 'build',
          startedAt: '2026-01-01T12:00:02Z',
          endedAt: '2026-01-01T12:00:03.5Z',
          outcome: 'failed',
          durationMs: 1500,
        },
        { stage: 'start', startedAt: '2026-01-01T12:00:04Z', outcome: 'running' },
      ],
    });
    expect(stageTimings(r)).toBe('gate 2.0 s · build 1.5 s (failed) · start running');
    expect(totalDurationMs(r)).toBe(3500);
    expect(totalDurationMs(release({ stages: [] }))).toBeUndefined();
  });

  it('a rollback names the files it changes, protected ones first, and how many more', () => {
    const paths = ['webapp/site/a.html', 'package.json', ...['b', 'c', 'd'].map((n) => `${n}.md`)];
    const changes = rollbackChanges(
      { sha: 'c'.repeat(40), paths, protectedPaths: ['package.json'], allowed: true },
      3,
    );
    expect(changes).toEqual({
      summary: 'It changes 5 files, 1 of them protected:',
      paths: [
        { path: 'package.json', protectedPath: true },
        { path: 'webapp/site/a.html', protectedPath: false },
        { path: 'b.md', protectedPath: false },
      ],
      more: 2,
    });
  });

  it('a rollback this user may not run says why, and lists nothing to confirm', () => {
    const reason = 'only an admin may roll back across them';
    const changes = rollbackChanges({
      sha: 'c'.repeat(40),
      paths: ['package.json'],
      protectedPaths: ['package.json'],
      allowed: false,
      reason,
    });
    expect(changes).toMatchObject({ refusal: reason, paths: [] });
  });
});
