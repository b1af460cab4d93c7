/** Shared helpers for benchmarks: child servers, load rounds, medians, a results table. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import autocannon from 'autocannon';

export const ROOT = path.resolve(__dirname, '..');

export interface ChildServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Start a TypeScript server file (through tsx) that prints `{"listening": port}` on stdout. */
export async function startChildServer(
  file: string,
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = safeJson(line);
      if (typeof parsed?.listening === 'number') resolve(parsed.listening);
    });
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

function safeJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export interface LoadResult {
  requestsPerSecond: number;
  /** Responses received in the whole run. */
  requests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
}

export async function load(url: string, seconds: number, connections = 32): Promise<LoadResult> {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  return {
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, seconds) a process has used so far, from /proc (Linux). Unlike
 * req/s, CPU per request does not count time the process spent waiting for the CPU or the load.
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at field 3; utime, stime: 14, 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  // Every row's columns, in first-seen order: a first row without some columns drops none.
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number) => (typeof v === 'number' ? formatNumber(v) : v);
  const widths = columns.map((c) =>
    Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)),
  );
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c] ?? '')))),
  ].join('\n');
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1);
}

export interface BenchResult {
  name: string;
  /** Human-readable lines: the table and the verdict. */
  report: string;
  /** Whether the result meets its target. */
  pass: boolean;
  figures: Record<string, number>;
}
