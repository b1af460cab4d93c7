/**
 * What keeps the local edge answering while some clients misbehave: per-client caps on open
 * connections, requests in flight and event streams (a client is its address), and request
 * bodies read at the edge within a size and an idle-time limit.
 */
import type http from 'node:http';
import type net from 'node:net';

export interface EdgeLimits {
  /** Time for a client to send a request's headers. */
  headersTimeoutMs: number;
  /** Time for a client to send a whole request, body included. */
  requestTimeoutMs: number;
  /** Longest pause between two chunks of a request body. */
  bodyIdleTimeoutMs: number;
  /** How long a kept-alive connection may sit idle. */
  idleTimeoutMs: number;
  /** Time for the site to start answering: a site stuck in a loop gets 504, not a hung client. */
  upstreamTimeoutMs: number;
  maxConnectionsPerClient: number;
  maxInFlightPerClient: number;
  maxStreamsPerClient: number;
  /** Largest request body the edge accepts (the platform's own largest, a file save). */
  maxBodyBytes: number;
}

export const DEFAULT_EDGE_LIMITS: Omit<EdgeLimits, 'maxBodyBytes'> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 10_000,
  idleTimeoutMs: 5_000,
  upstreamTimeoutMs: 30_000,
  maxConnectionsPerClient: 128,
  maxInFlightPerClient: 64,
  maxStreamsPerClient: 16,
};

/** Counts per client address; a count reaching 0 is forgotten. */
class Counter {
  private readonly counts = new Map<string, number>();

  tryAdd(key: string, max: number): boolean {
    const count = this.counts.get(key) ?? 0;
    if (count >= max) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  remove(key: string): void {
    const count = (this.counts.get(key) ?? 1) - 1;
    if (count <= 0) this.counts.delete(key);
    else this.counts.set(key, count);
  }
}

export class ClientLimits {
  private readonly connections = new Counter();
  private readonly inFlight = new Counter();
  private readonly streams = new Counter();

  constructor(private readonly limits: EdgeLimits) {}

  /** A new connection: refused (closed at once) beyond the client's cap. */
  admit(socket: net.Socket): void {
    const client = socket.remoteAddress ?? '';
    if (!this.connections.tryAdd(client, this.limits.maxConnectionsPerClient)) {
      socket.destroy();
      return;
    }
    socket.once('close', () => this.connections.remove(client));
  }

  /** A request starts; false when the client has too many in flight already. */
  startRequest(client: string, res: http.ServerResponse): boolean {
    return this.track(this.inFlight, client, res, this.limits.maxInFlightPerClient);
  }

  /** An event stream opens; false when the client has too many open already. */
  startStream(client: string, res: http.ServerResponse): boolean {
    return this.track(this.streams, client, res, this.limits.maxStreamsPerClient);
  }

  private track(counter: Counter, client: string, res: http.ServerResponse, max: number): boolean {
    if (!counter.tryAdd(client, max)) return false;
    res.once('close', () => counter.remove(client));
    return true;
  }
}

export class BodyError extends Error {
  constructor(
    readonly status: 408 | 413 | 400,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a request body in full, within the size limit and the idle-time limit. */
export function readBody(req: http.IncomingMessage, limits: EdgeLimits): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && !/^\d+$/.test(declared)) {
    return Promise.reject(new BodyError(400, 'invalid Content-Length'));
  }
  if (declared !== undefined && Number(declared) > limits.maxBodyBytes) {
    req.resume();
    return Promise.reject(
      new BodyError(413, `request body too large (limit ${limits.maxBodyBytes} bytes)`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: BodyError) => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      req.resume();
      reject(err);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => fail(new BodyError(408, 'request body too slow')),
        limits.bodyIdleTimeoutMs,
      );
    };
    arm();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBodyBytes) {
        fail(new BodyError(413, `request body too large (limit ${limits.maxBodyBytes} bytes)`));
        return;
      }
      chunks.push(chunk);
      arm();
    });
    req.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.once('error', () => fail(new BodyError(400, 'request body interrupted')));
    req.once('close', () => clearTimeout(timer));
  });
}

/** The largest body the platform accepts: a file save of the default size limit, twice, as JSON. */
export function largestBody(settings: Record<string, string>): number {
  const maxFile = Number(settings.REFLEX_MAX_FILE_BYTES ?? 1024 * 1024);
  return maxFile * 2 + 64 * 1024;
}
