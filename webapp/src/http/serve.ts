/**
 * Listening and graceful shutdown. `close()` stops accepting, ends idle keep-alive connections,
 * lets in-flight requests finish (bounded by `shutdownTimeoutMs`), then resolves.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from '../logger';
import type { Lifecycle } from './lifecycle';

/** How often, while draining, connections that went idle are closed. */
const IDLE_SWEEP_MS = 25;

export interface ServeOptions {
  port: number;
  host: string;
  shutdownTimeoutMs: number;
  logger: Logger;
  lifecycle: Lifecycle;
}

export interface RunningServer {
  server: http.Server;
  port: number;
  /** Resolves once every connection is closed; `forced` when the bound cut some short. */
  close(): Promise<{ forced: boolean }>;
}

export async function serve(app: Koa, options: ServeOptions): Promise<RunningServer> {
  const handle = app.callback();
  // Koa's handler settles every request itself; its promise never rejects.
  const server = http.createServer((req, res) => void handle(req, res));
  // Longer than load balancers' idle timeouts (ALB: 60 s), so the balancer closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  // Nothing is attached per request: draining is handled when it starts (see close()).
  const refuseKeepAliveWhileDraining = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<{ forced: boolean }> | undefined;
  const close = () => {
    closing ??= new Promise((resolve) => {
      options.lifecycle.beginDrain();
      // Requests arriving on kept-alive connections from now on get `Connection: close`;
      // connections whose last response has finished are closed as they become idle.
      server.on('request', refuseKeepAliveWhileDraining);
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      sweep.unref();
      let forced = false;
      const bound = setTimeout(() => {
        forced = true;
        options.logger.warn(
          { timeoutMs: options.shutdownTimeoutMs },
          'drain bound reached; closing the remaining connections',
        );
        server.closeAllConnections();
      }, options.shutdownTimeoutMs);
      bound.unref();
      server.close(() => {
        clearTimeout(bound);
        clearInterval(sweep);
        resolve({ forced });
      });
      server.closeIdleConnections();
    });
    return closing;
  };

  return { server, port, close };
}
