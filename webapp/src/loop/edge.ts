/**
 * The local edge: one HTTP listener in front of the live release, doing locally what nginx
 * does on the host. It routes by host name and path (edgeRoutes.ts) to the release's platform
 * or its site, and switching releases is atomic for new requests; requests already sent to a
 * retiring process finish there (the supervisor waits for them before stopping it). Each
 * upstream process has its own keep-alive pool, so no request is ever written onto a
 * connection a retiring process is closing. A request that fails before any response byte is
 * retried once on the current release when it is safe to repeat (GET/HEAD without a body).
 *
 * It holds under load from clients it cannot trust (edgeLimits.ts): timeouts for headers,
 * bodies and idle connections, caps per client on connections, requests in flight and event
 * streams, and request bodies read in full at the edge (up to a size limit, answered 413
 * beyond it) before an upstream is asked — a slow client never holds an upstream connection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger';
import { ClientLimits, readBody, type EdgeLimits } from './edgeLimits';
import { endToEnd, forwardedHeaders, route, upstreamPath } from './edgeRoutes';

export interface Upstream {
  readonly port: number;
  /** What runs there, for logs: `site 1a2b3c4d5e6f`. */
  readonly name: string;
  readonly agent: http.Agent;
  /** Requests sent and not yet answered in full (event streams excluded). */
  inFlight: number;
}

/**
 * What serves right now: a release and the two processes that serve it. Either half may be
 * missing while it is put back after a crash: requests for it get 503, the other half serves.
 */
export interface LiveRoute {
  sha: string;
  builtAt: string;
  platform: Upstream | undefined;
  site: Upstream | undefined;
}

/** Where one request goes: an upstream, what it is, and the release it is served as. */
interface Destination {
  upstream: Upstream;
  /** The site (a preview's too) never gets the edge's token or the platform's cookie. */
  as: 'platform' | 'site';
  sha: string;
  builtAt: string;
}

/** A change request's preview, as the edge asks for one (previews.ts). */
export type PreviewLookup = (
  name: string,
) => { sha: string; builtAt: string; site: Upstream } | 'waking' | undefined;

export interface EdgeOptions {
  logger: Logger;
  /** The editor's host name (`editor.localhost`). */
  editorHost: string;
  /** Sent to the platform with every request: it trusts forwarded headers that carry it. */
  edgeToken: string;
  limits: EdgeLimits;
  /** The previews of change requests, at `<name>.localhost`. */
  previews?: PreviewLookup;
}

const WAKING_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="1"><title>Reflex: preview starting</title></head><body style="font-family:system-ui;margin:3rem"><h1>This preview is starting</h1><p>It was asleep, or is still being built. This page reloads by itself.</p></body></html>`;

const STARTING_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="1"><title>Reflex: no release yet</title></head><body style="font-family:system-ui;margin:3rem"><h1>No release is serving yet</h1><p>Reflex is getting one ready. This page reloads by itself.</p></body></html>`;

function json(res: http.ServerResponse, status: number, body: object, extra = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json', ...extra });
  res.end(JSON.stringify(body));
}

export class Edge {
  private active: LiveRoute | undefined;
  private server: http.Server | undefined;
  private readonly clients: ClientLimits;

  constructor(private readonly o: EdgeOptions) {
    this.clients = new ClientLimits(o.limits);
  }

  get live(): LiveRoute | undefined {
    return this.active;
  }

  /** What the platform must see to trust the edge's forwarded headers. */
  get token(): string {
    return this.o.edgeToken;
  }

  /** A keep-alive pool for the process listening on `port`. */
  upstream(port: number, name: string): Upstream {
    return {
      port,
      name,
      agent: new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 64 }),
      inFlight: 0,
    };
  }

  async listen(port: number, host: string): Promise<number> {
    const limits = this.o.limits;
    const server = http.createServer((req, res) => this.handle(req, res));
    server.headersTimeout = limits.headersTimeoutMs;
    server.requestTimeout = limits.requestTimeoutMs;
    server.keepAliveTimeout = limits.idleTimeoutMs;
    server.on('connection', (socket) => this.clients.admit(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** New requests go to `next` from now on. */
  switchTo(next: LiveRoute): void {
    const previous = this.active;
    this.active = next;
    this.o.logger.info(
      {
        sha: next.sha,
        platform: next.platform?.port,
        site: next.site?.port,
        previous: previous?.sha,
      },
      'edge switched',
    );
  }

  /** A process of the live release is gone: its half answers 503 until the next switch. */
  unset(kind: 'platform' | 'site'): void {
    if (this.active) this.active = { ...this.active, [kind]: undefined };
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

  /** Closes the pool of a process that stopped. */
  dispose(upstream: Upstream): void {
    upstream.agent.destroy();
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
    for (const upstream of [this.active?.platform, this.active?.site])
      if (upstream) this.dispose(upstream);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const client = req.socket.remoteAddress ?? '';
    if (!this.clients.startRequest(client, res)) {
      json(
        res,
        429,
        { error: 'too many requests in flight from this client' },
        {
          'Retry-After': '1',
          Connection: 'close',
        },
      );
      return;
    }
    const target = route(req, this.o.editorHost);
    switch (target.kind) {
      case 'bad-request':
        json(res, 400, { error: target.why }, { Connection: 'close' });
        return;
      case 'not-found':
        json(res, 404, { error: 'not found', detail: target.why });
        return;
      case 'redirect':
        res.writeHead(308, { Location: target.location, 'Content-Type': 'text/plain' });
        res.end(`The editor lives at ${target.location}\n`);
        return;
      case 'preview':
        this.preview(req, res, target.name, target.version);
        return;
      case 'platform':
      case 'site':
        break;
    }
    const kind = target.kind;
    const live = this.active;
    if (!live) {
      res.writeHead(503, {
        'Content-Type': 'text/html; charset=utf-8',
        'Retry-After': '1',
        'Cache-Control': 'no-store',
      });
      res.end(STARTING_PAGE);
      return;
    }
    this.send(req, res, () => {
      const now = this.active;
      const upstream = now?.[kind];
      return now && upstream
        ? { upstream, as: kind, sha: now.sha, builtAt: now.builtAt }
        : `the ${kind} is being put back`;
    });
  }

  /** A request for a change request's preview. */
  private preview(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    name: string,
    version: boolean,
  ): void {
    const found = this.o.previews?.(name);
    if (!found) {
      json(res, 404, { error: `no preview named ${name}` });
      return;
    }
    if (found === 'waking') {
      res.writeHead(503, {
        'Content-Type': 'text/html; charset=utf-8',
        'Retry-After': '1',
        'Cache-Control': 'no-store',
      });
      res.end(WAKING_PAGE);
      return;
    }
    if (version) {
      json(
        res,
        200,
        { sha: found.sha, builtAt: found.builtAt, preview: name },
        {
          'Cache-Control': 'no-store',
        },
      );
      return;
    }
    this.send(req, res, () => {
      const now = this.o.previews?.(name);
      return now && now !== 'waking'
        ? { upstream: now.site, as: 'site', sha: now.sha, builtAt: now.builtAt }
        : `preview ${name} is starting`;
    });
  }

  /** Reads the body (when there is one) at the edge, then forwards to where `resolve` says. */
  private send(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    resolve: () => Destination | string,
  ): void {
    const hasBody =
      req.headers['content-length'] !== undefined || !!req.headers['transfer-encoding'];
    if (!hasBody) {
      this.forward(req, res, resolve, undefined, req.method === 'GET' || req.method === 'HEAD');
      return;
    }
    readBody(req, this.o.limits).then(
      (body) => this.forward(req, res, resolve, body, false),
      (err: { status: number; message: string }) =>
        json(res, err.status, { error: err.message }, { Connection: 'close' }),
    );
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    resolve: () => Destination | string,
    body: Buffer | undefined,
    retryable: boolean,
  ): void {
    const destination = resolve();
    if (typeof destination === 'string') {
      json(res, 503, { error: destination }, { 'Retry-After': '1' });
      return;
    }
    const { upstream, as: kind } = destination;
    upstream.inFlight++;
    let counted = true;
    const release = () => {
      if (counted) {
        counted = false;
        upstream.inFlight--;
      }
    };
    const headers = forwardedHeaders(req.headers, kind, {
      client: req.socket.remoteAddress ?? '',
      host: req.headers.host ?? '',
      release: destination.sha,
      builtAt: destination.builtAt,
      edgeToken: this.o.edgeToken,
    });
    if (body) {
      delete headers['transfer-encoding'];
      headers['content-length'] = String(body.length);
    }
    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port: upstream.port,
        method: req.method,
        path: upstreamPath(req.url ?? '/'),
        headers,
        agent: upstream.agent,
      },
      (incoming) => {
        clearTimeout(answerBound);
        const streaming = String(incoming.headers['content-type'] ?? '').startsWith(
          'text/event-stream',
        );
        if (streaming) {
          release();
          if (!this.clients.startStream(req.socket.remoteAddress ?? '', res)) {
            incoming.destroy();
            json(
              res,
              429,
              { error: 'too many event streams from this client' },
              {
                'Retry-After': '5',
              },
            );
            return;
          }
        }
        res.writeHead(incoming.statusCode ?? 502, endToEnd(incoming.headers));
        incoming.pipe(res);
        incoming.on('error', () => res.destroy());
        res.once('close', () => {
          release();
          if (!res.writableFinished) incoming.destroy();
        });
      },
    );
    // The site's code may loop forever; the editor's long requests (a push) are the platform's.
    let timedOut = false;
    const answerBound =
      kind === 'site'
        ? setTimeout(() => {
            timedOut = true;
            outgoing.destroy();
          }, this.o.limits.upstreamTimeoutMs)
        : undefined;
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(answerBound);
      release();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (timedOut) {
        json(res, 504, { error: 'the site did not answer in time' });
        return;
      }
      if (retryable) {
        this.o.logger.debug(
          { code: err.code, upstream: upstream.name },
          'edge retrying a request on the current release',
        );
        this.forward(req, res, resolve, undefined, false);
        return;
      }
      this.o.logger.warn(
        { err: err.message, code: err.code, upstream: upstream.name },
        'edge: upstream failed',
      );
      json(res, 502, { error: 'bad gateway' });
    });
    res.once('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    outgoing.end(body);
  }
}
