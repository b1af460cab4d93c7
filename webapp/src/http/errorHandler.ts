/**
 * The one error middleware (koa docs/error-handling.md): maps any thrown value to a JSON
 * response, logs it once, and hides the message of anything not meant for the client.
 * A DomainError's code decides its status here and nowhere else.
 */
import { STATUS_CODES } from 'node:http';
import type { Context, Middleware } from 'koa';
import { DomainError, type ErrorCode } from '../errors';
import type { Logger } from '../logger';

/** The HTTP status of each domain error code. */
export const STATUS_OF: Record<ErrorCode, number> = {
  unauthenticated: 401,
  bad_credentials: 401,
  rate_limited: 429,
  forbidden_role: 403,
  forbidden_path: 403,
  csrf: 403,
  too_many_streams: 429,
  invalid_request: 400,
  invalid_json: 400,
  unsupported_media_type: 415,
  invalid_path: 400,
  invalid_base: 400,
  unknown_base: 400,
  invalid_sha: 400,
  invalid_message: 422,
  invalid_content: 422,
  path_conflict: 422,
  too_large: 413,
  not_found: 404,
  not_a_release: 404,
  not_regular: 415,
  binary: 415,
  conflict: 409,
  already_live: 409,
  merge_refused: 409,
  push_contention: 503,
  push_failed: 502,
  not_ready: 503,
};

/** Server-side failures whose message still helps the user (no secret can be in them). */
const EXPOSED_5XX = new Set<ErrorCode>(['push_contention', 'push_failed', 'not_ready']);

export interface Mapped {
  status: number;
  expose: boolean;
  message: string;
  code: string | undefined;
  details: Record<string, unknown> | undefined;
  headers: Record<string, string> | undefined;
}

/** A DomainError, or an http-errors value (ctx.throw, koa internals), or anything else (-> 500). */
export function mapError(thrown: unknown): Mapped {
  if (thrown instanceof DomainError) {
    const status = STATUS_OF[thrown.code];
    return {
      status,
      expose: thrown.expose ?? (status < 500 || EXPOSED_5XX.has(thrown.code)),
      message: thrown.message,
      code: thrown.code,
      details: thrown.details,
      headers:
        thrown.retryAfterSeconds === undefined
          ? undefined
          : { 'Retry-After': String(Math.max(1, Math.ceil(thrown.retryAfterSeconds))) },
    };
  }
  const candidate = thrown as {
    status?: unknown;
    expose?: unknown;
    message?: unknown;
    headers?: unknown;
  };
  if (
    typeof candidate?.status === 'number' &&
    candidate.status >= 400 &&
    candidate.status <= 599 &&
    typeof candidate.message === 'string'
  ) {
    return {
      status: candidate.status,
      expose: candidate.expose === true,
      message: candidate.message,
      code: undefined,
      details: undefined,
      headers:
        typeof candidate.headers === 'object' && candidate.headers !== null
          ? (candidate.headers as Record<string, string>)
          : undefined,
    };
  }
  return {
    status: 500,
    expose: false,
    message: 'Internal Server Error',
    code: undefined,
    details: undefined,
    headers: undefined,
  };
}

export function errorHandler(fallbackLogger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && (ctx.body === undefined || ctx.body === null)) {
        throw new DomainError('not_found', 'not found');
      }
    } catch (thrown) {
      respond(ctx, thrown, (ctx.state.log as Logger | undefined) ?? fallbackLogger);
    }
  };
}

function respond(ctx: Context, thrown: unknown, log: Logger): void {
  const mapped = mapError(thrown);
  const requestId = ctx.state.requestId as string | undefined;
  if (mapped.status >= 500 || !mapped.expose) {
    log.error({ err: thrown, status: mapped.status }, 'request failed');
  } else {
    log.info(
      { status: mapped.status, code: mapped.code, reason: mapped.message },
      'request refused',
    );
  }
  if (ctx.headerSent || !ctx.writable) return;

  ctx.status = mapped.status;
  for (const [name, value] of Object.entries(mapped.headers ?? {})) ctx.set(name, value);
  ctx.body = mapped.expose
    ? {
        error: mapped.message,
        ...(mapped.code ? { code: mapped.code } : {}),
        ...mapped.details,
        requestId,
      }
    : { error: STATUS_CODES[mapped.status] ?? 'Error', requestId };
}
