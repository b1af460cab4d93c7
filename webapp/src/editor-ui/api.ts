/**
 * The editor's client for the app's JSON API. Every call is same-origin with the session
 * cookie; a refusal becomes an ApiError carrying the status and the JSON error body.
 */
import type { ReleaseRecord } from '../pipeline/types';
import type { ErrorBody, Failure } from './messages';
import { apiPath } from './paths';
import type { TreeFile } from './tree';

export type Role = 'viewer' | 'author' | 'developer' | 'admin';

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

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: {
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, { error: 'the server could not be reached' });
  }
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

export const api = {
  session: () => call<SessionUser>('GET', '/api/session'),
  signIn: (username: string, password: string) =>
    call<void>('POST', '/api/session', { username, password }),
  signOut: () => call<void>('DELETE', '/api/session'),
  settings: () => call<EditorSettings>('GET', '/api/settings'),
  tree: () => call<TreeListing>('GET', '/api/tree'),
  read: (path: string) => call<FileContent>('GET', apiPath('/api/files/', path)),
  save: (path: string, content: string, baseCommit: string, message?: string) =>
    call<SaveResult>('PUT', apiPath('/api/files/', path), {
      content,
      baseCommit,
      ...(message ? { message } : {}),
    }),
  diff: (path: string, content: string, baseCommit: string) =>
    call<DiffResult>('POST', apiPath('/api/diff/', path), { content, baseCommit }),
  commits: (limit = 20) => call<{ commits: CommitSummary[] }>('GET', `/api/commits?limit=${limit}`),
  releases: () => call<{ releases: ReleaseRecord[] }>('GET', '/api/releases'),
  rollback: (sha: string) =>
    call<{ commit: string }>('POST', `/api/releases/${encodeURIComponent(sha)}/rollback`),
  version: () => call<{ sha: string; builtAt: string }>('GET', '/version'),
};
