/** Captures pino's JSON lines in memory so tests can assert on what was logged. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger';

export interface CapturedLogs {
  logger: Logger;
  lines: Record<string, unknown>[];
}

export function captureLogs(level: Parameters<typeof createLogger>[0] = 'info'): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}
