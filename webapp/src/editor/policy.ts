/**
 * What the browser may change. The editable scope is the configured allowlist minus the
 * protected paths (`.github/workflows/protected-paths.txt`), which no configuration can lift:
 * the paths that control CI, deployment, infrastructure, dependencies, the platform's own code
 * and its build and test configuration. Within the scope, a role decides by path: an `author`
 * changes the site's content, a `developer` and an `admin` anything in scope. Paths are
 * normalised before any check; anything not a plain relative path inside the repository is
 * refused outright. Protected paths and the site's folder match case-insensitively: on a
 * case-insensitive filesystem, or to a tool that folds case, `Dockerfile` and `dockerfile` are
 * one file.
 */
import type { Role } from '../auth/roles';
import { globToRegExp, matchesGlob } from './glob';
import { protectedListText } from './protectedList';

export interface ProtectedPath {
  glob: string;
  why: string;
}

/** Parses the list: one glob per line, then whitespace and the reason; `#` starts a comment. */
export function parseProtectedList(text: string): ProtectedPath[] {
  const entries: ProtectedPath[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [glob, ...why] = line.split(/\s+/);
    entries.push({ glob: glob!, why: why.join(' ') || 'protected' });
  }
  return entries;
}

/** The denylist. Order matters only for which reason is reported first. */
export const PROTECTED_PATHS: readonly ProtectedPath[] = parseProtectedList(protectedListText());

/** The site visitors see: the scope out of the box, and where an author's content lives. */
export const SITE_DIR = 'webapp/site/';
export const DEFAULT_EDITABLE = [`${SITE_DIR}**`];

/** What an author may change: pages, styles, text, images and JSON data. */
export const CONTENT_EXTENSIONS = new Set([
  '.html',
  '.htm',
  '.css',
  '.md',
  '.markdown',
  '.json',
  '.png',
  '.jpg',
  '.jpeg',
  '.gif',
  '.svg',
  '.webp',
  '.avif',
  '.ico',
]);

export type PathVerdict = { editable: true } | { editable: false; reason: string };

export class PathError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PathError';
  }
}

const MAX_PATH_LENGTH = 1024;
const MAX_SEGMENT_BYTES = 255;

/**
 * Returns the canonical form of a repository path, or throws PathError naming the problem.
 * Refuses (rather than repairs) anything ambiguous: absolute paths, `.`/`..`/empty segments,
 * backslashes, NUL and control characters, `.git` in any case, over-long paths.
 */
export function normalizeRepoPath(raw: string): string {
  if (raw.length === 0) throw new PathError('empty path');
  if (raw.length > MAX_PATH_LENGTH)
    throw new PathError(`path longer than ${MAX_PATH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new PathError('control character in path');
  if (raw.includes('\\')) throw new PathError('backslash in path');
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) throw new PathError('absolute path');
  if (!raw.isWellFormed()) throw new PathError('path is not valid Unicode');
  const segments = raw.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new PathError(`"${segment || '//'}" segment in path`);
    }
    if (segment.toLowerCase() === '.git') throw new PathError('.git in path');
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      throw new PathError('path segment too long');
  }
  return segments.join('/');
}

/** Whether a glob names only paths inside the site's folder. */
export function withinSite(glob: string): boolean {
  return glob.toLowerCase().startsWith(SITE_DIR) && !glob.includes('..');
}

/**
 * Every protected glob in one expression: a listing asks about each of thousands of paths,
 * nearly all unprotected, and one test per path is far cheaper than one per glob.
 */
const ANY_PROTECTED = new RegExp(
  PROTECTED_PATHS.map((entry) => `(?:${globToRegExp(entry.glob).source})`).join('|'),
  'i',
);

/** The protected entry a path falls under, if any (case-insensitive). */
export function protectedEntry(path: string): ProtectedPath | undefined {
  if (!ANY_PROTECTED.test(path)) return undefined;
  return PROTECTED_PATHS.find((entry) => matchesGlob(path, entry.glob, { ignoreCase: true }));
}

export class EditPolicy {
  readonly editable: readonly string[];

  constructor(editable: readonly string[] = DEFAULT_EDITABLE) {
    if (editable.length === 0) throw new Error('the editable scope needs at least one glob');
    this.editable = editable;
  }

  /** Whether any glob of the scope reaches beyond the site. */
  get wide(): boolean {
    return !this.editable.every(withinSite);
  }

  /** Whether a (normalised) path may be written from the browser at all, and if not, why. */
  verdict(path: string): PathVerdict {
    const denied = protectedEntry(path);
    if (denied) return { editable: false, reason: `protected: ${denied.glob} ${denied.why}` };
    if (!this.editable.some((glob) => matchesGlob(path, glob))) {
      return {
        editable: false,
        reason: `outside the editable scope (${this.editable.join(', ')})`,
      };
    }
    return { editable: true };
  }

  /** Whether `role` may write a (normalised) path, and if not, why. */
  verdictFor(role: Role, path: string): PathVerdict {
    if (role === 'viewer') return { editable: false, reason: `role ${role} is read-only` };
    const scoped = this.verdict(path);
    if (!scoped.editable || role !== 'author') return scoped;
    if (!path.toLowerCase().startsWith(SITE_DIR) || !CONTENT_EXTENSIONS.has(extension(path))) {
      return {
        editable: false,
        reason:
          'role author changes the site’s content only (html, css, markdown, images, json under webapp/site/)',
      };
    }
    return scoped;
  }
}

function extension(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot).toLowerCase();
}
