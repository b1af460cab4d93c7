/**
 * The work the Reflex app does for GET /healthz, without a framework: a request id (kept from
 * a well-formed `X-Request-Id`), one JSON access-log line through the app's logger when the
 * response closes, the app's RED metrics, and the same response headers and body. Shared by
 * the node:http baseline and the Koa floor so that both do exactly this and nothing else.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createLogger } from '../../webapp/src/logger';
import { createMetrics } from '../../webapp/src/metrics/registry';

const logger = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
const metrics = createMetrics();
const WELL_FORMED_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export const HEALTHZ_BODY = { status: 'ready', sha: 'bench' } as const;

/** Starts observing the request; returns the headers its response carries besides the body's. */
export function observeRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Record<string, string> {
  const started = process.hrtime.bigint();
  const incoming = req.headers['x-request-id'];
  const requestId =
    typeof incoming === 'string' && WELL_FORMED_ID.test(incoming) ? incoming : randomUUID();
  const log = logger.child({ reqId: requestId });
  metrics.httpRequestsInFlight.inc();
  const route = req.url === '/healthz' ? '/healthz' : '(unmatched)';
  res.once('close', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const labels = { method: req.method ?? 'GET', route, status_code: String(res.statusCode) };
    metrics.httpRequestsInFlight.dec();
    metrics.httpRequestsTotal.inc(labels);
    metrics.httpRequestDuration.observe(labels, seconds);
    log.info(
      { method: req.method, path: req.url, route, status: res.statusCode, ms: seconds * 1e3 },
      'request',
    );
  });
  return {
    'Cache-Control': 'no-store',
    'X-Request-Id': requestId,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
  };
}

/** Listens as the app's server does (keep-alive longer than a load balancer's) and says where. */
export function listen(server: http.Server): void {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ listening: (server.address() as AddressInfo).port }));
  });
}
