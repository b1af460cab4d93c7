/** Headers every response carries: no MIME sniffing, no framing, no cross-site referrers. */
import type { Middleware } from 'koa';

const HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
} as const;

export function securityHeaders(): Middleware {
  return (ctx, next) => {
    ctx.set(HEADERS);
    return next();
  };
}
