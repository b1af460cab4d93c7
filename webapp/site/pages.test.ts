/**
 * Every page of the site, checked as the gate runs it before a page goes live: it has a title,
 * and every asset it names exists. A page edit runs these tests.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const pagesDir = path.join(__dirname, 'pages');
const pages = readdirSync(pagesDir).filter((name) => name.endsWith('.html'));

describe('site pages', () => {
  it('there is a home page and a not-found page', () => {
    expect(pages).toEqual(expect.arrayContaining(['index.html', '404.html']));
  });

  it.each(pages)('%s has a title', (name) => {
    const html = readFileSync(path.join(pagesDir, name), 'utf8');
    expect(html).toMatch(/<title>[^<]*\S[^<]*<\/title>/);
  });

  it.each(pages)('every asset %s names exists', (name) => {
    const html = readFileSync(path.join(pagesDir, name), 'utf8');
    const assets = [...html.matchAll(/(?:href|src)="\/assets\/([^"?#]+)/g)].map((m) => m[1]!);
    const missing = assets.filter((asset) => !existsSync(path.join(__dirname, 'assets', asset)));
    expect(missing).toEqual([]);
  });
});
