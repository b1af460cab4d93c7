/**
 * The Koa floor: Koa with one middleware doing exactly the node:http baseline's work
 * (sameWork.ts). Koa's own per-request cost is what separates it from the baseline; what
 * separates the real app from it is the cost of the app's middleware structure.
 */
import http from 'node:http';
import Koa from 'koa';
import { HEALTHZ_BODY, listen, observeRequest } from './sameWork';

const app = new Koa();
app.use((ctx) => {
  const headers = observeRequest(ctx.req, ctx.res);
  if (ctx.path !== '/healthz') return;
  ctx.set(headers);
  ctx.body = HEALTHZ_BODY;
});
const handle = app.callback();
listen(http.createServer((req, res) => void handle(req, res)));
