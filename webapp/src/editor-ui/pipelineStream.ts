/**
 * Follows the pipeline's event stream (`GET /api/pipeline/events`) and keeps following it. It
 * reads the stream with fetch rather than EventSource, which cannot tell a missing stream (404:
 * no pipeline) from a refused one (a cap, a release switching over) and gives up on both. Here
 * a stream that ends or is refused comes back with backoff (stream.ts); the server replays its
 * recent events on each connection, and the stage reducer makes a replay change nothing.
 */
import { api } from './api';
import {
  SILENT_STREAM_MS,
  SseParser,
  failuresAfter,
  reconnectDelay,
  worthRetrying,
  type StreamEvent,
} from './stream';

export type Connection = 'connecting' | 'connected' | 'reconnecting' | 'unavailable';

export interface StreamHandlers {
  onConnection: (connection: Connection) => void;
  onEvent: (event: StreamEvent) => void;
}

export class PipelineStream {
  private controller: AbortController | undefined;
  private retryTimer: number | undefined;
  private failures = 0;

  constructor(private readonly handlers: StreamHandlers) {}

  /** (Re)starts following, from a fresh connection. */
  start(): void {
    this.stop();
    this.failures = 0;
    this.handlers.onConnection('connecting');
    void this.connect();
  }

  stop(): void {
    this.controller?.abort();
    this.controller = undefined;
    window.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async connect(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    let openedAt: number | undefined;
    let retryAfter = 0;
    try {
      const response = await api.pipelineEvents(controller.signal);
      if (!response.ok) {
        void response.body?.cancel();
        retryAfter = Number(response.headers.get('Retry-After')) || 0;
        if (!worthRetrying(response.status)) {
          this.controller = undefined;
          this.handlers.onConnection('unavailable');
          return;
        }
      } else {
        openedAt = Date.now();
        this.handlers.onConnection('connected');
        await this.read(response, controller);
      }
    } catch {
      // Unreachable, dropped, or silent for too long (aborted): come back as after an end.
    }
    if (this.controller !== controller) return; // stopped, or started again meanwhile
    this.failures = failuresAfter(
      this.failures,
      openedAt === undefined ? undefined : Date.now() - openedAt,
    );
    this.handlers.onConnection('reconnecting');
    const delay = reconnectDelay(this.failures, Math.random, retryAfter);
    this.retryTimer = window.setTimeout(() => void this.connect(), delay);
  }

  /** Hands on every event until the stream ends; aborts it when it stays silent too long. */
  private async read(response: Response, controller: AbortController): Promise<void> {
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    let watchdog = window.setTimeout(() => controller.abort(), SILENT_STREAM_MS);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.controller !== controller) return;
        window.clearTimeout(watchdog);
        watchdog = window.setTimeout(() => controller.abort(), SILENT_STREAM_MS);
        // One event per task, as EventSource dispatches them: a stage that starts and ends
        // within one chunk is still shown running, for a moment, before it is shown done.
        for (const [i, event] of parser.push(value).entries()) {
          if (i > 0) await nextTask();
          if (this.controller !== controller) return;
          this.handlers.onEvent(event);
        }
      }
    } finally {
      window.clearTimeout(watchdog);
      void reader.cancel().catch(() => undefined);
    }
  }
}

/** Resolves in a task of its own; a message, unlike a timer, is not slowed in a hidden tab. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}
