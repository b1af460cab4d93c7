/**
 * The pipeline as the editor sees it, under the authenticated /api router:
 *   GET  /api/pipeline/events        Server-Sent Events (`event: stage`), recent ones first;
 *                                    `?presence=1`: also `presence` and `saved`
 *   GET  /api/releases               release history, newest first
 *   GET  /api/releases/:sha/rollback what a rollback to that release would change, and
 *                                    whether this user may run it
 *   POST /api/releases/:sha/rollback a commit restoring that release's tree, pushed to main
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { EditorConfig } from '../config';
import type { Presence } from '../editor/presence';
import type { RollbackService } from '../editor/rollback';
import type { Lifecycle } from '../http/lifecycle';
import { currentSession, currentUser } from '../http/session';
import { StreamSlots } from '../http/streamSlots';
import { EventStream, SSE_HEADERS } from '../pipeline/sse';
import type { PipelineTracker } from '../pipeline/types';

export interface PipelineApiDeps {
  tracker: PipelineTracker;
  rollbacks: RollbackService;
  lifecycle: Lifecycle;
  streams: EditorConfig['streams'];
}

export function pipelineEndpoints({ tracker, rollbacks }: PipelineApiDeps) {
  return {
    'GET /api/releases': async () => ({ releases: await tracker.releases() }),

    'GET /api/releases/:sha/rollback': (ctx: Context) =>
      rollbacks.preview(currentUser(ctx), (ctx.params as { sha?: string }).sha ?? ''),

    'POST /api/releases/:sha/rollback': async (ctx: Context) => {
      const sha = (ctx.params as { sha?: string }).sha ?? '';
      const commit = await rollbacks.rollback(currentUser(ctx), sha);
      tracker.follow(commit);
      return { commit };
    },
  };
}

/**
 * The event stream: the pipeline's stages and, asked for with `?presence=1`, everyone's open
 * files (`presence`) and saves (`saved`). Capped per session and per client; ended by the
 * server after a lifetime (the browser's EventSource reconnects by itself, replaying the
 * recent events) and at once when the instance drains (the browser reconnects through the
 * edge to the new release).
 */
export function pipelineEvents(
  router: Router,
  deps: PipelineApiDeps & { presence: Presence },
): void {
  const slots = new StreamSlots(deps.streams);
  router.get('/pipeline/events', (ctx) => {
    const release = slots.take(currentSession(ctx)?.sid ?? ctx.ip, ctx.ip);
    ctx.state.longLived = true;
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    const stream = new EventStream({ maxMs: deps.streams.maxSeconds * 1000 });
    ctx.set(SSE_HEADERS);
    ctx.body = stream.body;
    for (const event of deps.tracker.recentEvents()) stream.send('stage', event);
    const unsubscribe = deps.tracker.subscribe((event) => stream.send('stage', event));
    // Opt-in (`?presence=1`): readers that know only `stage` frames get nothing else.
    const unsubscribePresence =
      ctx.query.presence === '1' ? followPresence(stream, deps.presence) : () => undefined;
    const stopDrainHook = deps.lifecycle.onDrain(() => stream.end());
    stream.onEnd(() => {
      release();
      unsubscribe();
      unsubscribePresence();
      stopDrainHook();
    });
    ctx.res.once('close', () => stream.end());
  });
}

/** Everyone's open files now and whenever they change, and every save's commit. */
function followPresence(stream: EventStream, presence: Presence): () => void {
  stream.send('presence', { files: presence.snapshot() });
  return presence.subscribe((event) => {
    if (event.kind === 'presence') stream.send('presence', { files: event.files });
    else stream.send('saved', event.saved);
  });
}
