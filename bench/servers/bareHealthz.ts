/**
 * Baseline: node:http doing the same work as the Reflex app for GET /healthz (sameWork.ts)
 * with no framework. The ratio app / this measures what Koa and the app's middleware structure
 * cost, which is what the published koa/node:http anchor measures.
 */
import http from 'node:http';
import { HEALTHZ_BODY, listen, observeRequest } from './sameWork';

listen(
  http.createServer((req, res) => {
    const headers = observeRequest(req, res);
    if (req.url !== '/healthz') {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.stringify(HEALTHZ_BODY);
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  }),
);
