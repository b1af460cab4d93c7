/**
 * The one error type of the service. Routes and services throw it; the error middleware
 * (http/errorHandler.ts) is the only place that turns it into a response and logs it.
 */
export interface AppErrorOptions {
  /** Whether `message` and `details` may be shown to the client. Defaults to `status < 500`. */
  expose?: boolean;
  /** A short machine-readable code, e.g. `conflict`, `forbidden_path`. */
  code?: string;
  /** Extra fields merged into the JSON response body when exposed. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly status: number;
  readonly expose: boolean;
  readonly code: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.expose = options.expose ?? status < 500;
    this.code = options.code;
    this.details = options.details;
  }
}

/** Narrow an unknown thrown value to an Error with an optional errno-style `code`. */
export function asError(value: unknown): Error & { code?: unknown } {
  return value instanceof Error ? value : new Error(String(value));
}
