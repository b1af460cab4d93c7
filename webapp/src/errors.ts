/**
 * The one error type of the service's layers: a `code` from a closed list, a message, and
 * the details a client may act on. It knows nothing of HTTP: `http/errorHandler.ts` maps each
 * code to a status and headers, logs once, and hides what is not meant for the client.
 */

/** Every reason a request can be refused or fail, by what went wrong. */
export type ErrorCode =
  // who is asking
  | 'unauthenticated'
  | 'bad_credentials'
  | 'rate_limited'
  | 'forbidden_role'
  | 'forbidden_path'
  | 'csrf'
  | 'too_many_streams'
  // what was asked
  | 'invalid_request'
  | 'invalid_json'
  | 'unsupported_media_type'
  | 'invalid_path'
  | 'invalid_base'
  | 'unknown_base'
  | 'invalid_sha'
  | 'invalid_message'
  | 'invalid_content'
  | 'path_conflict'
  | 'too_large'
  | 'not_found'
  | 'not_a_release'
  | 'not_regular'
  | 'binary'
  // the state of the repository
  | 'conflict'
  | 'already_live'
  /** GitHub refused to merge a pull request (branch protection, checks, reviews). */
  | 'merge_refused'
  | 'push_contention'
  | 'push_failed'
  | 'not_ready';

export interface DomainErrorOptions {
  /** Fields a client may act on (merged into the response body when shown). */
  details?: Record<string, unknown>;
  /** When the same request may succeed again, in seconds. */
  retryAfterSeconds?: number;
  /** Whether the message may be shown to the client; default: decided by the code. */
  expose?: boolean;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly expose: boolean | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.expose = options.expose;
  }
}

/** Narrow an unknown thrown value to an Error with an optional errno-style `code`. */
export function asError(value: unknown): Error & { code?: unknown } {
  return value instanceof Error ? value : new Error(String(value));
}
