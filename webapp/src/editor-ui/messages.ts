/** What the editor tells the user when the API refuses something. Pure, no DOM. */
import type { ErrorBody } from '../api/contract';

/** A failed API call: `status` 0 when the server could not be reached at all. */
export interface Failure {
  status: number;
  body: ErrorBody;
  retryAfterSeconds?: number;
}

export interface Message {
  kind: 'error' | 'warning' | 'info' | 'success';
  title: string;
  detail?: string;
  /** For a 422 with a position: where to put the cursor. */
  position?: { line: number; column: number };
}

/** A failed call that is not a save: what failed, and why. */
export function failureMessage(err: unknown, doing: string): Message {
  return {
    kind: 'error',
    title: `Could not ${doing}: ${err instanceof Error ? err.message : String(err)}`,
  };
}

/** The message for a refused save (or delete) of `path`. */
export function saveFailureMessage(
  failure: Failure,
  context: { path: string; maxFileBytes: number },
): Message {
  const { status, body } = failure;
  switch (status) {
    case 0:
      return {
        kind: 'error',
        title: 'Not saved: the server could not be reached.',
        detail: 'Your changes are kept in this browser. Try again when the connection is back.',
      };
    case 401:
      return {
        kind: 'error',
        title: 'Not saved: your session has ended.',
        detail: 'Sign in again; your changes are kept in this browser.',
      };
    case 403:
      return {
        kind: 'error',
        title:
          body.code === 'forbidden_role'
            ? 'Not saved: your account can read but not change files.'
            : body.code === 'csrf'
              ? 'Not saved: the request did not come from this page.'
              : `Not saved: ${context.path} cannot be changed from the editor.`,
        detail: body.reason ? `Reason: ${body.reason}` : body.error,
      };
    case 409:
      if (body.upstream?.from) {
        return {
          kind: 'warning',
          title: `${context.path} changed on ${body.upstream.from.branch} since this change request took it in.`,
          detail:
            'Nothing was overwritten. Compare your version with theirs, then save on the new base: the change request then takes theirs in with yours.',
        };
      }
      return {
        kind: 'warning',
        title: `${context.path} changed on the branch since you opened it.`,
        detail:
          'Nothing was overwritten. Compare your version with theirs, then save on the new base.',
      };
    case 413:
      return {
        kind: 'error',
        title: 'Not saved: the file is too large.',
        detail:
          `The editor accepts files up to ${formatBytes(context.maxFileBytes)}. ${body.error ?? ''}`.trim(),
      };
    case 422: {
      const position =
        typeof body.line === 'number'
          ? { line: body.line, column: typeof body.column === 'number' ? body.column : 1 }
          : undefined;
      return {
        kind: 'error',
        title: position
          ? `Not saved: line ${position.line}, column ${position.column}: ${body.error ?? 'the file does not parse'}`
          : `Not saved: ${body.error ?? 'the file does not parse'}`,
        detail: 'Nothing was committed. Fix the file and save again.',
        ...(position ? { position } : {}),
      };
    }
    default:
      return {
        kind: 'error',
        title: `Not saved: ${body.error ?? `the server answered ${status}`}`,
        ...(body.requestId ? { detail: `Request id ${body.requestId}` } : {}),
      };
  }
}

/** The message for a file that could not be opened. */
export function openFailureMessage(failure: Failure, path: string): Message {
  const why: Record<number, string> = {
    404: 'it is not on the branch any more',
    413: `it is larger than the editor's limit`,
    415: 'it is not a text file (binary, or a link)',
  };
  const said = failure.body.error ?? `HTTP ${failure.status}`;
  return {
    kind: 'error',
    title: `Could not open ${path}: ${why[failure.status] ?? said}.`,
    ...(failure.status === 413 ? { detail: said } : {}),
  };
}

/** The message for a refused sign-in. */
export function signInFailureMessage(failure: Failure): string {
  switch (failure.status) {
    case 0:
      return 'The server could not be reached. Check the connection and try again.';
    case 401:
      return 'Wrong username or password.';
    case 429:
      return failure.retryAfterSeconds
        ? `Too many failed sign-ins. Try again in ${failure.retryAfterSeconds} seconds.`
        : 'Too many failed sign-ins. Wait a minute and try again.';
    default:
      return failure.body.error ?? `Sign-in failed (${failure.status}).`;
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${round(bytes / 1024)} KiB`;
  return `${round(bytes / (1024 * 1024))} MiB`;
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/**
 * Whether an error is a browser failing to load a script chunk (Chromium, Firefox and Safari
 * word it differently): after a release with a changed editor the old names are gone.
 */
export function isMissingChunk(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /dynamically imported module|Importing a module script failed/i.test(text);
}
