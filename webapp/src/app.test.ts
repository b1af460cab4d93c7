import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import { DomainError } from './errors';
import { errorHandler } from './http/errorHandler';
import { Lifecycle } from './http/lifecycle';
import { observe } from './http/observe';
import { createMetrics } from './metrics/registry';
import { buildTestApp } from '../test/support/app';
import { captureLogs } from '../test/support/logs';

describe('operational endpoints', () => {
  it('GET /healthz answers 200 once the instance is ready', async () => {
    const { app } = buildTestApp();
    const res = await request(app.callback()).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', sha: 'abc1234' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('GET /healthz answers 503 while starting and while draining', async () => {
    const starting = buildTestApp({ lifecycle: new Lifecycle() });
    const res1 = await request(starting.app.callback()).get('/healthz');
    expect(res1.status).toBe(503);
    expect(res1.body.status).toBe('starting');

    const { app, deps } = buildTestApp();
    deps.lifecycle.beginDrain();
    const res2 = await request(app.callback()).get('/healthz');
    expect(res2.status).toBe(503);
    expect(res2.body.status).toBe('draining');
  });

  it('GET /version reports the build sha and time', async () => {
    const { app } = buildTestApp();
    const res = await request(app.callback()).get('/version');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sha: 'abc1234', builtAt: '2026-01-01T00:00:00.000Z' });
  });

  it('GET /metrics exposes default metrics and the http series with route templates', async () => {
    const { app } = buildTestApp();
    await request(app.callback()).get('/healthz');
    const res = await request(app.callback()).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('process_cpu_seconds_total');
    expect(res.text).toContain('nodejs_eventloop_lag_seconds');
    expect(res.text).toMatch(
      /http_requests_total\{method="GET",route="\/healthz",status_code="200"\} 1/,
    );
    expect(res.text).toMatch(
      /http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/healthz",status_code="200"\}/,
    );
    expect(res.text).toContain('# TYPE http_requests_in_flight gauge');
  });

  it('an unknown path is counted under one "(unmatched)" series, never by its path', async () => {
    const { app } = buildTestApp();
    const res = await request(app.callback()).get('/no/such/page-12345');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'not found', code: 'not_found' });
    const metrics = (await request(app.callback()).get('/metrics')).text;
    expect(metrics).not.toContain('page-12345');
    expect(metrics).toContain('route="(unmatched)",status_code="404"');
  });
});

describe('http metrics middleware', () => {
  function appWithFilesRoute() {
    const metrics = createMetrics();
    const { logger } = captureLogs();
    const router = new Router();
    router.get('/api/files/{*path}', (ctx) => {
      ctx.body = { path: ctx.params.path };
    });
    const app = new Koa();
    app.use(observe(logger, metrics)).use(errorHandler(logger));
    app.use(router.routes());
    return { app, metrics };
  }

  it('labels a nested file path by the route template, not the concrete path', async () => {
    const { app, metrics } = appWithFilesRoute();
    const res = await request(app.callback()).get('/api/files/a/b/c.ts');
    expect(res.status).toBe(200);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('a/b/c.ts');
    expect(text).toContain('route="/api/files/{*path}"');
  });
});

describe('request ids and logs', () => {
  it('returns a generated request id and tags every log line of the request with it', async () => {
    const { app, logs } = buildTestApp();
    app.use((ctx) => {
      (ctx.state.log as typeof logs.logger).info('inside the handler');
      ctx.body = 'ok';
    });
    const res = await request(app.callback()).get('/logged');
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const lines = logs.lines.filter((l) => l.reqId === id);
    expect(lines.map((l) => l.msg)).toEqual(['inside the handler', 'request']);
    expect(lines[1]).toMatchObject({ method: 'GET', path: '/logged', status: 200 });
  });

  it('keeps a well-formed incoming X-Request-Id and replaces a malformed one', async () => {
    const { app } = buildTestApp();
    const kept = await request(app.callback())
      .get('/healthz')
      .set('X-Request-Id', 'edge-1234-abcd');
    expect(kept.headers['x-request-id']).toBe('edge-1234-abcd');
    const replaced = await request(app.callback())
      .get('/healthz')
      .set('X-Request-Id', 'bad id\twith "quotes"');
    expect(replaced.headers['x-request-id']).not.toContain('bad');
  });
});

describe('error middleware', () => {
  it('turns an unexposed error into a generic 500 with the request id, logged once with its stack', async () => {
    const { app, logs } = buildTestApp();
    app.use(() => {
      throw new Error('database password is hunter2');
    });
    const res = await request(app.callback()).get('/boom');
    expect(res.status).toBe(500);
    const id = res.headers['x-request-id'] as string;
    expect(res.body).toEqual({ error: 'Internal Server Error', requestId: id });
    expect(JSON.stringify(res.body)).not.toContain('hunter2');

    const errorLines = logs.lines.filter((l) => l.level === 'error');
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatchObject({ reqId: id, msg: 'request failed', status: 500 });
    expect((errorLines[0]!.err as { stack: string }).stack).toContain(
      'database password is hunter2',
    );
  });

  it('shows an exposed DomainError with its status, code and details', async () => {
    const { app, logs } = buildTestApp();
    app.use(() => {
      throw new DomainError('conflict', 'the file changed upstream', {
        details: { upstream: { commit: 'abc' } },
      });
    });
    const res = await request(app.callback()).put('/x');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      error: 'the file changed upstream',
      code: 'conflict',
      upstream: { commit: 'abc' },
    });
    expect(logs.lines.filter((l) => l.level === 'error')).toHaveLength(0);
  });

  it('maps ctx.throw errors and hides the message of an unexposed 4xx', async () => {
    const { app } = buildTestApp();
    app.use((ctx) => {
      if (ctx.path === '/teapot') ctx.throw(418, 'short and stout');
      throw new DomainError('invalid_request', 'internal detail', { expose: false });
    });
    const teapot = await request(app.callback()).get('/teapot');
    expect(teapot.status).toBe(418);
    expect(teapot.body.error).toBe('short and stout');
    const hidden = await request(app.callback()).get('/other');
    expect(hidden.status).toBe(400);
    expect(hidden.body.error).toBe('Bad Request');
  });
});
