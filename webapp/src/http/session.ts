/**
 * Who is asking: reads the session cookie, checks it and the account it names (which must
 * still exist with the same password), puts the user on `ctx.state.user`, and slides the idle
 * timeout. `requireUser` answers 401 for anonymous requests.
 */
import type { Context, Middleware } from 'koa';
import type { SessionUser } from '../api/contract';
import type { SessionManager, SessionPayload } from '../auth/sessions';
import { passwordFingerprint } from '../auth/sessions';
import { toEditorUser, type UserStore } from '../auth/users';
import { DomainError } from '../errors';
import { readCookie, writeCookie } from './cookies';

export const SESSION_COOKIE = 'reflex_session';
/**
 * The name over https: browsers accept a `__Host-` cookie only with Secure, Path=/ and no
 * Domain, and no other host (a sibling subdomain) can set or shadow it.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

/** The session cookie's name for this request: only that one is read or written. */
export function sessionCookie(ctx: Context, setting: 'auto' | boolean): string {
  return secureCookies(ctx, setting) ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

export interface SessionDeps {
  sessions: SessionManager;
  users: UserStore;
  cookieSecure: 'auto' | boolean;
}

export function secureCookies(ctx: Context, setting: 'auto' | boolean): boolean {
  return setting === 'auto' ? ctx.secure : setting;
}

export function loadSession({ sessions, users, cookieSecure }: SessionDeps): Middleware {
  return async (ctx, next) => {
    const payload = await sessions.verify(readCookie(ctx, sessionCookie(ctx, cookieSecure)));
    if (payload) {
      const account = await users.find(payload.u);
      if (account && passwordFingerprint(account.passwordHash) === payload.pv) {
        ctx.state.user = toEditorUser(account);
        ctx.state.session = payload;
        const refreshed = sessions.refreshed(payload);
        if (refreshed) {
          writeCookie(ctx, sessionCookie(ctx, cookieSecure), refreshed, {
            maxAgeSeconds: sessions.idleSeconds,
            secure: secureCookies(ctx, cookieSecure),
          });
        }
      }
    }
    await next();
  };
}

export function currentUser(ctx: Context): SessionUser {
  const user = ctx.state.user as SessionUser | undefined;
  if (!user) throw new DomainError('unauthenticated', 'sign in first');
  return user;
}

export function currentSession(ctx: Context): SessionPayload | undefined {
  return ctx.state.session as SessionPayload | undefined;
}
