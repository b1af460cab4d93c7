/**
 * Type-level test, checked by `npm run typecheck` (neither run by jest nor bundled): every call
 * of the editor's API client answers with the type src/api/contract.ts declares for its route,
 * and refusals carry the contract's error body. The server's side of the same contract is
 * held by webapp/test/contract.types.ts.
 */
import type { ApiContract, ErrorBody, SeenHeader, Version } from '../api/contract';
import type { ApiError, api } from './api';
import type { SEEN_HEADER } from './seen';

/** True only when A and B are the same type (not merely assignable one way). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile naming the offending calls when T is not empty. */
type ExpectNone<T extends never> = T;

type Answer<K extends keyof ApiContract> = ApiContract[K]['response'];

/** Each call of the client, and what it answers. */
interface Calls {
  /** Undefined when nobody is signed in (the route's 401). */
  session: Answer<'GET /api/session'> | undefined;
  signIn: Answer<'POST /api/session'>;
  signOut: Answer<'DELETE /api/session'>;
  settings: Answer<'GET /api/settings'>;
  tree: Answer<'GET /api/tree'>;
  read: Answer<'GET /api/files/{*path}'>;
  save: Answer<'PUT /api/files/{*path}'>;
  diff: Answer<'POST /api/diff/{*path}'>;
  commits: Answer<'GET /api/commits'>;
  releases: Answer<'GET /api/releases'>;
  rollbackPreview: Answer<'GET /api/releases/:sha/rollback'>;
  rollback: Answer<'POST /api/releases/:sha/rollback'>;
  changes: Answer<'GET /api/changes'>;
  createChange: Answer<'POST /api/changes'>;
  publishChange: Answer<'POST /api/changes/:user/:slug/publish'>;
  closeChange: Answer<'POST /api/changes/:user/:slug/close'>;
  reportPresence: Answer<'PUT /api/presence'>;
  version: Version;
}

type Client = typeof api;

/** The calls whose answer differs from the contract's. */
type Disagreeing = {
  [K in keyof Calls]: Equal<Awaited<ReturnType<Client[K]>>, Calls[K]> extends true ? never : K;
}[keyof Calls];

export type EveryCallAnswersAsTheContractSays = ExpectNone<Disagreeing>;
/** A new call is listed above (the event stream is read as a stream, not a JSON answer). */
export type NoCallOutsideTheContract = ExpectNone<
  Exclude<keyof Client, keyof Calls | 'pipelineEvents'>
>;
export type RefusalsCarryTheContractsErrorBody = ExpectNone<
  Equal<ApiError['body'], ErrorBody> extends true ? never : 'ApiError.body'
>;
export type ReadsNameTheContractsHeader = ExpectNone<
  Equal<typeof SEEN_HEADER, SeenHeader> extends true ? never : 'SEEN_HEADER'
>;
