/**
 * Who the client is, honestly. `X-Forwarded-*` headers are anyone's to write: they count only
 * on a request that carries the edge's secret (`X-Reflex-Edge: <REFLEX_EDGE_TOKEN>`); on any
 * other they are removed before Koa reads them, so `ctx.ip`, `ctx.protocol` and `ctx.host`
 * come from the socket and the Host header. The client's address is the LAST hop of
 * `X-Forwarded-For`: the edge sets the header to the one address it saw, and a load balancer
 * that talks to the platform directly (the ALB of the ECS runtime, with REFLEX_TRUST_PROXY)
 * appends the address it saw to whatever the client sent — every hop before the last is the
 * client's to write. Whatever the header holds, `ctx.ip` is an IP address or the socket's: free
 * text never reaches a rate limit or the audit as an address.
 *
 * Without a token, REFLEX_TRUST_PROXY=true trusts every request's headers (a load balancer in
 * front, no edge); the instance warns at start that anyone reaching its port can forge them.
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
    const claimed = trusted ? lastHop(headers['x-forwarded-for']) : undefined;
    ctx.request.ip = claimed && isIP(claimed) ? claimed : (ctx.req.socket.remoteAddress ?? '');
    return next();
  };
}

/** The address the nearest proxy saw: the last entry of `X-Forwarded-For`. */
export function lastHop(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  return value
    ?.split(',')
    .map((hop) => hop.trim())
    .filter(Boolean)
    .at(-1);
}
