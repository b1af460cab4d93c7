/**
 * Who is asking: reads the session cookie, checks it and the account it names (which must
 * still exist with the same password), puts the user on `ctx.state.user`, and slides the idle
 * timeout. `requireUser` answers 401 for anonymous requests.
 */
import type { Context, Middleware } from 'koa';
import type { SessionManager, SessionPayload } from '../auth/sessions';
import { passwordFingerprint } from '../auth/sessions';
import { toEditorUser, type UserStore } from '../auth/users';
import type { EditorUser } from '../editor/service';
import { AppError } from '../errors';
import { readCookie, writeCookie } from './cookies';

export const SESSION_COOKIE = 'reflex_session';

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
    const payload = await sessions.verify(readCookie(ctx, SESSION_COOKIE));
    if (payload) {
      const account = await users.find(payload.u);
      if (account && passwordFingerprint(account.passwordHash) === payload.pv) {
        ctx.state.user = toEditorUser(account);
        ctx.state.session = payload;
        const refreshed = sessions.refreshed(payload);
        if (refreshed) {
          writeCookie(ctx, SESSION_COOKIE, refreshed, {
            maxAgeSeconds: sessions.idleSeconds,
            secure: secureCookies(ctx, cookieSecure),
          });
        }
      }
    }
    await next();
  };
}

export function currentUser(ctx: Context): EditorUser {
  const user = ctx.state.user as EditorUser | undefined;
  if (!user) throw new AppError(401, 'sign in first', { code: 'unauthenticated' });
  return user;
}

export function currentSession(ctx: Context): SessionPayload | undefined {
  return ctx.state.session as SessionPayload | undefined;
}
