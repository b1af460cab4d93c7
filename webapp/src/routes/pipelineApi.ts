/**
 * The pipeline as the editor sees it, under the authenticated /api router:
 *   GET  /api/pipeline/events        Server-Sent Events (`event: stage`), recent ones first
 *   GET  /api/releases               release history, newest first
 *   POST /api/releases/:sha/rollback a commit restoring that release's tree, pushed to main
 */
import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import type { EditorService } from '../editor/service';
import type { Lifecycle } from '../http/lifecycle';
import { currentUser } from '../http/session';
import { sseFrame } from '../pipeline/sse';
import type { PipelineTracker } from '../pipeline/types';

export interface PipelineApiDeps {
  tracker: PipelineTracker;
  editor: EditorService;
  lifecycle: Lifecycle;
}

export function pipelineRoutes(
  router: Router,
  { tracker, editor, lifecycle }: PipelineApiDeps,
): void {
  router.get('/pipeline/events', (ctx) => {
    ctx.state.longLived = true;
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    const stream = new PassThrough();
    ctx.type = 'text/event-stream';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;
    stream.write('retry: 1000\n\n');
    for (const event of tracker.recentEvents()) stream.write(sseFrame('stage', event));
    const unsubscribe = tracker.subscribe((event) => stream.write(sseFrame('stage', event)));
    const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), 15_000);
    // When this instance drains (a newer release took over), end the stream at once: the
    // browser reconnects through the edge to the new release.
    const stopDrainHook = lifecycle.onDrain(() => stream.end());
    const cleanup = () => {
      clearInterval(heartbeat);
      unsubscribe();
      stopDrainHook();
    };
    ctx.res.once('close', cleanup);
    stream.once('end', cleanup);
  });

  router.get('/releases', async (ctx) => {
    ctx.body = { releases: await tracker.releases() };
  });

  router.post('/releases/:sha/rollback', async (ctx) => {
    const commit = await editor.rollback(currentUser(ctx), ctx.params.sha ?? '');
    tracker.follow(commit);
    ctx.body = { commit };
  });
}
