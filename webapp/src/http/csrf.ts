/**
 * Cross-site request forgery defence for state-changing requests: refuse when the browser
 * says the request comes from another site (`Sec-Fetch-Site: cross-site | same-site`) or
 * names another origin (`Origin`). Clients that send neither header (curl, scripts) are not
 * browsers acting for a signed-in user, and are served. The session cookie is also
 * `SameSite=Strict`; this check does not depend on it.
 */
import type { Middleware } from 'koa';
import { AppError } from '../errors';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function csrfGuard(): Middleware {
  return async (ctx, next) => {
    if (!SAFE.has(ctx.method)) {
      const site = ctx.get('Sec-Fetch-Site');
      if (site === 'cross-site' || site === 'same-site') {
        throw new AppError(403, 'cross-site request refused', {
          code: 'csrf',
          details: { reason: `Sec-Fetch-Site: ${site}` },
        });
      }
      const origin = ctx.get('Origin');
      // Our own origin, from the request line (Koa 3's ctx.origin echoes the Origin header).
      const own = `${ctx.protocol}://${ctx.host}`;
      if (origin && origin !== own) {
        throw new AppError(403, 'cross-origin request refused', {
          code: 'csrf',
          details: { reason: `Origin ${origin} is not ${own}` },
        });
      }
    }
    await next();
  };
}
