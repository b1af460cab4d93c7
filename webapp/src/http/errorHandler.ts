/**
 * The one error middleware (koa docs/error-handling.md): maps any thrown value to a JSON
 * response, logs it once, and hides the message of anything not meant for the client.
 */
import { STATUS_CODES } from 'node:http';
import type { Context, Middleware } from 'koa';
import { AppError } from '../errors';
import type { Logger } from '../logger';

interface Mapped {
  status: number;
  expose: boolean;
  message: string;
  code: string | undefined;
  details: Record<string, unknown> | undefined;
  headers: Record<string, string> | undefined;
}

/** AppError, or an http-errors value (ctx.throw, koa internals), or anything else (-> 500). */
export function mapError(thrown: unknown): Mapped {
  if (thrown instanceof AppError) {
    return {
      status: thrown.status,
      expose: thrown.expose,
      message: thrown.message,
      code: thrown.code,
      details: thrown.details,
      headers: undefined,
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
        throw new AppError(404, 'not found', { code: 'not_found' });
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
