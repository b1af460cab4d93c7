/** Repository paths as the editor shows and requests them. Pure functions, no DOM. */

/** `<prefix><path>` with each segment URL-encoded, as the API expects (`/api/files/a%20b/c.ts`). */
export function apiPath(prefix: string, repoPath: string): string {
  return prefix + repoPath.split('/').map(encodeURIComponent).join('/');
}

export function basename(repoPath: string): string {
  return repoPath.slice(repoPath.lastIndexOf('/') + 1);
}

export function dirname(repoPath: string): string {
  const slash = repoPath.lastIndexOf('/');
  return slash === -1 ? '' : repoPath.slice(0, slash);
}

const LANGUAGES: Record<string, string> = {
  ts: 'typescript',
  tsx: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  json: 'json',
  css: 'css',
  html: 'html',
  htm: 'html',
  md: 'markdown',
  markdown: 'markdown',
};

/** The editor language for a file, by extension; `plaintext` when there is none to highlight. */
export function languageFor(repoPath: string): string {
  const name = basename(repoPath);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'plaintext';
  return LANGUAGES[name.slice(dot + 1).toLowerCase()] ?? 'plaintext';
}

const SITE_PAGE = /^webapp\/site\/pages\/([a-z0-9][a-z0-9-]{0,63})\.html$/;

/**
 * Where a visitor sees a change to this file once it is live: a site page's own URL
 * (`pages/about.html` is `/about`, `pages/index.html` is `/`), else the site's home page.
 */
export function pageUrlFor(repoPath: string): string {
  const match = SITE_PAGE.exec(repoPath);
  if (!match || match[1] === 'index' || match[1] === '404') return '/';
  return `/${match[1]}`;
}

/**
 * The site's base URL. The editor runs on an origin of its own (`editor.<domain>`), so a link
 * to the site is always absolute: the URL the server names, else the editor's own host without
 * its `editor.` label, else (an editor that shares the site's origin) the editor's own origin.
 */
export function siteBase(
  siteUrl: string | null | undefined,
  editor: { protocol: string; host: string },
): string {
  if (siteUrl && /^https?:\/\/[^/]/.test(siteUrl)) {
    return siteUrl.endsWith('/') ? siteUrl : `${siteUrl}/`;
  }
  const host = editor.host.replace(/^editor\./i, '');
  return `${editor.protocol}//${host}/`;
}

/** Where a visitor sees a change to `repoPath` once it is live, as an absolute URL. */
export function liveUrlFor(repoPath: string, base: string): string {
  return new URL(pageUrlFor(repoPath).slice(1), base).href;
}
