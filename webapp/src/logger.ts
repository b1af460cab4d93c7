/**
 * Structured JSON logs (pino). Request-scoped children carry `reqId` (http/observe.ts).
 * Nothing secret is ever passed to a log call (tokens, passwords, cookies): there is no
 * redaction pass, because one would cost every line and hide the mistake instead of failing
 * the tests that look for secrets in captured logs.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(
  level: pino.LevelWithSilent,
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false }),
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
