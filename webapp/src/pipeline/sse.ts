/**
 * Server-Sent Events, both ways: writing a stream to a client (the editor's pipeline panel,
 * the supervisor's control API), and reading frames back out of one (the instance following
 * the supervisor, the CLI following a rollback).
 */
import { PassThrough } from 'node:stream';

/** One SSE frame: `event: <name>` and one `data:` line of JSON. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The response headers of an event stream (no caching, no buffering by a proxy). */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-store',
  'X-Accel-Buffering': 'no',
} as const;

export interface EventStreamOptions {
  /** A comment line this often, so idle proxies and clients see the stream is alive. */
  heartbeatMs?: number;
  /** End the stream after this long; the client reconnects (EventSource does by itself). */
  maxMs?: number | undefined;
  /** How soon the client should reconnect after the stream ends. */
  retryMs?: number;
}

/**
 * One client's stream: `body` is the response body. Ends after `maxMs`, or when `end()` is
 * called (the client went away, the instance drains); `onEnd` hooks run once either way.
 */
export class EventStream {
  readonly body = new PassThrough();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly endHooks: (() => void)[] = [];
  private ended = false;

  constructor(options: EventStreamOptions = {}) {
    this.body.write(`retry: ${options.retryMs ?? 1000}\n\n`);
    const heartbeat = setInterval(
      () => this.body.write(': keep-alive\n\n'),
      options.heartbeatMs ?? 15_000,
    );
    this.timers.push(heartbeat);
    if (options.maxMs !== undefined) {
      const lifetime = setTimeout(() => this.end(), options.maxMs);
      lifetime.unref();
      this.timers.push(lifetime);
    }
    this.body.once('close', () => this.end());
  }

  send(event: string, data: unknown): void {
    if (!this.ended) this.body.write(sseFrame(event, data));
  }

  onEnd(hook: () => void): void {
    if (this.ended) hook();
    else this.endHooks.push(hook);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.body.end();
    for (const hook of this.endHooks.splice(0)) hook();
  }
}

/**
 * Collects chunks of an event stream and returns the parsed `data:` of each complete frame.
 * Comment lines (`: keep-alive`) and frames without data are skipped.
 */
export class SseReader {
  private buffer = '';

  push(chunk: string): unknown[] {
    this.buffer += chunk;
    const data: unknown[] = [];
    let end;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const line = frame.split('\n').find((l) => l.startsWith('data: '));
      if (line) data.push(JSON.parse(line.slice(6)) as unknown);
    }
    return data;
  }
}
