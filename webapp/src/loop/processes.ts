/**
 * Child processes of the supervisor: release instances (started, health-checked, stopped
 * gracefully) and pipeline commands (gate, build) whose output goes to a log file. Every child
 * runs in its own process group so that stopping it stops whatever it started (jest workers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, fstatSync, openSync, type WriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import http from 'node:http';

export interface ReleaseProcess {
  sha: string;
  port: number;
  pid: number;
  /** Resolves when the process has exited (code, or signal name). */
  exited: Promise<number | string>;
  /** True once `stop` was called: an exit after that is expected. */
  readonly stopping: boolean;
  /** True once the process has exited. */
  readonly hasExited: boolean;
  /** SIGTERM (the instance drains itself), SIGKILL after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

export class ProcessError extends Error {
  constructor(
    message: string,
    readonly logTail: string,
  ) {
    super(message);
    this.name = 'ProcessError';
  }
}

/** Keeps the last `max` characters written, for failure excerpts. */
class Tail {
  private text = '';
  constructor(private readonly max = 4096) {}
  add(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
}

/**
 * The whole environment of a pipeline command (gate, build, install): the basics a toolchain
 * needs and nothing of the supervisor's own (its settings, a developer's cloud credentials).
 */
export function commandEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    TMPDIR: process.env.TMPDIR,
  };
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

const children = new Set<ChildProcess>();

/** Kills every child (and its group) still running: for shutdown and crash paths. */
export function killAllChildren(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const child of children) killGroup(child, signal);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function track(child: ChildProcess): Promise<number | string> {
  children.add(child);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
}

function openLog(file: string): WriteStream {
  return createWriteStream(file, { flags: 'a', mode: 0o600 });
}

/**
 * Runs a pipeline command; resolves on exit 0, rejects with ProcessError (and the output's
 * tail) otherwise or after `timeoutMs`.
 */
export async function runCommand(
  command: string,
  args: string[],
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    logFile: string;
    timeoutMs: number;
    label: string;
    /** Ends the command (its whole process group) when aborted: the supervisor is stopping. */
    signal?: AbortSignal | undefined;
  },
): Promise<void> {
  if (options.signal?.aborted)
    throw new ProcessError(`${options.label} was not started: stopping`, '');
  const log = openLog(options.logFile);
  log.write(`$ ${[command, ...args].join(' ')}\n`);
  const tail = new Tail();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = track(child);
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      if (!log.writableEnded) log.write(chunk);
      tail.add(chunk.toString('utf8'));
    });
  }
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), options.timeoutMs);
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    killGroup(child, 'SIGTERM');
    setTimeout(() => killGroup(child, 'SIGKILL'), 2000).unref();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const code = await exited;
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  await new Promise<void>((resolve) => log.end(() => resolve()));
  if (aborted)
    throw new ProcessError(
      `${options.label} was stopped: the supervisor is stopping`,
      tail.toString(),
    );
  if (code !== 0) {
    const why =
      typeof code === 'string'
        ? `was killed (${code}${code === 'SIGKILL' ? `, over ${options.timeoutMs} ms?` : ''})`
        : `exited with ${code}`;
    throw new ProcessError(`${options.label} ${why}`, tail.toString());
  }
}

/** How often a starting process's log is read for its `listening` line. */
const ANNOUNCE_POLL_MS = 10;

/** The last `max` bytes a log got from `from` on (this run's output), as text. */
export async function logTail(file: string, from: number, max = 4096): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    const start = Math.max(from, size - max);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}

/**
 * Reads a log from `from` on as it grows, until `found` accepts a line or `stop` is called:
 * the process writes its own log (its stdout and stderr are the file), so the supervisor
 * looks for its announcement there instead of relaying every line it writes.
 */
function watchLog<T>(
  file: string,
  from: number,
  found: (line: string) => T | undefined,
): { result: Promise<T>; stop(): void } {
  let offset = from;
  let partial = '';
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let settle!: (value: T) => void;
  const result = new Promise<T>((resolve) => (settle = resolve));
  const read = async () => {
    if (stopped) return;
    const chunk = await logTail(file, offset, Number.MAX_SAFE_INTEGER);
    offset += Buffer.byteLength(chunk);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const value = found(line);
      if (value !== undefined) {
        stopped = true;
        settle(value);
        return;
      }
    }
    if (!stopped) timer = setTimeout(() => void read(), ANNOUNCE_POLL_MS);
  };
  void read();
  return {
    result,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** The port of a `{"msg":"listening","port":N}` line. */
function announcedPort(line: string): number | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const parsed = JSON.parse(line) as { msg?: string; port?: number };
    return parsed.msg === 'listening' && typeof parsed.port === 'number' ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a release's process (`node <args>`: the platform or the site) and resolves once it
 * reports the port it listens on. Its stdout and stderr are its log file itself: the supervisor,
 * which proxies every request, does no work per line the process logs (an access-log line per
 * request). A process that fails to start is reported with the end of what it wrote there.
 */
export async function startInstance(options: {
  sha: string;
  cwd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  timeoutMs: number;
}): Promise<ReleaseProcess> {
  const fd = openSync(options.logFile, 'a', 0o600);
  let from: number;
  let child: ChildProcess;
  try {
    from = fstatSync(fd).size;
    child = spawn(process.execPath, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  const exited = track(child);
  const announced = watchLog(options.logFile, from, announcedPort);
  let timer: NodeJS.Timeout | undefined;
  const port = await Promise.race([
    announced.result,
    exited.then(async (code): Promise<never> => {
      throw new ProcessError(
        `release exited while starting (${code})`,
        await logTail(options.logFile, from),
      );
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The tail first: the kill's exit must not be reported as an exit of its own.
        void logTail(options.logFile, from).then((tail) => {
          reject(
            new ProcessError(
              `release did not start listening within ${options.timeoutMs} ms`,
              tail,
            ),
          );
          killGroup(child, 'SIGKILL');
        });
      }, options.timeoutMs);
    }),
  ]).finally(() => {
    announced.stop();
    clearTimeout(timer);
  });

  let stopping = false;
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  return {
    sha: options.sha,
    port,
    pid: child.pid!,
    exited,
    get stopping() {
      return stopping;
    },
    get hasExited() {
      return hasExited;
    },
    async stop(graceMs: number) {
      stopping = true;
      killGroup(child, 'SIGTERM');
      const killer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * Polls `/healthz` until it answers 200; rejects after `timeoutMs` or when `exited` settles.
 * `headers` go with every probe (the release a site is asked about).
 */
export async function waitHealthy(
  port: number,
  timeoutMs: number,
  exited: Promise<unknown>,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => (gone = true));
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (gone) throw new ProcessError('release exited before it became healthy', last);
    const status = await probe(port, headers).catch((err: Error) => err.message);
    if (status === 200) return;
    last = typeof status === 'number' ? `/healthz answered ${status}` : status;
    await new Promise((r) => setTimeout(r, 40));
  }
  throw new ProcessError(
    `/healthz did not answer 200 within ${timeoutMs} ms (last: ${last})`,
    last,
  );
}

function probe(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 2000, headers },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}
