import { beyondSite, canWrite, fileAccess, isWideScope, VIEWER_REASON } from './access';
import type { Role } from './api';
import { liveUrlFor, siteBase } from './paths';
import type { TreeFile } from './tree';

const PAGE: TreeFile = { path: 'webapp/site/pages/index.html', size: 1, editable: true };
const PROTECTED: TreeFile = {
  path: 'package.json',
  size: 1,
  editable: false,
  reason: 'protected: **/package.json declares dependencies and install scripts',
};
const CODE_FOR_AUTHORS: TreeFile = {
  path: 'webapp/site/routes.ts',
  size: 1,
  editable: false,
  reason: 'authors change the site content (html, css, md, images, json), not its code',
};

describe('what the signed-in user may change', () => {
  it('a viewer may change nothing, and the lock says it is the role', () => {
    for (const file of [PAGE, PROTECTED, undefined]) {
      expect(fileAccess(file, 'viewer')).toEqual({ editable: false, reason: VIEWER_REASON });
    }
    expect(canWrite('viewer')).toBe(false);
  });

  it.each<Role>(['editor', 'author', 'developer', 'admin'])(
    'a %s gets the server’s verdict on each path, with its reason',
    (role) => {
      expect(canWrite(role)).toBe(true);
      expect(fileAccess(PAGE, role)).toEqual({ editable: true });
      expect(fileAccess(PROTECTED, role)).toEqual({ editable: false, reason: PROTECTED.reason });
      expect(fileAccess(CODE_FOR_AUTHORS, role)).toEqual({
        editable: false,
        reason: CODE_FOR_AUTHORS.reason,
      });
    },
  );

  it('a file the server gives no reason for, or does not list, is outside the scope', () => {
    const bare: TreeFile = { path: 'x.ts', size: 1, editable: false };
    expect(fileAccess(bare, 'developer').reason).toBe('outside the editable scope');
    expect(fileAccess(undefined, 'developer').reason).toBe('outside the editable scope');
  });
});

describe('an editable scope beyond the site', () => {
  it('the default scope and narrower site globs stay in the site', () => {
    expect(beyondSite(['webapp/site/**'])).toEqual([]);
    expect(beyondSite(['webapp/site/pages/**', 'webapp/site/assets/*.css'])).toEqual([]);
  });

  it('the server’s word wins; a server that does not say is judged by the globs', () => {
    expect(isWideScope({ editable: ['webapp/site/**'], wideScope: true })).toBe(true);
    expect(isWideScope({ editable: ['webapp/**'], wideScope: false })).toBe(false);
    expect(isWideScope({ editable: ['webapp/site/**', 'webapp/src/**'] })).toBe(true);
    expect(isWideScope({ editable: ['webapp/site/**'] })).toBe(false);
  });

  it('names every glob that reaches the platform', () => {
    expect(beyondSite(['webapp/site/**', 'webapp/src/**', '**/*.md', 'webapp/**'])).toEqual([
      'webapp/src/**',
      '**/*.md',
      'webapp/**',
    ]);
  });
});

describe('links to the site', () => {
  const editor = { protocol: 'http:', host: 'editor.localhost:43123' };

  it('use the site URL the server names', () => {
    expect(siteBase('https://example.com', editor)).toBe('https://example.com/');
    expect(siteBase(null, editor)).toBe('http://localhost:43123/');
    expect(siteBase('https://example.com/app/', editor)).toBe('https://example.com/app/');
  });

  it('without one, drop the editor’s own host label; an editor on the site’s origin keeps it', () => {
    expect(siteBase(undefined, editor)).toBe('http://localhost:43123/');
    expect(siteBase(undefined, { protocol: 'https:', host: 'editor.example.com' })).toBe(
      'https://example.com/',
    );
    expect(siteBase(undefined, { protocol: 'http:', host: '127.0.0.1:8080' })).toBe(
      'http://127.0.0.1:8080/',
    );
  });

  it('ignore a site URL that is not http(s)', () => {
    expect(siteBase('javascript:alert(1)', editor)).toBe('http://localhost:43123/');
    expect(siteBase('/relative', editor)).toBe('http://localhost:43123/');
  });

  it.each([
    ['webapp/site/pages/about.html', 'https://example.com/', 'https://example.com/about'],
    ['webapp/site/pages/index.html', 'https://example.com/', 'https://example.com/'],
    ['webapp/site/routes.ts', 'http://localhost:43123/', 'http://localhost:43123/'],
    ['webapp/site/pages/about.html', 'https://example.com/app/', 'https://example.com/app/about'],
  ])('a change to %s on %s is seen at %s (absolute)', (path, base, url) => {
    expect(liveUrlFor(path, base)).toBe(url);
  });
});
