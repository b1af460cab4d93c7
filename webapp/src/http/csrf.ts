/**
 * Cross-site request forgery defence for state-changing requests: refuse when the browser
 * says the request comes from another site (`Sec-Fetch-Site: cross-site | same-site`) or
 * names another origin (`Origin`). With the editor's public origin configured
 * (REFLEX_EDITOR_URL), that origin is the only one accepted: a page of the site, served on
 * another host name, cannot act through the API whatever Host it reached us with. Clients that
 * send neither header (curl, scripts) are not browsers acting for a signed-in user, and are
 * served. The session cookie is also `SameSite=Strict`; this check does not depend on it.
 */
import type { Middleware } from 'koa';
import { DomainError } from '../errors';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CsrfOptions {
  /** The editor's public origin (`https://editor.example.com`); else the request's own. */
  editorOrigin?: string | undefined;
}

export function csrfGuard(options: CsrfOptions = {}): Middleware {
  return async (ctx, next) => {
    if (!SAFE.has(ctx.method)) {
      const site = ctx.get('Sec-Fetch-Site');
      if (site === 'cross-site' || site === 'same-site') {
        throw new DomainError('csrf', 'cross-site request refused', {
          details: { reason: `Sec-Fetch-Site: ${site}` },
        });
      }
      const origin = ctx.get('Origin');
      // Our own origin, from the request line (Koa 3's ctx.origin echoes the Origin header).
      const own = options.editorOrigin ?? `${ctx.protocol}://${ctx.host}`;
      if (origin && origin !== own) {
        throw new DomainError('csrf', 'cross-origin request refused', {
          details: { reason: `Origin ${origin} is not ${own}` },
        });
      }
    }
    await next();
  };
}
