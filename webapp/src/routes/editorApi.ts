/**
 * The editor's HTTP API under /api: sign-in, the file tree, reading, diffing, saving and
 * deleting files, recent commits. Routes parse the request and shape the response; the rules
 * live in EditorService. Paths in URLs are repository paths with each segment URL-encoded.
 */
import type { Context } from 'koa';
import { z } from 'zod';
import type { EditorSettings, SeenHeader } from '../api/contract';
import type { AuditLog } from '../audit';
import type { SessionManager } from '../auth/sessions';
import type { SignInGuard } from '../auth/signin';
import type { UserStore } from '../auth/users';
import type { EditorConfig } from '../config';
import { saveTargetFor, type ChangeRequestService } from '../editor/changeRequests';
import { MAX_OPEN_FILES, type Presence } from '../editor/presence';
import { parsePath } from '../editor/service';
import type { EditorService } from '../editor/service';
import { DomainError } from '../errors';
import { readJson } from '../http/body';
import { clearCookie, writeCookie } from '../http/cookies';
import { currentSession, currentUser, secureCookies, sessionCookie } from '../http/session';

export interface EditorApiDeps {
  editor: EditorService;
  users: UserStore;
  sessions: SessionManager;
  signin: SignInGuard;
  audit: AuditLog;
  config: EditorConfig;
  changes: ChangeRequestService;
  presence: Presence;
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
const createBody = z.object({
  title: z.string().max(200),
  description: z.string().max(10_000).optional(),
});
const presenceBody = z.object({
  files: z
    .array(
      z.object({
        path: z.string().min(1).max(1024),
        branch: z.string().regex(/^[A-Za-z0-9._/-]{1,200}$/, 'must be a branch name'),
        dirty: z.boolean(),
      }),
    )
    .max(MAX_OPEN_FILES),
});
const updateBody = z.object({
  title: z.string().max(200).optional(),
  description: z.string().max(10_000).optional(),
});

/** Validates `value` against `schema`, or 400 naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'body';
  throw new DomainError('invalid_request', `${field}: ${issue.message}`, { details: { field } });
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
        throw new DomainError('invalid_path', 'invalid path: malformed URL encoding');
      }
      if (decoded.includes('/')) {
        throw new DomainError('invalid_path', 'invalid path: encoded "/" inside a segment');
      }
      return decoded;
    })
    .join('/');
}

/**
 * The newest commit the client has seen (it sends what its saves and listings returned), so
 * that no answer is older than that (read your writes across releases and instances).
 */
export const SEEN_HEADER: SeenHeader = 'X-Reflex-Seen';

function seenBy(ctx: Context): string | undefined {
  return ctx.get(SEEN_HEADER) || undefined;
}

/** POST /api/session: the one route that needs no session. */
export function signInEndpoint({ sessions, signin, audit, config }: EditorApiDeps) {
  return {
    'POST /api/session': async (ctx: Context): Promise<void> => {
      signin.admitClient(ctx.ip);
      const { username, password } = parseBody(signIn, await readJson(ctx, SMALL_BODY));
      const outcome = await signin.attempt(ctx.ip, username, password);
      if (!outcome.ok) {
        await audit.record({
          user: username.slice(0, 64),
          action: 'signin',
          result: 'refused',
          address: ctx.ip,
        });
        throw new DomainError('bad_credentials', outcome.reason);
      }
      const account = outcome.user;
      const { value } = sessions.issue(account.username, account.passwordHash);
      writeCookie(ctx, sessionCookie(ctx, config.cookieSecure), value, {
        maxAgeSeconds: config.sessionIdleSeconds,
        secure: secureCookies(ctx, config.cookieSecure),
      });
      await audit.record({
        user: account.username,
        action: 'signin',
        result: 'ok',
        address: ctx.ip,
      });
    },
  };
}

/** Everything else: behind a session (the router checks it first). */
export function editorEndpoints({ editor, sessions, config, changes, presence }: EditorApiDeps) {
  const fileBodyLimit = config.maxFileBytes * 2 + 64 * 1024;
  const settingsFor = (ctx: Context): EditorSettings => {
    const user = currentUser(ctx);
    return {
      branch: config.branch,
      editable: config.editable,
      maxFileBytes: config.maxFileBytes,
      wideScope: config.wideScope,
      siteUrl: config.siteUrl ?? null,
      saveTarget: saveTargetFor(config.changeRequests, user.role),
      directSaves:
        user.role !== 'viewer' && config.changeRequests.directSaveRoles.includes(user.role),
      canPublish: changes.canPublish(user),
      changeRequests: changes.kind,
    };
  };
  /** The `:user/:slug` of a change request's route, and its file path after `files/`. */
  const changeOf = (ctx: Context) => {
    const { user, slug } = ctx.params as { user: string; slug: string };
    return { user, slug };
  };
  const changeFile = (ctx: Context) => {
    const { user, slug } = changeOf(ctx);
    return filePathFrom(
      ctx,
      `/api/changes/${encodeURIComponent(user)}/${encodeURIComponent(slug)}/files/`,
    );
  };
  return {
    'GET /api/session': (ctx: Context) => currentUser(ctx),

    'DELETE /api/session': async (ctx: Context): Promise<void> => {
      const session = currentSession(ctx);
      if (session) await sessions.revoke(session);
      clearCookie(
        ctx,
        sessionCookie(ctx, config.cookieSecure),
        secureCookies(ctx, config.cookieSecure),
      );
    },

    'GET /api/settings': settingsFor,

    'GET /api/tree': async (ctx: Context) => {
      const listing = await editor.listing(currentUser(ctx), seenBy(ctx));
      ctx.set('ETag', `"${listing.commit}-${currentUser(ctx).role}"`);
      return listing;
    },

    'GET /api/files/{*path}': (ctx: Context) =>
      editor.read(filePathFrom(ctx, '/api/files/'), seenBy(ctx)),

    'PUT /api/files/{*path}': async (ctx: Context) => {
      changes.admitDirect(currentUser(ctx));
      const body = parseBody(saveBody, await readJson(ctx, fileBodyLimit));
      return editor.save(currentUser(ctx), filePathFrom(ctx, '/api/files/'), body);
    },

    'DELETE /api/files/{*path}': (ctx: Context) => {
      changes.admitDirect(currentUser(ctx));
      const { baseCommit, message } = deleteQuery(ctx);
      return editor.remove(currentUser(ctx), filePathFrom(ctx, '/api/files/'), baseCommit, message);
    },

    'POST /api/diff/{*path}': async (ctx: Context) => {
      const { content, baseCommit } = parseBody(diffBody, await readJson(ctx, fileBodyLimit));
      return editor.diff(filePathFrom(ctx, '/api/diff/'), content, baseCommit);
    },

    'GET /api/commits': async (ctx: Context) => {
      const limit = Math.min(100, Math.max(1, Number(ctx.query.limit ?? 20) || 20));
      return { commits: await editor.commits(limit) };
    },

    'GET /api/presence': () => ({ files: presence.snapshot() }),

    'PUT /api/presence': async (ctx: Context) => {
      const { files } = parseBody(presenceBody, await readJson(ctx, SMALL_BODY));
      const open = files.map((f) => ({ ...f, path: parsePath(f.path) }));
      const session = currentSession(ctx)?.sid ?? currentUser(ctx).username;
      return { files: presence.report(session, currentUser(ctx), open) };
    },

    'GET /api/changes': async () => ({ changeRequests: await changes.list() }),

    'POST /api/changes': async (ctx: Context) => {
      const body = parseBody(createBody, await readJson(ctx, SMALL_BODY));
      return changes.create(currentUser(ctx), body);
    },

    'GET /api/changes/:user/:slug': (ctx: Context) => {
      const { user, slug } = changeOf(ctx);
      return changes.get(user, slug);
    },

    'PATCH /api/changes/:user/:slug': async (ctx: Context) => {
      const body = parseBody(updateBody, await readJson(ctx, SMALL_BODY));
      const { user, slug } = changeOf(ctx);
      return changes.update(currentUser(ctx), user, slug, body);
    },

    'GET /api/changes/:user/:slug/tree': async (ctx: Context) => {
      const { user, slug } = changeOf(ctx);
      return editor.listing(currentUser(ctx), undefined, await changes.branchForSave(user, slug));
    },

    'GET /api/changes/:user/:slug/files/{*path}': async (ctx: Context) => {
      const { user, slug } = changeOf(ctx);
      const branch = await changes.branchForSave(user, slug);
      return editor.read(changeFile(ctx), undefined, branch);
    },

    'PUT /api/changes/:user/:slug/files/{*path}': async (ctx: Context) => {
      const body = parseBody(saveBody, await readJson(ctx, fileBodyLimit));
      const { user, slug } = changeOf(ctx);
      return changes.save(currentUser(ctx), user, slug, changeFile(ctx), body);
    },

    'DELETE /api/changes/:user/:slug/files/{*path}': (ctx: Context) => {
      const { user, slug } = changeOf(ctx);
      const { baseCommit, message } = deleteQuery(ctx);
      return changes.remove(currentUser(ctx), user, slug, changeFile(ctx), baseCommit, message);
    },

    'POST /api/changes/:user/:slug/publish': (ctx: Context) => {
      const { user, slug } = changeOf(ctx);
      return changes.publish(currentUser(ctx), user, slug);
    },

    'POST /api/changes/:user/:slug/close': (ctx: Context) => {
      const { user, slug } = changeOf(ctx);
      return changes.close(currentUser(ctx), user, slug);
    },
  };
}

function deleteQuery(ctx: Context): { baseCommit: string; message: string | undefined } {
  return {
    baseCommit: typeof ctx.query.baseCommit === 'string' ? ctx.query.baseCommit : '',
    message: typeof ctx.query.message === 'string' ? ctx.query.message : undefined,
  };
}
