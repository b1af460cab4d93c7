/**
 * Follows the local supervisor's pipeline (its control API's /events and /releases) for the
 * editor. Reconnects after the supervisor restarts; the supervisor replays recent events on
 * every connect, so events already seen are not passed on twice.
 */
import http from 'node:http';
import type { Logger } from '../logger';
import { EventBuffer } from './eventBuffer';
import { SseReader } from './sse';
import type { PipelineTracker, PreviewInfo, ReleaseRecord, StageEvent } from './types';

const KEEP = 300;

export class LocalPipelineTracker implements PipelineTracker {
  private readonly events = new EventBuffer<StageEvent>(KEEP);
  private readonly seen = new Set<string>();
  private request: http.ClientRequest | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly baseUrl: string,
    private readonly logger: Logger,
    token?: string,
  ) {
    this.headers = token ? { authorization: `Bearer ${token}` } : {};
    this.connect();
  }

  subscribe(listener: (event: StageEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  recentEvents(): StageEvent[] {
    return this.events.recent();
  }

  async releases(): Promise<ReleaseRecord[]> {
    return (await this.getJson<{ releases: ReleaseRecord[] }>('/releases')).releases;
  }

  async previews(): Promise<PreviewInfo[]> {
    return (await this.getJson<{ previews: PreviewInfo[] }>('/previews')).previews;
  }

  private async getJson<T>(path: string): Promise<T> {
    const url = new URL(path, this.baseUrl);
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get(url, { agent: false, timeout: 5000, headers: this.headers }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(text)
              : reject(new Error(`supervisor answered ${res.statusCode}`)),
          );
        })
        .on('error', reject);
    });
    return JSON.parse(body) as T;
  }

  follow(): void {
    // Every push to the local origin is picked up by the supervisor itself.
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.request?.destroy();
  }

  private connect(): void {
    if (this.closed) return;
    const request = http.get(
      new URL('/events', this.baseUrl),
      { agent: false, headers: this.headers },
      (res) => {
        const reader = new SseReader();
        res.on('data', (chunk: Buffer) => {
          for (const data of reader.push(chunk.toString('utf8'))) this.received(data as StageEvent);
        });
        res.on('close', () => this.reconnect());
      },
    );
    request.on('error', (err) => {
      this.logger.debug(
        { err: err.message },
        'pipeline events: supervisor not reachable; retrying',
      );
      this.reconnect();
    });
    this.request = request;
  }

  private reconnect(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect();
    }, 1000);
    this.retry.unref();
  }

  private received(event: StageEvent): void {
    const key = eventKey(event);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const dropped = this.events.emit(event);
    if (dropped) this.seen.delete(eventKey(dropped));
  }
}

function eventKey(event: StageEvent): string {
  return `${event.sha}|${event.stage}|${event.status}|${event.at}`;
}
