/**
 * The editor's client for the app's JSON API. Every call is same-origin with the session
 * cookie; a refusal becomes an ApiError carrying the status and the JSON error body. A 401 on
 * any call made while signed in means the session ended: it goes to the one handler given to
 * `onUnauthorized` (and the call still fails, so no flow goes on as if it had worked). Listings
 * and file reads name the newest commit the page has seen (seen.ts). Every answer has the type
 * the server's routes are held to (src/api/contract.ts); an older server's is adapted here.
 */
import type {
  ChangeRequest,
  ChangeRequestList,
  CommitList,
  CreateChangeRequest,
  DiffResult,
  EditorSettings,
  ErrorBody,
  FileContent,
  OpenFile,
  PresenceSnapshot,
  PublishResult,
  ReleaseList,
  RollbackPreview,
  RollbackResult,
  SaveResult,
  SessionUser,
  TreeListing,
  Version,
} from '../api/contract';
import { editorSettings, sessionUser, type AnsweredSettings, type AnsweredUser } from './compat';
import type { Failure } from './messages';
import { apiPath } from './paths';
import { SEEN_HEADER, SeenCommit } from './seen';

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

/**
 * Where tree, file reads and saves go: `/api/` (the deploy branch) or a change request's
 * `/api/changes/<user>/<slug>/`. Read-your-writes (seen.ts) is the deploy branch's: a change
 * request's commits are not on it, so its reads and writes leave the seen commit alone.
 */
let filesRoot = '/api/';

export function useFilesRoot(root: string): void {
  filesRoot = root;
}

const onBranch = () => filesRoot === '/api/';

function changePath(id: string, action = ''): string {
  return `/api/changes/${id.split('/').map(encodeURIComponent).join('/')}${action}`;
}

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
    const user = await call<AnsweredUser>('GET', '/api/session', undefined, { session: false });
    return sessionUser(user);
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
  settings: (): Promise<EditorSettings> =>
    call<AnsweredSettings>('GET', '/api/settings').then(editorSettings),
  tree: () =>
    onBranch() ? fresh<TreeListing>('/api/tree') : call<TreeListing>('GET', `${filesRoot}tree`),
  read: (path: string) =>
    onBranch()
      ? fresh<FileContent>(apiPath('/api/files/', path))
      : call<FileContent>('GET', apiPath(`${filesRoot}files/`, path)),
  save: (path: string, content: string, baseCommit: string, message?: string) => {
    const branch = onBranch();
    const saving = call<SaveResult>('PUT', apiPath(`${filesRoot}files/`, path), {
      content,
      baseCommit,
      ...(message ? { message } : {}),
    });
    return branch ? saving.then(wrote) : saving;
  },
  diff: (path: string, content: string, baseCommit: string) =>
    call<DiffResult>('POST', apiPath('/api/diff/', path), { content, baseCommit }),
  commits: (limit = 20) => call<CommitList>('GET', `/api/commits?limit=${limit}`),
  releases: () => call<ReleaseList>('GET', '/api/releases'),
  rollbackPreview: (sha: string) =>
    call<RollbackPreview>('GET', `/api/releases/${encodeURIComponent(sha)}/rollback`),
  rollback: (sha: string) =>
    call<RollbackResult>('POST', `/api/releases/${encodeURIComponent(sha)}/rollback`).then(wrote),
  changes: () => call<ChangeRequestList>('GET', '/api/changes'),
  createChange: (request: CreateChangeRequest) =>
    call<ChangeRequest>('POST', '/api/changes', request),
  publishChange: (id: string) => call<PublishResult>('POST', changePath(id, '/publish')),
  closeChange: (id: string) => call<ChangeRequest>('POST', changePath(id, '/close')),
  reportPresence: (files: OpenFile[]) => call<PresenceSnapshot>('PUT', '/api/presence', { files }),
  version: () => call<Version>('GET', '/version'),
  /** The pipeline's event stream, as an open response (the caller reads its body). */
  pipelineEvents: (signal: AbortSignal) =>
    send('GET', '/api/pipeline/events?presence=1', undefined, {
      accept: 'text/event-stream',
      signal,
    }),
};
