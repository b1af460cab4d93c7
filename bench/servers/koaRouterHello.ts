/** Anchor: Koa + @koa/router answering one JSON route, no middleware (fastify/benchmarks' "koa-router"). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';

const app = new Koa();
const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ready', sha: 'bench' };
});
app.use(router.routes());
const handle = app.callback();
const server = http.createServer((req, res) => void handle(req, res));
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: (server.address() as AddressInfo).port }));
});
