/**
 * The site's files on disk: pages (`pages/<name>.html`, templated with the release's SHA) and
 * assets (`assets/...`), read from inside one content folder only (a symlink that leads out is
 * refused), and kept in a cache bounded by bytes that evicts the least recently used file.
 * A missing file is never cached: a flood of requests for names that do not exist costs no
 * memory.
 */
import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Larger files are not served (nor cached). */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;

export interface Loaded {
  body: Buffer;
  etag: string;
  type: string;
}

/** Values a page's `{{sha}}`, `{{shortSha}}` and `{{builtAt}}` stand for. */
export interface Release {
  sha: string;
  builtAt: string;
}

/** Decodes an asset path and refuses anything that is not a plain relative path. */
export function safeRelative(raw: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const segments = decoded.split('/');
  if (
    segments.some(
      (s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'),
    )
  )
    return undefined;
  return segments.join('/');
}

export function fill(template: string, release: Release): string {
  return template
    .replaceAll('{{sha}}', release.sha)
    .replaceAll('{{shortSha}}', release.sha.slice(0, 12))
    .replaceAll('{{builtAt}}', release.builtAt);
}

/** An LRU of loaded files whose bodies add up to at most `maxBytes`. */
export class FileCache {
  private readonly entries = new Map<string, Loaded>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.bytes;
  }

  get(key: string): Loaded | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, value: Loaded): void {
    if (value.body.length > this.maxBytes) return;
    this.delete(key);
    this.entries.set(key, value);
    this.bytes += value.body.length;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.body.length;
    }
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.body.length;
  }
}

/** Files of one content folder (a release's `webapp/site`). */
export class Content {
  private root: Promise<string | undefined> | undefined;

  constructor(
    readonly dir: string,
    readonly release: Release,
    private readonly cache: FileCache,
  ) {}

  /** Whether the folder exists and can be read (a site's health for this release). */
  async readable(): Promise<boolean> {
    return (await this.realRoot()) !== undefined;
  }

  /** `relative` as `load` last read it, when it is still in memory (no disk, no wait). */
  cached(relative: string): Loaded | undefined {
    return this.cache.get(this.key(relative));
  }

  /** `relative` inside the folder, or undefined when it is missing, too big or leads out. */
  async load(relative: string, template: boolean): Promise<Loaded | undefined> {
    const key = this.key(relative);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const root = await this.realRoot();
    if (!root) return undefined;
    let real: string;
    try {
      real = await realpath(path.join(root, relative));
      if (!real.startsWith(root + path.sep) || (await stat(real)).size > MAX_FILE_BYTES)
        return undefined;
    } catch {
      return undefined;
    }
    let body = await readFile(real);
    if (template) body = Buffer.from(fill(body.toString('utf8'), this.release));
    const loaded = {
      body,
      etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
      type: TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream',
    };
    this.cache.set(key, loaded);
    return loaded;
  }

  private key(relative: string): string {
    return `${this.dir}\0${relative}\0${this.release.sha}`;
  }

  private realRoot(): Promise<string | undefined> {
    this.root ??= realpath(this.dir).catch(() => {
      this.root = undefined; // not there (yet): ask again next time
      return undefined;
    });
    return this.root;
  }
}
