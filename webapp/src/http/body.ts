/**
 * Request bodies: every route that reads one reads it through `readJson` with a byte limit;
 * `bodyLimit` refuses any request declaring more than the largest limit before it is read.
 */
import type { Context, Middleware } from 'koa';
import { DomainError } from '../errors';

export function bodyLimit(maxBytes: number): Middleware {
  return async (ctx, next) => {
    const declared = Number(ctx.get('Content-Length') || 0);
    if (declared > maxBytes) {
      ctx.set('Connection', 'close');
      throw new DomainError(
        'too_large',
        `request body of ${declared} bytes is over the limit of ${maxBytes}`,
      );
    }
    await next();
  };
}

/** The parsed JSON body, at most `maxBytes` long. */
export async function readJson(ctx: Context, maxBytes: number): Promise<unknown> {
  if (!ctx.is('application/json')) {
    throw new DomainError(
      'unsupported_media_type',
      'send a JSON body with Content-Type: application/json',
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      ctx.set('Connection', 'close');
      throw new DomainError('too_large', `request body is over the limit of ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new DomainError('invalid_json', 'the request body is not valid JSON');
  }
}
