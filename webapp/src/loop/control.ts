/**
 * The supervisor's control API, on a loopback port written to run/supervisor.json. Every route
 * needs the bearer token written there (0600): any local user can reach a loopback port.
 *   POST /notify          from origin.git's post-receive hook
 *   GET  /events          pipeline stage events (Server-Sent Events; recent ones first)
 *   GET  /releases        release history, newest first
 *   GET  /status          live release, running pipeline, queued commit, URLs
 *   GET  /previews        change requests' previews: branch, state, URL
 *   GET  /metrics         the supervisor's Prometheus metrics
 * Release instances read /events and /releases to show the pipeline in the editor.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { DomainError } from '../errors';
import { errorHandler } from '../http/errorHandler';
import { readJson } from '../http/body';
import type { Logger } from '../logger';
import { EventStream, SSE_HEADERS } from '../pipeline/sse';
import type { EventBus, History } from './history';
import type { LoopMetrics } from './metrics';

export interface ControlDeps {
  token: string;
  events: EventBus;
  history: History;
  metrics: LoopMetrics;
  logger: Logger;
  branch: string;
  status: () => Record<string, unknown>;
  onPush: (sha: string) => void;
  /** Another branch moved (`sha`) or was deleted (undefined): change requests' previews. */
  onBranch: (ref: string, sha: string | undefined) => void;
  previews: () => unknown[];
}

const COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const DELETED = /^0{40}(?:0{24})?$/;

export function controlApp(deps: ControlDeps): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(errorHandler(deps.logger));
  const router = new Router();
  const expected = Buffer.from(`Bearer ${deps.token}`);
  app.use(async (ctx, next) => {
    const given = Buffer.from(ctx.get('Authorization'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new DomainError(
        'unauthenticated',
        'the control API needs the token from run/supervisor.json',
      );
    }
    await next();
  });

  router.post('/notify', async (ctx) => {
    const body = (await readJson(ctx, 64 * 1024)) as { updates?: { to?: string; ref?: string }[] };
    for (const { ref, to } of body.updates ?? []) {
      if (typeof ref !== 'string' || typeof to !== 'string' || !COMMIT.test(to)) continue;
      if (ref === `refs/heads/${deps.branch}`) deps.onPush(to);
      else if (ref.startsWith('refs/heads/')) deps.onBranch(ref, DELETED.test(to) ? undefined : to);
    }
    ctx.status = 204;
  });

  router.get('/previews', (ctx) => {
    ctx.body = { previews: deps.previews() };
  });

  router.get('/events', (ctx) => {
    ctx.req.socket.setNoDelay(true);
    ctx.req.socket.setTimeout(0);
    const stream = new EventStream();
    ctx.set(SSE_HEADERS);
    ctx.body = stream.body;
    for (const event of deps.events.recentEvents()) stream.send('stage', event);
    stream.onEnd(deps.events.subscribe((event) => stream.send('stage', event)));
    ctx.res.once('close', () => stream.end());
  });

  router.get('/releases', (ctx) => {
    ctx.body = { releases: deps.history.all() };
  });

  router.get('/status', (ctx) => {
    ctx.body = deps.status();
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

export async function listenControl(app: Koa): Promise<{ server: http.Server; port: number }> {
  const handle = app.callback();
  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
