/**
 * Where the local edge sends a request, decided from its host name and its path as the
 * upstreams will read it (parsed, percent-decoded, dot segments resolved), and the headers it
 * forwards. The same rules as the host's nginx (deploy-scripts/nginx):
 *
 *   Host editor.*        -> the platform (editor UI and API); /metrics is never public
 *   any other Host:
 *     /healthz, /version -> the platform (the site can never shadow them)
 *     /metrics           -> 404
 *     /api, /api/*       -> 404 (the editor's API lives on the editor's origin only)
 *     /editor, /editor/* -> 308 to the same path on the editor's origin
 *     anything else      -> the site
 *   Host <name>.localhost a change request's preview (previews.ts): its site only; /version
 *                        is the edge's own answer, /api and /editor as on the site host
 */
import type http from 'node:http';
import { SECURE_SESSION_COOKIE, SESSION_COOKIE } from '../http/session';

export type EdgeTarget =
  | { kind: 'platform' }
  | { kind: 'site' }
  | { kind: 'preview'; name: string; version: boolean }
  | { kind: 'not-found'; why: string }
  | { kind: 'redirect'; location: string }
  | { kind: 'bad-request'; why: string };

/** Names of the platform's session cookie (plain over http, `__Host-` over https). */
export const PLATFORM_COOKIES: readonly string[] = [SESSION_COOKIE, SECURE_SESSION_COOKIE];

/** The edge's own headers: whatever a client sends under these names is dropped. */
const EDGE_HEADERS: ReadonlySet<string> = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
  'x-reflex-edge',
  'x-reflex-release',
  'x-reflex-built-at',
]);

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
]);

/** The host name a request names, lower-case, without port or trailing dot. */
export function hostName(header: string | undefined): string {
  const host = (header ?? '').trim().toLowerCase();
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** The port a Host header names, or undefined. */
function hostPort(header: string | undefined): string | undefined {
  const match = /:(\d{1,5})$/.exec((header ?? '').trim());
  return match?.[1];
}

export function isEditorHost(name: string, editorHost: string): boolean {
  return name === editorHost || name.startsWith('editor.');
}

/** The preview a host name names (`<name>.localhost`), or undefined. */
export function previewName(host: string): string | undefined {
  const match = /^([a-z0-9][a-z0-9-]{0,39})\.localhost$/.exec(host);
  return match && match[1] !== 'editor' ? match[1] : undefined;
}

/**
 * The path as an upstream will see it: the request target parsed (origin-form or
 * absolute-form), without query or fragment, percent-decoded and with dot segments resolved.
 * Undefined when it cannot be read (a malformed escape, or an escaped control character).
 */
export function canonicalPath(target: string): string | undefined {
  if (PLAIN_TARGET.test(target)) return plainPath(target);
  return parsedPath(target);
}

/**
 * A request target that every parser reads alike: an origin-form path of unreserved
 * characters in segments that do not start with a dot (no escape, no dot segment, no empty
 * segment), and a query without characters a parser would encode. Most requests are this;
 * their path is the target's own, without the query and a trailing slash.
 */
const PLAIN_TARGET = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?(?:\?[A-Za-z0-9._~\-=&+%]+)?$/;

function plainPath(target: string): string {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** The path and query an upstream is sent: the target as a URL parser normalises it. */
export function upstreamPath(target: string): string {
  if (PLAIN_TARGET.test(target)) return target;
  const url = new URL(target.startsWith('/') ? `http://edge.invalid${target}` : target);
  return `${url.pathname}${url.search}`;
}

/** `canonicalPath` through the URL parser: any target. */
export function parsedPath(target: string): string | undefined {
  let url: URL;
  try {
    // Origin-form (`/x`, even `//x`) is a path; anything else must be absolute-form.
    url = new URL(target.startsWith('/') ? `http://edge.invalid${target}` : target);
  } catch {
    return undefined;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return undefined;
  }
  // A control character has no place in a path, and a URL parser would drop some of them
  // (tab, newline) and so read a path other than the upstream's.
  if (CONTROL_CHARACTER.test(decoded)) return undefined;
  // Decoding may reveal `..`, `//` or `\` (a slash to a URL parser) that the upstream's own
  // parsing would fold; folding them here reads the path as its most-resolved form.
  let resolved: string;
  try {
    const folded = decoded.replace(/[\\/]+/g, '/');
    resolved = new URL(folded, 'http://edge.invalid').pathname;
  } catch {
    return undefined;
  }
  return resolved.length > 1 && resolved.endsWith('/') ? resolved.slice(0, -1) : resolved;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

function under(path: string, prefix: string): boolean {
  const lower = path.toLowerCase();
  return lower === prefix || lower.startsWith(`${prefix}/`);
}

/** What a Host header names, remembered for the few hosts a loop sees (bounded). */
const hostKinds = new Map<string, { editor: boolean; preview: string | undefined }>();
let hostKindsFor = '';

function hostKind(header: string | undefined, editorHost: string) {
  if (hostKindsFor !== editorHost || hostKinds.size >= 256) {
    hostKinds.clear();
    hostKindsFor = editorHost;
  }
  const key = header ?? '';
  let kind = hostKinds.get(key);
  if (!kind) {
    const host = hostName(header);
    kind = isEditorHost(host, editorHost)
      ? { editor: true, preview: undefined }
      : { editor: false, preview: previewName(host) };
    hostKinds.set(key, kind);
  }
  return kind;
}

export function route(
  req: { url?: string | undefined; headers: http.IncomingHttpHeaders },
  editorHost: string,
): EdgeTarget {
  const path = canonicalPath(req.url ?? '/');
  if (path === undefined) return { kind: 'bad-request', why: 'malformed request path' };
  if (under(path, '/metrics')) return { kind: 'not-found', why: 'not served at the edge' };
  const { editor, preview } = hostKind(req.headers.host, editorHost);
  if (editor) return { kind: 'platform' };
  if (!preview && (path === '/healthz' || path === '/version')) return { kind: 'platform' };
  if (under(path, '/api')) {
    return { kind: 'not-found', why: `the editor's API is served on ${editorHost}` };
  }
  if (under(path, '/editor')) {
    const port = hostPort(req.headers.host);
    const origin = `http://${editorHost}${port ? `:${port}` : ''}`;
    return { kind: 'redirect', location: `${origin}${req.url?.startsWith('/') ? req.url : path}` };
  }
  if (preview) return { kind: 'preview', name: preview, version: path === '/version' };
  return { kind: 'site' };
}

/** Removes the platform's cookies from a Cookie header; undefined when none is left. */
export function withoutPlatformCookies(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  const kept = cookie
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair && !PLATFORM_COOKIES.includes(pair.split('=')[0]!.trim()));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

export interface ForwardContext {
  /** The client's address as the edge's socket sees it. */
  client: string;
  /** The Host the client sent, port included (the origin the browser sees). */
  host: string;
  /** The release the request is served by, and when it was built. */
  release: string;
  builtAt: string;
  /** Sent to the platform only: it trusts forwarded headers that carry it. */
  edgeToken: string;
}

/** Headers an upstream receives: hop-by-hop and client-supplied edge headers dropped. */
export function forwardedHeaders(
  headers: http.IncomingHttpHeaders,
  target: 'platform' | 'site',
  context: ForwardContext,
): http.OutgoingHttpHeaders {
  const out = endToEnd(headers, EDGE_HEADERS);
  out['x-forwarded-for'] = context.client;
  out['x-forwarded-proto'] = 'http';
  out['x-forwarded-host'] = context.host;
  out['x-reflex-release'] = context.release;
  if (target === 'platform') {
    out['x-reflex-edge'] = context.edgeToken;
    out['x-reflex-built-at'] = context.builtAt;
  } else {
    const cookie = withoutPlatformCookies(headers.cookie);
    if (cookie === undefined) delete out.cookie;
    else out.cookie = cookie;
  }
  return out;
}

/**
 * Headers without the hop-by-hop ones (and those the Connection header names), and without
 * those of `dropped`.
 */
export function endToEnd(
  headers: http.IncomingHttpHeaders,
  dropped: ReadonlySet<string> = NONE,
): http.OutgoingHttpHeaders {
  const connection = headers.connection;
  // `keep-alive` and `close` are hop-by-hop already: only other names need a set of their own.
  const named =
    connection === undefined || connection === 'keep-alive' || connection === 'close'
      ? NONE
      : new Set(
          connection
            .split(',')
            .map((h) => h.trim().toLowerCase())
            .filter(Boolean),
        );
  const out: http.OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !dropped.has(name) && !named.has(name))
      out[name] = value;
  }
  return out;
}

const NONE: ReadonlySet<string> = new Set();
