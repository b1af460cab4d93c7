/**
 * Runs one git command as a child process, optionally feeding stdin. Used for the local
 * plumbing of a save (hash-object, update-index, write-tree, commit-tree, cat-file): those
 * print little or nothing, and simple-git waits a fixed 50 ms after any child that prints
 * nothing, which would triple the cost of a save. Remote operations use simple-git.
 */
import { spawn } from 'node:child_process';

export class GitCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'GitCommandError';
  }
}

export interface RunGitOptions {
  cwd: string;
  env: Record<string, string>;
  input?: string | Buffer;
  /** Kills the child after this long (default 60 s). */
  timeoutMs?: number;
  /** Removes secrets from stderr before it goes into an error. */
  redact: (text: string) => string;
}

/** Runs git; resolves with its output when it exits 0, or with one of `allowedExits`. */
export async function runGit(args: readonly string[], options: RunGitOptions): Promise<Buffer> {
  return (await runGitStatus(args, options)).stdout;
}

/**
 * Like runGit, but an exit status in `allowedExits` (e.g. 1 for "conflicts" of merge-tree) is
 * an answer, not a failure: it resolves with the status and the output.
 */
export function runGitStatus(
  args: readonly string[],
  options: RunGitOptions & { allowedExits?: readonly number[] },
): Promise<{ exitCode: number; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => reject(err));
    child.on('close', (code, signal) => {
      if (code === 0 || (code !== null && options.allowedExits?.includes(code))) {
        resolve({ exitCode: code, stdout: Buffer.concat(stdout) });
        return;
      }
      const text = options.redact(Buffer.concat(stderr).toString('utf8').trim());
      const what = `git ${args.find((arg, i) => !arg.startsWith('-') && args[i - 1] !== '-c') ?? ''}`;
      reject(
        new GitCommandError(
          `${what} failed (${signal ?? `exit ${code}`})${text ? `: ${text}` : ''}`,
          code,
          text,
        ),
      );
    });
    child.stdin.on('error', () => undefined); // a child that exits early closes stdin: not ours to report
    child.stdin.end(options.input ?? '');
  });
}

/** One bare repository's local git: its folder, its environment and what to redact. */
export class Plumbing {
  constructor(
    readonly gitDir: string,
    readonly env: Record<string, string>,
    readonly redact: (text: string) => string,
  ) {}

  /** Runs git in the repository (or `cwd`); a non-zero exit is a GitCommandError. */
  run(
    args: readonly string[],
    extra: { env?: Record<string, string>; input?: string | Buffer } = {},
  ): Promise<Buffer> {
    return runGit(args, {
      cwd: this.gitDir,
      env: extra.env ?? this.env,
      ...(extra.input === undefined ? {} : { input: extra.input }),
      redact: this.redact,
    });
  }

  /** Runs git; an exit status in `allowedExits` is an answer (see runGitStatus). */
  status(
    args: readonly string[],
    allowedExits: readonly number[],
    cwd: string = this.gitDir,
  ): Promise<{ exitCode: number; stdout: Buffer }> {
    return runGitStatus(args, { cwd, env: this.env, redact: this.redact, allowedExits });
  }
}
