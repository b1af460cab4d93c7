/** Start real instance processes from the TypeScript sources (through tsx) and talk to them. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export const WEBAPP_DIR = path.resolve(__dirname, '../..');

export interface InstanceProcess {
  child: ChildProcessWithoutNullStreams;
  /** Every JSON log line from stdout so far. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

const spawned = new Set<ChildProcessWithoutNullStreams>();

/** Kills every process spawnTs started that still runs (for afterAll/afterEach). */
export function killSpawned(): void {
  for (const child of spawned)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  spawned.clear();
}

/** Spawn `entry` (a .ts file) with Node + tsx, with exactly `env` plus PATH and HOME. */
export function spawnTs(entry: string, env: Record<string, string>): InstanceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: WEBAPP_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ raw: line });
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, logs, stderr: () => stderr, exited };
}

/** Wait until the instance logs `listening`, and return its port. */
export async function waitForListening(
  instance: InstanceProcess,
  timeoutMs = 15_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = instance.logs.find((l) => l.msg === 'listening');
    if (line) return line.port as number;
    if (instance.child.exitCode !== null) {
      throw new Error(`instance exited with ${instance.child.exitCode}: ${instance.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`instance did not listen within ${timeoutMs} ms: ${instance.stderr()}`);
}
