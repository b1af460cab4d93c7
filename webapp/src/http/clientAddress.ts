/**
 * Who the client is, honestly. `X-Forwarded-*` headers are anyone's to write: they count only
 * on a request that carries the edge's secret (`X-Reflex-Edge: <REFLEX_EDGE_TOKEN>`); on any
 * other they are removed before Koa reads them, so `ctx.ip`, `ctx.protocol` and `ctx.host`
 * come from the socket and the Host header. The edge sets `X-Forwarded-For` to the one
 * address it saw; whatever the header holds, `ctx.ip` is an IP address or the socket's — free
 * text never reaches a rate limit or the audit as an address.
 *
 * Without a token, REFLEX_TRUST_PROXY=true still trusts every request's headers (earlier
 * set-ups); the instance warns at start that anyone reaching its port can then forge them.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Middleware } from 'koa';

export const EDGE_HEADER = 'x-reflex-edge';
const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port'];

export interface ClientAddressOptions {
  edgeToken: string | undefined;
  trustProxy: boolean;
}

export function clientAddress({ edgeToken, trustProxy }: ClientAddressOptions): Middleware {
  const expected = edgeToken === undefined ? undefined : Buffer.from(edgeToken);
  const fromEdge = (given: string | string[] | undefined): boolean => {
    if (!expected || typeof given !== 'string') return false;
    const bytes = Buffer.from(given);
    return bytes.length === expected.length && timingSafeEqual(bytes, expected);
  };
  return (ctx, next) => {
    const headers = ctx.req.headers;
    const trusted = expected ? fromEdge(headers[EDGE_HEADER]) : trustProxy;
    if (!trusted) for (const name of FORWARDED) delete headers[name];
    const claimed = ctx.ip;
    ctx.request.ip = isIP(claimed) ? claimed : (ctx.req.socket.remoteAddress ?? '');
    return next();
  };
}
