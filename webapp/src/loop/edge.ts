/**
 * The local edge: one HTTP listener in front of the live release, doing locally what nginx
 * does on the host. Switching the upstream is atomic for new requests; requests already sent
 * to the old release finish there (the supervisor waits for them before stopping it). Each
 * upstream has its own keep-alive pool, so no request is ever written onto a connection the
 * old release is closing. A request that fails before any response byte (the upstream went
 * away) is retried once on the current upstream when it is safe to repeat (GET/HEAD without
 * a body). `/metrics` is not served through the edge.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger';

export interface Upstream {
  readonly port: number;
  readonly sha: string;
  readonly agent: http.Agent;
  /** Requests sent and not yet answered in full (long-lived streams excluded). */
  inFlight: number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
]);

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value;
  }
  return out;
}

const STARTING_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="1"><title>Reflex: no release yet</title></head><body style="font-family:system-ui;margin:3rem"><h1>No release is serving yet</h1><p>Reflex is getting one ready. This page reloads by itself.</p></body></html>`;

export class Edge {
  private active: Upstream | undefined;
  private server: http.Server | undefined;

  constructor(private readonly logger: Logger) {}

  get upstream(): Upstream | undefined {
    return this.active;
  }

  static upstream(port: number, sha: string): Upstream {
    return { port, sha, agent: new http.Agent({ keepAlive: true, maxSockets: 256 }), inFlight: 0 };
  }

  async listen(port: number, host: string): Promise<number> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** New requests go to `next` from now on; returns the previous upstream. */
  switchTo(next: Upstream): Upstream | undefined {
    const previous = this.active;
    this.active = next;
    this.logger.info({ sha: next.sha, port: next.port, previous: previous?.sha }, 'edge switched');
    return previous;
  }

  /** No release is live (it crashed): answer 503 until the next switch. */
  unset(): void {
    this.active = undefined;
  }

  /** Resolves when `upstream` has no request in flight, or after `timeoutMs` (false). */
  async drained(upstream: Upstream, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (upstream.inFlight > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
    this.active?.agent.destroy();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/metrics') {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const upstream = this.active;
    if (!upstream) {
      res.writeHead(503, {
        'Content-Type': 'text/html; charset=utf-8',
        'Retry-After': '1',
        'Cache-Control': 'no-store',
      });
      res.end(STARTING_PAGE);
      return;
    }
    const retryable =
      (req.method === 'GET' || req.method === 'HEAD') &&
      !req.headers['content-length'] &&
      !req.headers['transfer-encoding'];
    this.forward(req, res, upstream, retryable);
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    upstream: Upstream,
    retryable: boolean,
  ): void {
    upstream.inFlight++;
    let counted = true;
    const release = () => {
      if (counted) {
        counted = false;
        upstream.inFlight--;
      }
    };
    const headers = forwardable(req.headers);
    const client = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = req.headers['x-forwarded-for']
      ? `${String(req.headers['x-forwarded-for'])}, ${client}`
      : client;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-host'] = req.headers.host ?? '';

    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent: upstream.agent,
      },
      (incoming) => {
        const streaming = String(incoming.headers['content-type'] ?? '').startsWith(
          'text/event-stream',
        );
        if (streaming) release();
        res.writeHead(incoming.statusCode ?? 502, forwardable(incoming.headers));
        incoming.pipe(res);
        incoming.on('error', () => res.destroy());
        res.once('close', () => {
          release();
          if (!res.writableFinished) incoming.destroy();
        });
      },
    );
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      release();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const current = this.active;
      if (retryable && current) {
        this.logger.debug(
          { code: err.code, sha: upstream.sha },
          'edge retrying a request on the current upstream',
        );
        this.forward(req, res, current, false);
        return;
      }
      this.logger.warn(
        { err: err.message, code: err.code, sha: upstream.sha },
        'edge: upstream failed',
      );
      res.writeHead(502, { 'Content-Type': 'application/json' }).end('{"error":"bad gateway"}');
    });
    res.once('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    if (retryable) outgoing.end();
    else req.pipe(outgoing);
  }
}
