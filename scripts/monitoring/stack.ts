/**
 * Starts Debian's `prometheus` and `prometheus-node-exporter` on loopback with the configuration
 * derived from prometheus/prometheus.yml (config.ts): the app and the supervisor are found
 * through file-SD lists, node-exporter reads a textfile-collector folder, the alert rules are
 * loaded. Used by `npm run monitor` and by the monitoring tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { writeAtomically } from '../../webapp/src/files';
import { registerScraper, unregisterScraper } from '../../webapp/src/loop/scraper';
import { FILE_SD_JOBS, fileSdList, localPrometheusConfig, type FileSdJob } from './config';

export const PROMETHEUS = 'prometheus';
export const NODE_EXPORTER = 'prometheus-node-exporter';
/** The Debian package that provides each tool. */
export const TOOL_PACKAGES: Record<string, string> = {
  [PROMETHEUS]: 'prometheus',
  [NODE_EXPORTER]: 'prometheus-node-exporter',
};

export interface MonitoringOptions {
  /** File-SD targets to write before starting, by job (`host:port` strings). */
  targets?: Partial<Record<FileSdJob, string[]>>;
  /** Folder of the file-SD lists (`app.json`, `supervisor.json`). Default: a temporary folder. */
  fileSdDir?: string;
  /** node-exporter's textfile-collector folder. Default: a temporary folder. */
  textfileDir?: string;
  /** Prometheus' TSDB folder. Default: a temporary folder, removed by stop(). */
  dataDir?: string;
  /** Default: a free port. */
  prometheusPort?: number;
  /** Default: a free port. */
  nodeExporterPort?: number;
  /** Scrape and rule-evaluation interval. Default `1s`, so tests wait seconds, not minutes. */
  interval?: string;
  /** Prometheus' `--storage.tsdb.retention.time`. Default `1d`. */
  retention?: string;
  /** How long each process may take to become ready. Default 30 s. */
  startTimeoutMs?: number;
}

export interface MonitoringStack {
  prometheusUrl: string;
  nodeExporterUrl: string;
  fileSdDir: string;
  textfileDir: string;
  /** The generated prometheus.yml. */
  configFile: string;
  /** Atomically replace a job's file-SD list (what the deploy scripts do on a switch). */
  setTargets(job: FileSdJob, targets: string[], labels?: Record<string, string>): void;
  /** Both processes' output so far, for failure messages. */
  output(): string;
  /** Resolves, naming the process and its exit status, when either process ends before stop(). */
  unexpectedExit: Promise<string>;
  /** Stops both processes (SIGTERM, then SIGKILL) and removes the temporary folders. */
  stop(): Promise<void>;
}

const SEARCH_PATH = () => [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];

/** The full path of `command` on PATH (or sbin), or undefined. */
export function findTool(command: string): string | undefined {
  for (const dir of SEARCH_PATH()) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export class MissingToolError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `needs ${missing.join(' and ')}, not found on PATH; install with: ` +
        `sudo apt-get install -y ${missing.map((tool) => TOOL_PACKAGES[tool] ?? tool).join(' ')}`,
    );
    this.name = 'MissingToolError';
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Managed {
  name: string;
  child: ChildProcess;
  output: string;
  /** Resolves with the exit code or signal, or the spawn error, once the process is gone. */
  exited: Promise<string>;
}

function launch(name: string, command: string, args: string[]): Managed {
  // Its own process group: a Ctrl-C in the terminal reaches only the parent, which then stops
  // the children in order instead of racing them.
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const managed: Managed = {
    name,
    child,
    output: '',
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve(String(code ?? signal ?? 'unknown')));
      // A spawn failure emits `error` and no `exit`.
      child.once('error', (err) => resolve(err.message));
    }),
  };
  const keep = (chunk: Buffer) => {
    // Keep the tail only: a long-running `npm run monitor` must not grow without bound.
    managed.output = (managed.output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return managed;
}

function hasEnded(managed: Managed): boolean {
  return managed.child.exitCode !== null || managed.child.signalCode !== null;
}

async function stopProcess(managed: Managed, graceMs = 5_000): Promise<void> {
  const { child } = managed;
  if (hasEnded(managed) || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await managed.exited;
  clearTimeout(timer);
}

async function waitReady(managed: Managed, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let ended: string | undefined;
  void managed.exited.then((status) => (ended = status));
  while (Date.now() < deadline) {
    if (ended !== undefined) {
      throw new Error(
        `${managed.name} exited (${ended}) before it was ready:\n${managed.output.slice(-4_000)}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${managed.name} was not ready at ${url} within ${timeoutMs} ms:\n${managed.output.slice(-4_000)}`,
  );
}

/** A Prometheus duration as used for intervals (`500ms`, `15s`, `1m`), in seconds. */
export function durationSeconds(duration: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(duration);
  if (!match) throw new Error(`interval ${JSON.stringify(duration)}: use e.g. 500ms, 15s or 1m`);
  const value = Number(match[1]);
  return match[2] === 'ms' ? value / 1000 : match[2] === 's' ? value : value * 60;
}

export async function startMonitoring(options: MonitoringOptions = {}): Promise<MonitoringStack> {
  const missing = [PROMETHEUS, NODE_EXPORTER].filter((tool) => findTool(tool) === undefined);
  if (missing.length > 0) throw new MissingToolError(missing);

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'reflex-monitoring-'));
  const fileSdDir = options.fileSdDir ?? path.join(scratch, 'file-sd');
  const textfileDir = options.textfileDir ?? path.join(scratch, 'textfile');
  const dataDir = options.dataDir ?? path.join(scratch, 'data');
  for (const dir of [fileSdDir, textfileDir, dataDir]) mkdirSync(dir, { recursive: true });

  const setTargets: MonitoringStack['setTargets'] = (job, targets, labels) =>
    writeAtomically(path.join(fileSdDir, FILE_SD_JOBS[job]), fileSdList(targets, labels));
  for (const [job, targets] of Object.entries(options.targets ?? {}) as [FileSdJob, string[]][]) {
    setTargets(job, targets);
  }

  const prometheusPort = options.prometheusPort ?? (await freePort());
  const nodeExporterPort = options.nodeExporterPort ?? (await freePort());
  const prometheusAddress = `127.0.0.1:${prometheusPort}`;
  const nodeExporterAddress = `127.0.0.1:${nodeExporterPort}`;
  const configFile = path.join(scratch, 'prometheus.yml');
  const interval = options.interval ?? '1s';
  const intervalSeconds = durationSeconds(interval);
  writeFileSync(
    configFile,
    YAML.stringify(
      localPrometheusConfig({
        fileSdDir,
        prometheusAddress,
        nodeExporterAddress,
        interval,
      }),
    ),
  );

  const processes: Managed[] = [];
  const killOnExit = () => processes.forEach(({ child }) => child.kill('SIGKILL'));
  process.once('exit', killOnExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unregisterScraper(fileSdDir);
    await Promise.all(processes.map((managed) => stopProcess(managed)));
    process.removeListener('exit', killOnExit);
    rmSync(scratch, { recursive: true, force: true });
  };

  try {
    processes.push(
      launch(NODE_EXPORTER, NODE_EXPORTER, [
        `--web.listen-address=${nodeExporterAddress}`,
        `--collector.textfile.directory=${textfileDir}`,
      ]),
      launch(PROMETHEUS, PROMETHEUS, [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${dataDir}`,
        `--storage.tsdb.retention.time=${options.retention ?? '1d'}`,
        `--web.listen-address=${prometheusAddress}`,
      ]),
    );
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    await Promise.all([
      waitReady(processes[0]!, `http://${nodeExporterAddress}/metrics`, timeoutMs),
      waitReady(processes[1]!, `http://${prometheusAddress}/-/ready`, timeoutMs),
    ]);
    // Tells a local loop using this folder that releases it retires get one more scrape.
    registerScraper(fileSdDir, { intervalSeconds, pid: processes[1]!.child.pid! });
  } catch (err) {
    await stop();
    throw err;
  }

  const unexpectedExit = new Promise<string>((resolve) => {
    for (const { name, exited } of processes) {
      void exited.then((status) => {
        if (!stopped) resolve(`${name} exited (${status})`);
      });
    }
  });

  return {
    prometheusUrl: `http://${prometheusAddress}`,
    nodeExporterUrl: `http://${nodeExporterAddress}`,
    fileSdDir,
    textfileDir,
    configFile,
    setTargets,
    unexpectedExit,
    output: () => processes.map((p) => `--- ${p.name}\n${p.output}`).join('\n'),
    stop,
  };
}
