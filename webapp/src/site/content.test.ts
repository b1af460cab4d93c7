import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Content, FileCache, fill, safeRelative, type Loaded } from './content';

const file = (bytes: number): Loaded => ({
  body: Buffer.alloc(bytes),
  etag: '"x"',
  type: 'text/plain',
});

describe('the site file cache', () => {
  it('keeps at most its byte budget, evicting the least recently used file', () => {
    const cache = new FileCache(100);
    cache.set('a', file(40));
    cache.set('b', file(40));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('c', file(40));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    expect(cache.size).toBe(80);
  });

  it('does not keep a file larger than the whole budget', () => {
    const cache = new FileCache(10);
    cache.set('big', file(11));
    expect(cache.get('big')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

describe('a content folder', () => {
  let root: string;
  let outside: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'reflex-content-'));
    outside = mkdtempSync(path.join(os.tmpdir(), 'reflex-outside-'));
    mkdirSync(path.join(root, 'pages'));
    mkdirSync(path.join(root, 'assets'));
    writeFileSync(path.join(root, 'pages/index.html'), '<p>{{shortSha}} {{builtAt}}</p>');
    writeFileSync(path.join(root, 'assets/a.css'), 'body{}');
    writeFileSync(path.join(outside, 'secret'), 'secret');
    symlinkSync(path.join(outside, 'secret'), path.join(root, 'assets/leak.txt'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('fills page templates with the release it serves', async () => {
    const content = new Content(root, { sha: 'a'.repeat(40), builtAt: 'then' }, new FileCache(1e6));
    const page = await content.load('pages/index.html', true);
    expect(page!.body.toString()).toBe(`<p>${'a'.repeat(12)} then</p>`);
    expect(page!.type).toBe('text/html; charset=utf-8');
  });

  it('refuses a symlink that leads out of the folder', async () => {
    const content = new Content(root, { sha: 'x', builtAt: 'y' }, new FileCache(1e6));
    expect(await content.load('assets/leak.txt', false)).toBeUndefined();
  });

  it('never caches a miss: 2,000 missing names cost no memory', async () => {
    const cache = new FileCache(1e6);
    const content = new Content(root, { sha: 'x', builtAt: 'y' }, cache);
    for (let i = 0; i < 2000; i++)
      expect(await content.load(`assets/nope-${i}.css`, false)).toBeUndefined();
    expect(cache.size).toBe(0);
    await content.load('assets/a.css', false);
    expect(cache.size).toBe(6);
  });

  it('is not readable when its folder does not exist', async () => {
    const content = new Content(
      path.join(root, 'nope'),
      { sha: 'x', builtAt: 'y' },
      new FileCache(10),
    );
    expect(await content.readable()).toBe(false);
  });
});

describe('asset paths', () => {
  it.each(['a/../b', '../x', 'a//b', 'a\\b', '%2e%2e/x', 'x%00', '%E0%A4%A'])(
    'refuses %s',
    (raw) => {
      expect(safeRelative(raw)).toBeUndefined();
    },
  );

  it('accepts plain relative paths, decoded', () => {
    expect(safeRelative('img/logo%20big.png')).toBe('img/logo big.png');
  });

  it('templates every placeholder', () => {
    expect(fill('{{sha}} {{sha}} {{shortSha}}', { sha: '0123456789abcdef', builtAt: '' })).toBe(
      '0123456789abcdef 0123456789abcdef 0123456789ab',
    );
  });
});
