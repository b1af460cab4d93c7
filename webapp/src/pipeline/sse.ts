/**
 * Server-Sent Events, both ways: framing what a server sends, and reading frames back out of
 * a stream (the instance following the supervisor, the CLI following a rollback).
 */

/** One SSE frame: `event: <name>` and one `data:` line of JSON. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
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
