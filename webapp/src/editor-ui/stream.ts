/**
 * Reading an event stream and coming back to it: Server-Sent Events framing, and when to
 * reconnect after the stream ends or is refused. The server ends streams on purpose (a
 * lifetime, a release that drains, a cap per client), so ending is normal: the reader comes
 * back soon after a stream that lived, and backs off from one that keeps failing. Pure, no DOM.
 */

export interface StreamEvent {
  /** `event:` of the frame (`message` when it names none). */
  event: string;
  /** Its `data:` lines, joined by newlines. */
  data: string;
}

/** Splits a text stream into events (the EventSource rules: comments, CRLF, multi-line data). */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private afterCr = false;

  push(chunk: string): StreamEvent[] {
    this.buffer += chunk;
    // A CR that ended the last chunk may be the first half of a CRLF.
    if (this.afterCr && this.buffer.startsWith('\n')) this.buffer = this.buffer.slice(1);
    this.afterCr = false;
    const events: StreamEvent[] = [];
    let end: number;
    while ((end = this.buffer.search(/[\r\n]/)) !== -1) {
      const line = this.buffer.slice(0, end);
      const crlf = this.buffer.startsWith('\r\n', end);
      this.afterCr = !crlf && this.buffer[end] === '\r' && end === this.buffer.length - 1;
      this.buffer = this.buffer.slice(end + (crlf ? 2 : 1));
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): StreamEvent | undefined {
    if (line === '') {
      const event =
        this.data.length > 0
          ? { event: this.event || 'message', data: this.data.join('\n') }
          : undefined;
      this.event = '';
      this.data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return undefined;
  }
}

/** The first reconnect comes after about this long; each failure in a row doubles it. */
export const RECONNECT_BASE_MS = 1000;
export const RECONNECT_MAX_MS = 30_000;
/**
 * A stream that stayed open this long was healthy, and its end the server's own doing (a
 * release draining, a lifetime): the next reconnect comes after the base delay, so that the
 * stages of a release going live are not missed. One that ends sooner counts as a failure.
 */
export const HEALTHY_STREAM_MS = 1000;
/** The server sends a heartbeat every 15 s; this long without a byte means the stream is dead. */
export const SILENT_STREAM_MS = 45_000;

/** Failures in a row after a stream that was open for `openMs` (undefined: it never opened). */
export function failuresAfter(previous: number, openMs: number | undefined): number {
  return openMs !== undefined && openMs >= HEALTHY_STREAM_MS ? 0 : previous + 1;
}

/**
 * How long to wait before reconnecting after `failures` failures in a row: exponential with a
 * cap, and spread (between half and all of it) so that the clients of one server that ended
 * every stream at once do not all come back in the same instant; never sooner than the
 * server's `Retry-After` (in seconds) asks.
 */
export function reconnectDelay(
  failures: number,
  random: () => number = Math.random,
  retryAfterSeconds = 0,
): number {
  const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.min(failures, 16));
  const spread = Math.round(ceiling / 2 + (ceiling / 2) * random());
  return Math.max(spread, Math.min(retryAfterSeconds, RECONNECT_MAX_MS / 1000) * 1000);
}

/**
 * Whether a stream refused with `status` is worth asking for again: not a 404 (there is no
 * pipeline here) nor a 401 (the session ended); a cap (429), a release switching over (502,
 * 503) or anything else passes.
 */
export function worthRetrying(status: number): boolean {
  return status !== 404 && status !== 401;
}
