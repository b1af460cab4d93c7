/**
 * Baseline: node:http doing the same work as the Reflex app for GET /healthz — the same
 * response body and headers, a request id, one JSON access-log line through the same logger,
 * the same metrics — with no framework. The ratio then measures what Koa, the router and
 * the middleware structure cost, which is what the published koa/node:http anchor measures.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createLogger } from '../../webapp/src/logger';
import { createMetrics } from '../../webapp/src/metrics/registry';

const logger = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
const metrics = createMetrics();

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  const requestId = randomUUID();
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
  if (route === '/healthz') {
    const body = JSON.stringify({ status: 'ready', sha: 'bench' });
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Request-Id': requestId,
    });
    res.end(body);
    return;
  }
  res.writeHead(404).end();
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: (server.address() as AddressInfo).port }));
});
