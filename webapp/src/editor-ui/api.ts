/**
 * The editor's client for the app's JSON API. Every call is same-origin with the session
 * cookie; a refusal becomes an ApiError carrying the status and the JSON error body. A 401 on
 * any call made while signed in means the session ended: it goes to the one handler given to
 * `onUnauthorized` (and the call still fails, so no flow goes on as if it had worked). Listings
 * and file reads name the newest commit the page has seen (seen.ts).
 */
import type { ReleaseRecord } from '../pipeline/types';
import type { ErrorBody, Failure } from './messages';
import { apiPath } from './paths';
import { SEEN_HEADER, SeenCommit } from './seen';
import type { TreeFile } from './tree';

/** `editor` is what servers before roles by path call a `developer`. */
export type Role = 'viewer' | 'author' | 'developer' | 'admin' | 'editor';

export interface SessionUser {
  username: string;
  name: string;
  email: string;
  role: Role;
}

export interface EditorSettings {
  branch: string;
  editable: string[];
  maxFileBytes: number;
  /** Whether the operator let the scope reach beyond the site (absent before servers said). */
  wideScope?: boolean;
  /** The site's public URL, when the server names one (the editor has an origin of its own). */
  siteUrl?: string | null;
}

export interface TreeListing {
  commit: string;
  files: TreeFile[];
}

export interface FileContent {
  path: string;
  content: string;
  blobSha: string;
  commit: string;
}

export interface SaveResult {
  commit: string;
  path: string;
  blobSha?: string;
}

export interface DiffResult {
  diff: string;
  commit: string;
  changedUpstream: boolean;
}

export interface CommitSummary {
  sha: string;
  author: { name: string; email: string };
  date: string;
  message: string;
}

/** What a rollback to a release would change, and whether this user may run it. */
export interface RollbackPreview {
  sha: string;
  paths: string[];
  /** Those of `paths` that are protected (only an admin may roll back across them). */
  protectedPaths: string[];
  allowed: boolean;
  reason?: string;
}

export class ApiError extends Error implements Failure {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    readonly retryAfterSeconds?: number,
  ) {
    super(body.error ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }
}

let unauthorized: () => void = () => undefined;

/** What happens when the session has ended (the last handler given wins). */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

interface CallOptions {
  /** False for the calls whose 401 is an answer, not an ended session: sign-in, who am I. */
  session?: boolean;
  accept?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

const seen = new SeenCommit();

/** A read that must not answer older than what this page has seen (read your writes). */
async function fresh<T extends { commit: string }>(url: string): Promise<T> {
  const { value, ticket } = seen.forRead();
  const answer = await call<T>('GET', url, undefined, {
    ...(value ? { headers: { [SEEN_HEADER]: value } } : {}),
  });
  seen.read(ticket, answer.commit);
  return answer;
}

/** A write's answer: its commit is the newest this page has seen. */
function wrote<T extends { commit: string }>(answer: T): T {
  seen.wrote(answer.commit);
  return answer;
}

/** Sends one request; a 401 of a signed-in call goes to the `onUnauthorized` handler. */
async function send(
  method: string,
  url: string,
  body: unknown,
  options: CallOptions,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: {
        ...options.headers,
        Accept: options.accept ?? 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new ApiError(0, { error: 'the server could not be reached' });
  }
  if (response.status === 401 && options.session !== false) unauthorized();
  return response;
}

async function call<T>(
  method: string,
  url: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<T> {
  const response = await send(method, url, body, options);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const retryAfter = Number(response.headers.get('Retry-After'));
    throw new ApiError(
      response.status,
      typeof parsed === 'object' && parsed !== null ? parsed : {},
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  return parsed as T;
}

/** Who is signed in; undefined when nobody is. */
async function session(): Promise<SessionUser | undefined> {
  try {
    return await call<SessionUser>('GET', '/api/session', undefined, { session: false });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return undefined;
    throw err;
  }
}

export const api = {
  session,
  signIn: (username: string, password: string) =>
    call<void>('POST', '/api/session', { username, password }, { session: false }),
  signOut: () => call<void>('DELETE', '/api/session', undefined, { session: false }),
  settings: () => call<EditorSettings>('GET', '/api/settings'),
  tree: () => fresh<TreeListing>('/api/tree'),
  read: (path: string) => fresh<FileContent>(apiPath('/api/files/', path)),
  save: (path: string, content: string, baseCommit: string, message?: string) =>
    call<SaveResult>('PUT', apiPath('/api/files/', path), {
      content,
      baseCommit,
      ...(message ? { message } : {}),
    }).then(wrote),
  diff: (path: string, content: string, baseCommit: string) =>
    call<DiffResult>('POST', apiPath('/api/diff/', path), { content, baseCommit }),
  commits: (limit = 20) => call<{ commits: CommitSummary[] }>('GET', `/api/commits?limit=${limit}`),
  releases: () => call<{ releases: ReleaseRecord[] }>('GET', '/api/releases'),
  rollbackPreview: (sha: string) =>
    call<RollbackPreview>('GET', `/api/releases/${encodeURIComponent(sha)}/rollback`),
  rollback: (sha: string) =>
    call<{ commit: string }>('POST', `/api/releases/${encodeURIComponent(sha)}/rollback`).then(
      wrote,
    ),
  version: () => call<{ sha: string; builtAt: string }>('GET', '/version'),
  /** The pipeline's event stream, as an open response (the caller reads its body). */
  pipelineEvents: (signal: AbortSignal) =>
    send('GET', '/api/pipeline/events', undefined, { accept: 'text/event-stream', signal }),
};
