/**
 * Structured JSON logs (pino). Request-scoped children carry `reqId` (http/observe.ts).
 * Nothing secret is ever passed to a log call (tokens, passwords, cookies): there is no
 * redaction pass, because one would cost every line and hide the mistake instead of failing
 * the tests that look for secrets in captured logs.
 */
import pino from 'pino';

export type Logger = pino.Logger;

interface Stoppable {
  end(): void;
  destroy(): void;
  destroyed?: boolean;
  once(event: 'close' | 'error', listener: () => void): void;
}

/**
 * Logs to stdout. When stdout is a pipe nobody reads any more (the process that started us is
 * gone), writes fail with EPIPE; the stream then stops, because sonic-boom's exit-time
 * flushSync would otherwise retry the failing write forever and the process could never exit.
 */
function stdoutDestination(): pino.DestinationStream {
  const destination = pino.destination({ dest: 1, sync: false });
  destination.on('error', () => {
    if (!(destination as unknown as Stoppable).destroyed) destination.destroy();
  });
  return destination;
}

export function createLogger(
  level: pino.LevelWithSilent,
  destination: pino.DestinationStream = stdoutDestination(),
): Logger {
  return pino(
    {
      level,
      base: { service: 'reflex' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * Writes out what is buffered and closes the stream (waiting at most `timeoutMs`), so the
 * exit-time flush has nothing left to do. Call before `process.exit`.
 */
export async function finishLogging(logger: Logger, timeoutMs = 1000): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    Partial<Stoppable> | undefined;
  if (!stream?.end || !stream.destroy || !stream.once || stream.destroyed) return;
  await new Promise<void>((resolve) => {
    const bound = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(bound);
      resolve();
    };
    stream.once!('close', done);
    stream.once!('error', done);
    stream.end!();
  });
  if (!stream.destroyed) stream.destroy();
}
