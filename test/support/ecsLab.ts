/**
 * The ECS lab: the ecs runtime's monitoring with real processes, where only AWS is stood in for.
 * A network namespace of its own (`unshare`, as root) holds what a VPC holds: each task is a
 * real platform or site process on its own address (127.0.1.N) and on the port every task uses
 * (3000), with its task-metrics sidecar on 9779; a DNS server on the namespace's 127.0.0.1:53
 * answers Cloud Map's SRV and A records for the tasks registered (ecsLabServer.ts); a real
 * Prometheus runs there with the configuration the monitoring task gets, its /etc/resolv.conf
 * pointing at that DNS server (a private mount namespace). The test reaches Prometheus through
 * a unix socket, the only way between the namespaces.
 *
 *   const lab = await startEcsLab({ namespace: 'reflex-dev.internal' });
 *   const task = await lab.runTask('platform');
 *   const prometheusUrl = await lab.startPrometheus();
 *   ...
 *   await lab.stop();
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import YAML from 'yaml';
import {
  TASK_METRICS_CONTAINER,
  TASK_METRICS_PORT,
  configContainerScript,
  monitoringFiles,
} from '../../pulumi/monitoringConfig';
import {
  WEBAPP_DIR,
  waitForListening,
  type InstanceProcess,
} from '../../webapp/test/support/processes';
import { ROOT } from './dashboards';

/** The port of every app task (APP_PORT in pulumi/ecsRuntime.ts). */
export const TASK_PORT = 3000;
const PROMETHEUS_PORT = 9090;
const ENTRIES = {
  platform: path.join(WEBAPP_DIR, 'src/server.ts'),
  site: path.join(WEBAPP_DIR, 'src/site/server.ts'),
} as const;
export type LabService = keyof typeof ENTRIES;

export interface LabTask {
  service: LabService;
  /** The ECS task id: 32 hex digits. */
  id: string;
  /** Its address in the lab's network, as a task's ENI address in the VPC. */
  address: string;
  /** `<id>.<service>.<namespace>`: the SRV record's target. */
  hostname: string;
  revision: number;
  zone: string;
  process: InstanceProcess;
}

export interface EcsLab {
  namespace: string;
  tasks: LabTask[];
  /** Starts a task's app, serves its sidecar's metrics, and registers it in Cloud Map. */
  runTask(service: LabService, options?: { revision?: number; sha?: string }): Promise<LabTask>;
  /**
   * Stops a task as ECS does: out of Cloud Map first, then, after the target group's draining,
   * its processes. The lab drains for 6 s: its DNS refresh (1 s) plus the 5 s in which
   * Prometheus batches discovery updates, as 30 s on ECS cover TTL, refresh and batching.
   */
  stopTask(task: LabTask): Promise<void>;
  /** Kills a task's app but leaves it registered: a task that runs but does not answer. */
  killApp(task: LabTask): Promise<void>;
  /** Starts Prometheus with the monitoring task's files, at `interval`; resolves to its URL. */
  startPrometheus(options?: { interval?: string }): Promise<string>;
  /** A URL on the test's loopback that leads to `address:port` in the lab. */
  url(address: string, port: number): Promise<string>;
  /** Output of the lab's processes so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

interface Managed {
  name: string;
  child: ChildProcessWithoutNullStreams;
  output: string;
  exited: Promise<unknown>;
}

function launch(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Managed {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env });
  const managed: Managed = {
    name,
    child,
    output: '',
    exited: new Promise((resolve) => child.once('exit', resolve)),
  };
  const keep = (chunk: Buffer) =>
    (managed.output = (managed.output + chunk.toString('utf8')).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return managed;
}

async function stopManaged(managed: Managed): Promise<void> {
  const { child } = managed;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await managed.exited;
  clearTimeout(timer);
}

/** An HTTP request over a unix socket; resolves to the body. */
function overSocket(
  socketPath: string,
  method: string,
  urlPath: string,
  body?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, method, path: urlPath }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      response.on('end', () =>
        response.statusCode === 200
          ? resolve(text)
          : reject(new Error(`${method} ${urlPath}: ${text}`)),
      );
    });
    request.on('error', reject);
    request.end(body);
  });
}

async function waitFor<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} not within ${timeoutMs} ms${last ? `: ${last}` : ''}`);
}

/**
 * What ecs_exporter v0.4.0 serves for a Fargate task (docs/METRICS.md, "The ECS task"): the
 * same families, types and labels, values of a small task that has been up `uptime` seconds.
 */
export function taskMetricsExposition(task: {
  id: string;
  service: string;
  revision: number;
  zone: string;
  cluster: string;
  uptime: number;
}): string {
  const arn = (kind: string, rest: string) => `arn:aws:ecs:eu-west-1:123456789012:${kind}/${rest}`;
  const containers = [task.service, TASK_METRICS_CONTAINER];
  const family = (help: string, type: string, name: string, samples: [string, number][]) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...samples.map(([labels, value]) => `${name}${labels} ${value}`),
  ];
  const perContainer = (value: (container: string) => number): [string, number][] =>
    containers.map((container) => [`{container_name="${container}"}`, value(container)]);
  const eth = (value: number): [string, number][] => [['{interface="eth1"}', value]];
  const started = 1_750_000_000;
  return [
    ...family(
      'Cumulative total container CPU usage in seconds.',
      'counter',
      'ecs_container_cpu_usage_seconds_total',
      perContainer((c) => (c === TASK_METRICS_CONTAINER ? 0.002 : 0.05) * task.uptime),
    ),
    ...family(
      'Configured container memory limit in bytes, set from the container-level limit in the task definition if any, otherwise the task-level limit.',
      'gauge',
      'ecs_container_memory_limit_bytes',
      perContainer(() => 1073741824),
    ),
    ...family(
      'Current container memory page cache size in bytes. This is not a subset of used bytes.',
      'gauge',
      'ecs_container_memory_page_cache_size_bytes',
      perContainer(() => 4.2e7),
    ),
    ...family(
      'Current container memory usage in bytes.',
      'gauge',
      'ecs_container_memory_usage_bytes',
      perContainer((c) => (c === TASK_METRICS_CONTAINER ? 1.6e7 : 1.9e8)),
    ),
    ...family(
      'Cumulative total size of network packets received in bytes.',
      'counter',
      'ecs_network_receive_bytes_total',
      eth(2000 * task.uptime),
    ),
    ...family(
      'Cumulative total count of network errors in receiving.',
      'counter',
      'ecs_network_receive_errors_total',
      eth(0),
    ),
    ...family(
      'Cumulative total count of network packets dropped in receiving.',
      'counter',
      'ecs_network_receive_packets_dropped_total',
      eth(0),
    ),
    ...family(
      'Cumulative total count of network packets received.',
      'counter',
      'ecs_network_receive_packets_total',
      eth(20 * task.uptime),
    ),
    ...family(
      'Cumulative total size of network packets transmitted in bytes.',
      'counter',
      'ecs_network_transmit_bytes_total',
      eth(5000 * task.uptime),
    ),
    ...family(
      'Cumulative total count of network errors in transmit.',
      'counter',
      'ecs_network_transmit_errors_total',
      eth(0),
    ),
    ...family(
      'Cumulative total count of network packets dropped in transmit.',
      'counter',
      'ecs_network_transmit_packets_dropped_total',
      eth(0),
    ),
    ...family(
      'Cumulative total count of network packets transmitted.',
      'counter',
      'ecs_network_transmit_packets_total',
      eth(15 * task.uptime),
    ),
    ...family(
      'Configured task CPU limit in vCPUs (1 vCPU = 1024 CPU units). This is optional when running on EC2; if no limit is set, this metric has no value.',
      'gauge',
      'ecs_task_cpu_limit_vcpus',
      [['', 0.5]],
    ),
    ...family(
      'Configured Fargate task ephemeral storage allocated size in bytes.',
      'gauge',
      'ecs_task_ephemeral_storage_allocated_bytes',
      [['', 2.1491613696e10]],
    ),
    ...family(
      'Current Fargate task ephemeral storage usage in bytes.',
      'gauge',
      'ecs_task_ephemeral_storage_used_bytes',
      [['', 4.4e8]],
    ),
    ...family(
      'The time at which the task started pulling docker images for its containers.',
      'gauge',
      'ecs_task_image_pull_start_timestamp_seconds',
      [['', started]],
    ),
    ...family(
      'The time at which the task stopped (i.e. completed) pulling docker images for its containers.',
      'gauge',
      'ecs_task_image_pull_stop_timestamp_seconds',
      [['', started + 14.9]],
    ),
    ...family(
      'Configured task memory limit in bytes. This is optional when running on EC2; if no limit is set, this metric has no value.',
      'gauge',
      'ecs_task_memory_limit_bytes',
      [['', 1073741824]],
    ),
    ...family(
      'ECS task metadata, sourced from the task metadata endpoint version 4.',
      'gauge',
      'ecs_task_metadata_info',
      [
        [
          `{availability_zone="${task.zone}",cluster="${arn('cluster', task.cluster)}",desired_status="RUNNING",` +
            `family="${task.cluster}-${task.service}",known_status="RUNNING",launch_type="FARGATE",` +
            `revision="${task.revision}",task_arn="${arn('task', `${task.cluster}/${task.id}`)}"}`,
          1,
        ],
      ],
    ),
    '',
  ].join('\n');
}

export async function startEcsLab(options: {
  namespace: string;
  cluster?: string;
}): Promise<EcsLab> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-ecs-lab-'));
  const cluster = options.cluster ?? options.namespace.split('.')[0]!;
  const resolvConf = path.join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n');
  const processes: Managed[] = [];
  const labServer = launch('lab', 'unshare', [
    '--net',
    '--mount',
    '--fork',
    '--kill-child',
    '--',
    'sh',
    '-c',
    'ip link set lo up && mount --bind "$0" /etc/resolv.conf && exec "$1" --import tsx "$2" "$3" "$4"',
    resolvConf,
    process.execPath,
    path.join(__dirname, 'ecsLabServer.ts'),
    dir,
    String(TASK_METRICS_PORT),
  ]);
  processes.push(labServer);
  const control = path.join(dir, 'control.sock');
  const stop = async () => {
    for (const managed of [...processes].reverse()) await stopManaged(managed);
    rmSync(dir, { recursive: true, force: true });
  };

  let pid: number;
  try {
    pid = await waitFor('the lab', async () => {
      if (labServer.child.exitCode !== null) throw new Error(`the lab exited: ${labServer.output}`);
      return (JSON.parse(await overSocket(control, 'GET', '/ready')) as { pid: number }).pid;
    });
  } catch (err) {
    await stop();
    throw err;
  }

  /** A command inside the lab's network and mount namespaces. */
  const inside = (
    name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    cwd = ROOT,
  ) => {
    // Entering the mount namespace moves to its root unless told where to work.
    const managed = launch(
      name,
      'nsenter',
      ['-t', String(pid), '-n', '-m', `--wd=${cwd}`, '--', command, ...args],
      { env },
    );
    processes.push(managed);
    return managed;
  };

  const tasks: LabTask[] = [];
  const forwards = new Map<string, { url: string; close(): Promise<void> }>();
  let nextAddress = 10;

  const publishRecords = async () => {
    const srv: Record<string, { target: string; port: number }[]> = {};
    const a: Record<string, string> = {};
    for (const service of Object.keys(ENTRIES)) srv[`${service}.${options.namespace}`] = [];
    for (const task of tasks) {
      srv[`${task.service}.${options.namespace}`]!.push({ target: task.hostname, port: TASK_PORT });
      a[task.hostname] = task.address;
    }
    await overSocket(control, 'PUT', '/records', JSON.stringify({ srv, a }));
  };

  const startedAt = Date.now();
  const serveSidecar = (task: LabTask) =>
    overSocket(
      control,
      'PUT',
      `/task-metrics/${task.address}`,
      taskMetricsExposition({ ...task, cluster, uptime: 60 + (Date.now() - startedAt) / 1000 }),
    );
  // The sidecars' counters advance, as a task's CPU time and traffic do.
  const ticker = setInterval(
    () => void Promise.all(tasks.map(serveSidecar)).catch(() => undefined),
    1_000,
  );

  const lab: EcsLab = {
    namespace: options.namespace,
    tasks,
    async runTask(service, taskOptions = {}) {
      const address = `127.0.1.${nextAddress++}`;
      const id = randomBytes(16).toString('hex');
      const managed = inside(
        `${service} ${id}`,
        process.execPath,
        ['--import', 'tsx', ENTRIES[service]],
        {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          HOST: address,
          PORT: String(TASK_PORT),
          REFLEX_SHA: taskOptions.sha ?? '3f1c2b4a5d6e7f8091a2b3c4d5e6f708192a3b4c',
        },
        WEBAPP_DIR,
      );
      const logs: Record<string, unknown>[] = [];
      readline.createInterface({ input: managed.child.stdout }).on('line', (line) => {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ raw: line });
        }
      });
      const instance: InstanceProcess = {
        child: managed.child,
        logs,
        stderr: () => managed.output,
        exited: managed.exited as Promise<number | string>,
      };
      await waitForListening(instance, 60_000);
      const task: LabTask = {
        service,
        id,
        address,
        hostname: `${id}.${service}.${options.namespace}`,
        revision: taskOptions.revision ?? 1,
        zone:
          tasks.filter((t) => t.service === service).length % 2 === 0 ? 'eu-west-1a' : 'eu-west-1b',
        process: instance,
      };
      await serveSidecar(task);
      tasks.push(task);
      await publishRecords();
      return task;
    },
    async stopTask(task) {
      tasks.splice(tasks.indexOf(task), 1);
      await publishRecords();
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      await overSocket(control, 'DELETE', `/task-metrics/${task.address}`);
      await lab.killApp(task);
    },
    async killApp(task) {
      const managed = processes.find((p) => p.child === task.process.child)!;
      managed.child.kill('SIGKILL');
      await managed.exited;
    },
    async startPrometheus(prometheusOptions = {}) {
      const interval = prometheusOptions.interval ?? '1s';
      const config = path.join(dir, 'out');
      // The files as the monitoring task's config container writes them: its own script.
      const files = monitoringFiles(ROOT, {
        namespace: options.namespace,
        services: Object.keys(ENTRIES),
      });
      const { script, environment } = configContainerScript(files, config);
      const written = spawn('sh', ['-c', script], {
        env: { PATH: process.env.PATH ?? '', ...environment },
      });
      const status = await new Promise((resolve) => written.once('exit', resolve));
      if (status !== 0) throw new Error(`the config container's script exited ${String(status)}`);
      const configFile = path.join(config, 'prometheus-config/prometheus.yml');
      writeFileSync(
        configFile,
        YAML.stringify(fasterConfig(YAML.parse(readFileSync(configFile, 'utf8')), interval)),
      );
      const prometheus = inside(
        'prometheus',
        'prometheus',
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`,
        ],
        process.env,
      );
      const url = await lab.url('127.0.0.1', PROMETHEUS_PORT);
      await waitFor('prometheus', async () => {
        if (prometheus.child.exitCode !== null)
          throw new Error(`prometheus exited: ${prometheus.output}`);
        const response = await fetch(`${url}/-/ready`);
        return response.ok ? true : undefined;
      });
      return url;
    },
    async url(address, port) {
      const key = `${address}:${port}`;
      const known = forwards.get(key);
      if (known) return known.url;
      const { socketPath } = JSON.parse(await overSocket(control, 'PUT', `/forward/${key}`)) as {
        socketPath: string;
      };
      const forward = await forwardToSocket(socketPath);
      forwards.set(key, forward);
      return forward.url;
    },
    output: () => processes.map((p) => `--- ${p.name}\n${p.output}`).join('\n'),
    async stop() {
      clearInterval(ticker);
      for (const forward of forwards.values()) await forward.close();
      await stop();
    },
  };
  return lab;
}

/** The monitoring task's configuration at a test's pace: scrapes, rules and DNS every `interval`. */
function fasterConfig(config: Record<string, unknown>, interval: string): Record<string, unknown> {
  const jobs = config.scrape_configs as { dns_sd_configs?: Record<string, unknown>[] }[];
  return {
    ...config,
    global: {
      ...(config.global as object),
      scrape_interval: interval,
      evaluation_interval: interval,
    },
    scrape_configs: jobs.map((job) => ({
      ...job,
      ...(job.dns_sd_configs
        ? {
            dns_sd_configs: job.dns_sd_configs.map((sd) => ({ ...sd, refresh_interval: interval })),
          }
        : {}),
    })),
  };
}

/** A TCP port on the test's loopback that leads to a unix socket. */
async function forwardToSocket(
  socketPath: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const clients = new Set<net.Socket>();
  const server = net.createServer((client) => {
    clients.add(client);
    client.once('close', () => clients.delete(client));
    const upstream = net.connect(socketPath);
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        for (const client of clients) client.destroy();
        server.close(() => resolve());
      }),
  };
}
