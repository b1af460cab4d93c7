/**
 * Steady load for the zero-downtime tests: `rate` requests a second over at most `connections`
 * kept-alive connections, sent the way a well-behaved client (a browser, the ALB) sends them.
 *
 * Why not autocannon: nginx ends a kept-alive connection after `keepalive_requests` (1000) with
 * `Connection: close`, and autocannon writes its next request onto that connection anyway, in the
 * same tick as it parses the last response. nginx has closed the socket by then, so the kernel
 * answers with a reset, and about one such close in a hundred surfaced as ECONNRESET in the
 * client (measured: 4 in 1,892 requests with keepalive_requests 5; `edge.deploy.test.ts`). A
 * client must not send on a connection the server said it closes (RFC 9112, 9.6); Node's agent
 * never does, so every error counted here is the server's.
 */
import http from 'node:http';

export interface LoadOptions {
  /** Base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** Paths, taken in turn; each with the Host header to send (the URL's when absent). */
  requests: { path: string; host?: string }[];
  /** Requests started per second. */
  rate: number;
  /** Connections kept alive at most (requests beyond wait for one). */
  connections: number;
  /** A request with no complete answer after this long counts as a timeout. */
  timeoutMs?: number;
}

export interface LoadResult {
  /** Requests answered, by status. */
  statuses: Record<number, number>;
  '2xx': number;
  non2xx: number;
  /** Socket errors (ECONNRESET, ECONNREFUSED, …), each with when it happened and the path. */
  errors: string[];
  timeouts: number;
  seconds: number;
  /** Connections opened: more than `connections` when the server ended some. */
  connectionsOpened: number;
}

export interface Load {
  stop(): Promise<LoadResult>;
}

export function steadyLoad(o: LoadOptions): Load {
  const base = new URL(o.url);
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: o.connections,
    maxFreeSockets: o.connections,
  });
  const result: LoadResult = {
    statuses: {},
    '2xx': 0,
    non2xx: 0,
    errors: [],
    timeouts: 0,
    seconds: 0,
    connectionsOpened: 0,
  };
  const started = Date.now();
  let sent = 0;
  let pending = 0;
  let stopped = false;
  let drained: () => void = () => undefined;

  const send = () => {
    const next = o.requests[sent % o.requests.length]!;
    sent++;
    pending++;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      pending--;
      if (stopped && pending === 0) drained();
    };
    const request = http.request(
      {
        host: base.hostname,
        port: base.port,
        path: next.path,
        agent,
        headers: next.host ? { host: next.host } : {},
        timeout: o.timeoutMs ?? 10_000,
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          result.statuses[status] = (result.statuses[status] ?? 0) + 1;
          if (status >= 200 && status < 300) result['2xx']++;
          else result.non2xx++;
          settle();
        });
        response.on('error', (err: NodeJS.ErrnoException) => {
          result.errors.push(`${new Date().toISOString()} ${next.path} ${err.code ?? err.message}`);
          settle();
        });
      },
    );
    request.on('socket', (socket) => {
      if (!(socket as { reflexCounted?: boolean }).reflexCounted) {
        (socket as { reflexCounted?: boolean }).reflexCounted = true;
        result.connectionsOpened++;
      }
    });
    request.on('timeout', () => {
      result.timeouts++;
      request.destroy(new Error('timeout'));
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (err.message !== 'timeout') {
        result.errors.push(`${new Date().toISOString()} ${next.path} ${err.code ?? err.message}`);
      }
      settle();
    });
    request.end();
  };

  // Catch up to the rate every 10 ms: the count sent follows the clock, not the answers.
  const ticker = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * o.rate) / 1000);
    while (sent < due) send();
  }, 10);

  return {
    stop: () => {
      stopped = true;
      clearInterval(ticker);
      result.seconds = (Date.now() - started) / 1000;
      return new Promise<LoadResult>((resolve) => {
        drained = () => {
          agent.destroy();
          resolve(result);
        };
        if (pending === 0) drained();
      });
    },
  };
}
