/**
 * The editor's HTTP API as the browser sees it: every route's request and response body,
 * written once. Types only (no code), so that the server's routes and services and the
 * browser's client import the same shapes. `webapp/test/contract.types.ts` fails to compile
 * when a route's response and this file disagree.
 */
import type { PreviewInfo, ReleaseRecord, StageEvent } from '../pipeline/types';

export type { ReleaseRecord, StageEvent } from '../pipeline/types';

/** `viewer` reads; `author` changes site content; `developer` also site code; `admin` also accounts. */
export type Role = 'viewer' | 'author' | 'developer' | 'admin';

export interface SessionUser {
  username: string;
  name: string;
  email: string;
  role: Role;
}

export interface SignInRequest {
  username: string;
  password: string;
}

export interface EditorSettings {
  branch: string;
  /** Globs of the editable scope (the protected paths are refused whatever they say). */
  editable: string[];
  maxFileBytes: number;
  /** Whether the operator widened the scope beyond the site (REFLEX_WIDE_SCOPE). */
  wideScope: boolean;
  /** The site's public URL (REFLEX_PUBLIC_URL), where redirect-when-live goes; null when unset. */
  siteUrl: string | null;
  /** Where this user's saves go unless they choose otherwise. */
  saveTarget: SaveTarget;
  /** Whether this user may save straight to the deploy branch (REFLEX_DIRECT_SAVE_ROLES). */
  directSaves: boolean;
  /** Whether this user may publish a change request (REFLEX_PUBLISH_ROLES). */
  canPublish: boolean;
  /** Where change requests live: branches of the origin (`local`) or pull requests (`github`). */
  changeRequests: 'local' | 'github';
}

/** `direct`: a save is a commit on the deploy branch; `change-request`: on a change request's branch. */
export type SaveTarget = 'direct' | 'change-request';

export type ChangeRequestStatus = 'open' | 'published' | 'closed';

/** The CI status of a change request's head (GitHub's combined status; null when unknown). */
export type ChecksState = 'pending' | 'success' | 'failure' | 'error';

/** The review state of a pull request: the latest verdict of its reviewers. */
export type ReviewState = 'approved' | 'changes_requested' | 'commented' | 'none';

/** A change request: a branch `reflex/<author>/<slug>` with a title and a description. */
export interface ChangeRequest {
  /** `<author>/<slug>`: the URL segment of `/api/changes/<author>/<slug>`. */
  id: string;
  branch: string;
  title: string;
  description: string;
  author: string;
  status: ChangeRequestStatus;
  /** The branch's head; null once the branch is gone (published or closed). */
  head: string | null;
  /** Paths the change request changes, relative to where it left the deploy branch. */
  files: string[];
  /** Where its live preview is served; null when previews are not configured. */
  previewUrl: string | null;
  /** The preview as the pipeline reports it (one machine); null when it does not say. */
  preview: { state: PreviewInfo['state']; error?: string } | null;
  /** The pull request on GitHub; null on one machine. */
  url: string | null;
  checks: ChecksState | null;
  review: ReviewState | null;
  /** The commit that brought it into the deploy branch, once published. */
  mergeCommit?: string;
}

export interface CreateChangeRequest {
  title: string;
  description?: string;
}

export interface UpdateChangeRequest {
  title?: string;
  description?: string;
}

export interface ChangeRequestList {
  changeRequests: ChangeRequest[];
}

export interface PublishResult {
  /** The merge commit on the deploy branch; the pipeline takes it from there. */
  commit: string;
  changeRequest: ChangeRequest;
}

export interface TreeFile {
  path: string;
  size: number;
  /** Whether this user may change it. */
  editable: boolean;
  /** Why not, for this user, when not editable. */
  reason?: string;
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

export interface SaveRequest {
  content: string;
  baseCommit: string;
  message?: string;
}

export interface SaveResult {
  commit: string;
  path: string;
  blobSha?: string;
  /**
   * Present when the file had changed on the branch since `baseCommit` and the two changes did
   * not overlap: they were merged three-way, and `content` is the text committed (both
   * changes). The editor shows it; the client's own text is not what the branch has now.
   */
  merged?: { content: string; theirs: string };
}

export interface DiffRequest {
  content: string;
  baseCommit: string;
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

export interface CommitList {
  commits: CommitSummary[];
}

export interface ReleaseList {
  releases: ReleaseRecord[];
}

/** What a rollback to a release would change, asked before it runs. */
export interface RollbackPreview {
  sha: string;
  /** Every path the revert commit would change. */
  paths: string[];
  /** Those of them that are protected (only an admin may roll back across them). */
  protectedPaths: string[];
  /** Whether this user may run it; `reason` says why not. */
  allowed: boolean;
  reason?: string;
}

export interface RollbackResult {
  commit: string;
}

export interface Version {
  sha: string;
  builtAt: string;
}

/** The JSON error body of every refusal: `{error, code?, ...details, requestId}`. */
export interface ErrorBody {
  error?: string;
  code?: string;
  reason?: string;
  line?: number;
  column?: number;
  upstream?: {
    content: string | null;
    blobSha: string | null;
    /** The base to save a resolution on. */
    commit: string;
    /** When the version is another branch's (the deploy branch under a change request): which. */
    from?: { branch: string; commit: string };
  };
  requestId?: string;
}

/** A file a session has open in the editor, on the deploy branch or a change request's. */
export interface OpenFile {
  path: string;
  branch: string;
  /** Whether it has changes not saved yet. */
  dirty: boolean;
}

/** `PUT /api/presence`: every file this session has open now (an empty list: none). */
export interface PresenceReport {
  files: OpenFile[];
}

/** Someone's open file. */
export interface PresenceEntry extends OpenFile {
  user: string;
  name: string;
  /** Since when they have it open. */
  since: string;
}

/** Everyone's open files on this instance; also the data of the event stream's `presence`. */
export interface PresenceSnapshot {
  files: PresenceEntry[];
}

/** The data of the event stream's `saved`: a commit a save made to a file. */
export interface SavedEvent {
  path: string;
  branch: string;
  commit: string;
  user: string;
}

/**
 * Read your writes: `GET /api/tree` and `GET /api/files/…` take the newest commit the client has
 * seen (from a save's or a listing's `commit`) in this request header, and never answer with an
 * older one.
 */
export type SeenHeader = 'X-Reflex-Seen';

/** Every JSON route, by `METHOD path`; `void` is an empty 204 response. */
export interface ApiContract {
  'POST /api/session': { request: SignInRequest; response: void };
  'GET /api/session': { response: SessionUser };
  'DELETE /api/session': { response: void };
  'GET /api/settings': { response: EditorSettings };
  'GET /api/tree': { response: TreeListing };
  'GET /api/files/{*path}': { response: FileContent };
  'PUT /api/files/{*path}': { request: SaveRequest; response: SaveResult };
  'DELETE /api/files/{*path}': { response: SaveResult };
  'POST /api/diff/{*path}': { request: DiffRequest; response: DiffResult };
  'GET /api/commits': { response: CommitList };
  'GET /api/releases': { response: ReleaseList };
  'GET /api/changes': { response: ChangeRequestList };
  'POST /api/changes': { request: CreateChangeRequest; response: ChangeRequest };
  'GET /api/changes/:user/:slug': { response: ChangeRequest };
  'PATCH /api/changes/:user/:slug': { request: UpdateChangeRequest; response: ChangeRequest };
  'GET /api/changes/:user/:slug/tree': { response: TreeListing };
  'GET /api/changes/:user/:slug/files/{*path}': { response: FileContent };
  'PUT /api/changes/:user/:slug/files/{*path}': { request: SaveRequest; response: SaveResult };
  'DELETE /api/changes/:user/:slug/files/{*path}': { response: SaveResult };
  'POST /api/changes/:user/:slug/publish': { response: PublishResult };
  'POST /api/changes/:user/:slug/close': { response: ChangeRequest };
  'GET /api/presence': { response: PresenceSnapshot };
  'PUT /api/presence': { request: PresenceReport; response: PresenceSnapshot };
  'GET /api/releases/:sha/rollback': { response: RollbackPreview };
  'POST /api/releases/:sha/rollback': { response: RollbackResult };
}

/**
 * `GET /api/pipeline/events` is a stream of Server-Sent Events `stage` (a StageEvent); with
 * `?presence=1` also `presence` (a PresenceSnapshot: at once, then whenever anyone's open files
 * change) and `saved` (a SavedEvent, whenever a save makes a commit).
 */
export type PipelineEvent = StageEvent;
export interface EventStreamData {
  stage: StageEvent;
  presence: PresenceSnapshot;
  saved: SavedEvent;
}
