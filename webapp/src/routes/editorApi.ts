/**
 * The editor's HTTP API under /api: sign-in, the file tree, reading, diffing, saving and
 * deleting files, recent commits. Routes parse the request and shape the response; the rules
 * live in EditorService. Paths in URLs are repository paths with each segment URL-encoded.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditLog } from '../audit';
import type { RateLimiter } from '../auth/rateLimit';
import type { SessionManager } from '../auth/sessions';
import type { UserStore } from '../auth/users';
import type { EditorConfig } from '../config';
import type { EditorService } from '../editor/service';
import { AppError } from '../errors';
import { readJson } from '../http/body';
import { clearCookie, writeCookie } from '../http/cookies';
import { SESSION_COOKIE, currentSession, currentUser, secureCookies } from '../http/session';

export interface EditorApiDeps {
  editor: EditorService;
  users: UserStore;
  sessions: SessionManager;
  signinLimiter: RateLimiter;
  audit: AuditLog;
  config: EditorConfig;
  /** Extra routes on the same authenticated /api router (pipeline, releases). */
  extend?: (router: Router) => void;
}

const SMALL_BODY = 16 * 1024;

const signIn = z.object({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(1024),
});
const saveBody = z.object({
  content: z.string(),
  baseCommit: z.string().min(1).max(64),
  message: z.string().max(4000).optional(),
});
const diffBody = z.object({ content: z.string(), baseCommit: z.string().min(1).max(64) });

/** Validates `value` against `schema`, or 400 naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'body';
  throw new AppError(400, `${field}: ${issue.message}`, {
    code: 'invalid_request',
    details: { field },
  });
}

/**
 * The repository path named by the URL after `prefix`: each segment is URL-decoded on its own,
 * so an encoded `/` cannot smuggle in an extra segment. Normalisation is the service's job.
 */
export function filePathFrom(ctx: Context, prefix: string): string {
  const raw = ctx.path.slice(prefix.length);
  return raw
    .split('/')
    .map((segment) => {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        throw new AppError(400, 'invalid path: malformed URL encoding', { code: 'invalid_path' });
      }
      if (decoded.includes('/')) {
        throw new AppError(400, 'invalid path: encoded "/" inside a segment', {
          code: 'invalid_path',
        });
      }
      return decoded;
    })
    .join('/');
}

export function editorApiRoutes(deps: EditorApiDeps): Router {
  const { editor, users, sessions, signinLimiter, audit, config } = deps;
  const fileBodyLimit = config.maxFileBytes * 2 + 64 * 1024;
  const router = new Router({ prefix: '/api' });

  router.post('/session', async (ctx) => {
    const retryAfter = signinLimiter.retryAfter(ctx.ip);
    if (retryAfter > 0) {
      ctx.set('Retry-After', String(retryAfter));
      throw new AppError(429, `too many failed sign-ins; try again in ${retryAfter} s`, {
        code: 'rate_limited',
      });
    }
    const { username, password } = parseBody(signIn, await readJson(ctx, SMALL_BODY));
    const account = await users.authenticate(username, password);
    if (!account) {
      signinLimiter.record(ctx.ip);
      await audit.record({
        user: username.slice(0, 64),
        action: 'signin',
        result: 'refused',
        reason: `from ${ctx.ip}`,
      });
      throw new AppError(401, 'wrong username or password', { code: 'bad_credentials' });
    }
    const { value } = sessions.issue(account.username, account.passwordHash);
    writeCookie(ctx, SESSION_COOKIE, value, {
      maxAgeSeconds: config.sessionIdleSeconds,
      secure: secureCookies(ctx, config.cookieSecure),
    });
    await audit.record({
      user: account.username,
      action: 'signin',
      result: 'ok',
      reason: `from ${ctx.ip}`,
    });
    ctx.status = 204;
  });

  // Everything below needs a session.
  router.use(async (ctx, next) => {
    currentUser(ctx);
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/session', (ctx) => {
    ctx.body = currentUser(ctx);
  });

  router.delete('/session', async (ctx) => {
    const session = currentSession(ctx);
    if (session) await sessions.revoke(session);
    clearCookie(ctx, SESSION_COOKIE, secureCookies(ctx, config.cookieSecure));
    ctx.status = 204;
  });

  router.get('/settings', (ctx) => {
    ctx.body = {
      branch: config.branch,
      editable: config.editable,
      maxFileBytes: config.maxFileBytes,
    };
  });

  router.get('/tree', async (ctx) => {
    const { commit, json } = await editor.listingJson();
    ctx.set('ETag', `"${commit}"`);
    if (ctx.get('If-None-Match') === `"${commit}"`) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'json';
    ctx.body = json;
  });

  router.get('/files/{*path}', async (ctx) => {
    ctx.body = await editor.read(filePathFrom(ctx, '/api/files/'));
  });

  router.put('/files/{*path}', async (ctx) => {
    const body = parseBody(saveBody, await readJson(ctx, fileBodyLimit));
    ctx.body = await editor.save(currentUser(ctx), filePathFrom(ctx, '/api/files/'), body);
  });

  router.delete('/files/{*path}', async (ctx) => {
    const baseCommit = typeof ctx.query.baseCommit === 'string' ? ctx.query.baseCommit : '';
    const message = typeof ctx.query.message === 'string' ? ctx.query.message : undefined;
    ctx.body = await editor.remove(
      currentUser(ctx),
      filePathFrom(ctx, '/api/files/'),
      baseCommit,
      message,
    );
  });

  router.post('/diff/{*path}', async (ctx) => {
    const { content, baseCommit } = parseBody(diffBody, await readJson(ctx, fileBodyLimit));
    ctx.body = await editor.diff(filePathFrom(ctx, '/api/diff/'), content, baseCommit);
  });

  router.get('/commits', async (ctx) => {
    const limit = Math.min(100, Math.max(1, Number(ctx.query.limit ?? 20) || 20));
    ctx.body = { commits: await editor.commits(limit) };
  });

  deps.extend?.(router);
  return router;
}
