/**
 * Property test: whatever path a client puts in the URL — traversal, encoded and doubled dots,
 * absolute paths, NUL, backslashes, `.git`, symlinks in the repository pointing out — a path
 * outside the editable scope gets a 4xx, and nothing outside the repository is read or written.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { matchesGlob } from '../src/editor/glob';
import { editorHarness, type EditorHarness } from './support/editorApp';
import { rawRequest } from './support/rawHttp';

const SECRET = 'outside-the-repository-7f3a9c';

const fragments = [
  '..',
  '.',
  '',
  '%2e%2e',
  '%2E%2e',
  '%252e%252e',
  '..%2f..',
  '%2f',
  '%5c',
  '..%5c..',
  '%00',
  'a%00b',
  '\\..',
  'C:',
  '%2fetc',
  'etc',
  'passwd',
  '.git',
  '.GIT',
  'config',
  'HEAD',
  'webapp',
  'site',
  'pages',
  'escape',
  'abs',
  'index.html',
  'x.html',
  'ok.css',
  '~',
  '%7e',
  'a%20b',
  '%20',
  '%C3%A9',
  '%e9',
  '%ff',
  'CON',
];

/** A path for the URL: segments from the fragments above or arbitrary text, raw or encoded. */
const urlPath = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...fragments) },
      { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map((s) => encodeURIComponent(s)) },
    ),
    { minLength: 1, maxLength: 6 },
  )
  .chain((segments) =>
    fc.constantFrom(
      segments.join('/'),
      'webapp/site/' + segments.join('/'),
      '/' + segments.join('/'),
      segments.join('//'),
    ),
  );

/**
 * The oracle, written independently of the server's code: the path the URL names, or
 * undefined when it is not a plain relative path (a segment that is empty, `.`, `..`, `.git`,
 * or holds a `/`, `\\`, NUL or control character, or bad encoding).
 */
function expectedPath(raw: string): string | undefined {
  const segments: string[] = [];
  for (const encoded of raw.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(encoded);
    } catch {
      return undefined;
    }
    const plain =
      segment !== '' &&
      segment !== '.' &&
      segment !== '..' &&
      segment.toLowerCase() !== '.git' &&
      // eslint-disable-next-line no-control-regex
      !/[/\\\u0000-\u001f\u007f]/.test(segment) &&
      segment.isWellFormed();
    if (!plain) return undefined;
    segments.push(segment);
  }
  if (/^[a-zA-Z]:/.test(segments[0] ?? '')) return undefined;
  return segments.join('/');
}

/** Every path of the origin's branch is a plain path (no `..`, `.`, empty or `.git` segment). */
function originPathsArePlain(h: EditorHarness): boolean {
  const files = execFileSync('git', ['ls-tree', '-r', '--name-only', '-z', 'HEAD'], {
    cwd: h.origin.dir,
  })
    .toString()
    .split('\0')
    .filter(Boolean);
  return files.every((f) => expectedPath(f.split('/').map(encodeURIComponent).join('/')) === f);
}

describe('editor paths (property)', () => {
  let h: EditorHarness;
  let port: number;
  let server: http.Server;
  let cookie: string;
  const sentinel = () => path.join(h.dir, 'sentinel.txt');
  const outsideListing = () =>
    readdirSync(h.dir).sort().join('\n') + '\n' + readdirSync(h.origin.root).sort().join('\n');

  beforeAll(async () => {
    h = await editorHarness({
      files: {
        'webapp/site/pages/index.html': '<h1>hi</h1>\n',
        'webapp/site/ok.css': 'a{}\n',
        'README.md': '# r\n',
      },
      symlinks: { 'webapp/site/escape': '../../..', 'webapp/site/abs': '/etc' },
    });
    writeFileSync(sentinel(), SECRET);
    const handle = h.app.callback();
    server = http.createServer((req, res) => void handle(req, res)).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    port = (server.address() as AddressInfo).port;
    const signIn = await rawRequest(port, 'POST', '/api/session', {
      body: { username: 'admin', password: 'correct horse battery' },
    });
    cookie = signIn.headers['set-cookie']![0]!.split(';')[0]!;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await h.close();
  });

  it('refuses every path outside the editable scope with a 4xx and touches nothing outside the repository', async () => {
    const before = outsideListing();
    await fc.assert(
      fc.asyncProperty(
        urlPath,
        fc.constantFrom('GET', 'PUT', 'DELETE', 'POST'),
        async (raw, method) => {
          const base = h.origin.head();
          const url =
            method === 'POST'
              ? `/api/diff/${raw}`
              : method === 'DELETE'
                ? `/api/files/${raw}?baseCommit=${base}`
                : `/api/files/${raw}`;
          const res = await rawRequest(port, method, url, {
            headers: { Cookie: cookie },
            ...(method === 'PUT' || method === 'POST'
              ? { body: { content: 'probe\n', baseCommit: base } }
              : {}),
          });
          expect(res.body).not.toContain(SECRET);
          expect(res.body).not.toContain('root:x:0:0');
          const normalised = expectedPath(raw);
          const inScope =
            normalised !== undefined &&
            matchesGlob(normalised, 'webapp/site/**') &&
            !normalised.startsWith('webapp/site/escape/') &&
            !normalised.startsWith('webapp/site/abs/') &&
            normalised !== 'webapp/site/escape' &&
            normalised !== 'webapp/site/abs';
          if (method === 'PUT' && !inScope) {
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(res.status).toBeLessThan(500);
            expect(h.origin.head()).toBe(base);
          }
          if (method === 'DELETE' && !inScope) {
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(res.status).toBeLessThan(500);
          }
          if (normalised === undefined) expect([400, 404]).toContain(res.status);
          if (res.status === 200 && method === 'PUT') {
            // A write that was accepted landed exactly at the normalised path, inside the scope.
            expect(inScope).toBe(true);
            expect(h.origin.show(normalised!)).toBe('probe\n');
          }
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    expect(readFileSync(sentinel(), 'utf8')).toBe(SECRET);
    expect(outsideListing()).toBe(before);
    expect(originPathsArePlain(h)).toBe(true);
  }, 120_000);

  it('never follows a symlink: reading one is 415, writing through one is 403', async () => {
    const base = h.origin.head();
    expect(
      (await rawRequest(port, 'GET', '/api/files/webapp/site/abs', { headers: { Cookie: cookie } }))
        .status,
    ).toBe(415);
    const through = await rawRequest(port, 'PUT', '/api/files/webapp/site/abs/passwd', {
      headers: { Cookie: cookie },
      body: { content: 'x', baseCommit: base },
    });
    expect(through.status).toBe(403);
    expect(JSON.parse(through.body).reason).toBe('symbolic link at webapp/site/abs');
    const onto = await rawRequest(port, 'PUT', '/api/files/webapp/site/escape', {
      headers: { Cookie: cookie },
      body: { content: 'x', baseCommit: base },
    });
    expect(onto.status).toBe(403);
    expect(h.origin.head()).toBe(base);
  });
});
