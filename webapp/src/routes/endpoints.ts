/**
 * Routes as a table of `METHOD path` → handler, where a handler returns the response body
 * (undefined: 204 No Content). The table's keys are ApiContract's, so a test can hold every
 * route's response type against the contract (webapp/test/contract.types.ts).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ApiContract } from '../api/contract';

export type Handler = (ctx: Context) => unknown;
export type EndpointTable = Partial<Record<keyof ApiContract, Handler>>;

/** The response body type each handler of a table produces. */
export type ResponsesOf<T extends EndpointTable> = {
  [K in keyof T]: T[K] extends (ctx: Context) => infer R ? Awaited<R> : never;
};

/** Registers every handler of `table` on `router`, whose prefix is `/api`. */
export function mount(router: Router, table: EndpointTable): void {
  for (const [key, handler] of Object.entries(table) as [keyof ApiContract, Handler][]) {
    const [method, fullPath] = key.split(' ') as [string, string];
    const route = fullPath.slice('/api'.length);
    const register = router[method.toLowerCase() as 'get'].bind(router);
    register(route, async (ctx) => {
      const body = await handler(ctx);
      if (body === undefined) {
        if (ctx.body === undefined) ctx.status = 204;
        return;
      }
      ctx.body = body;
      // A conditional GET of a body with an ETag the client has: 304 without the body.
      if (ctx.response.get('ETag') && ctx.fresh) ctx.status = 304;
    });
  }
}
