// What the ecs runtime's monitoring runs, derived from the files the EC2 host runs, so that both
// watch the app the same way: prometheus/prometheus.yml (intervals, the app's job), compose.yaml
// (images, Prometheus' flags, Grafana's settings), grafana/ (datasource, dashboards) and
// prometheus/rules/. Only where the targets come from changes: Cloud Map DNS instead of the
// host's file-SD list, and the task-metrics sidecar instead of node-exporter
// (docs/MONITORING.md, "On ECS"). Pure: reads the repository, returns values.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import YAML from 'yaml';

/** The task-metrics sidecar in every app task: prometheus-community's ecs_exporter. */
export const TASK_METRICS_CONTAINER = 'task-metrics';
export const TASK_METRICS_IMAGE = 'quay.io/prometheuscommunity/ecs-exporter:v0.4.0';
export const TASK_METRICS_PORT = 9779;

/** The app's scrape job, the same on every runtime: the dashboards and alerts select it. */
export const APP_JOB = 'reflex-app';
/** The sidecars' job; it stands where the host's `node` job stands. */
export const TASK_JOB = 'ecs-task';

/** Rule files the ecs runtime loads (relative to prometheus/): no host, so no host.yml. */
export const ECS_RULE_FILES = ['rules/reflex.yml', 'rules/ecs.yml'];

/** Dashboards on ECS: the app's and the pipeline's as on the host, and tasks instead of the host. */
export const ECS_DASHBOARDS = [
  'grafana/dashboards/app.json',
  'grafana/dashboards/pipeline.json',
  'grafana/dashboards-ecs/tasks.json',
];

/** Where the monitoring task's containers find their files: one task volume each. */
export const CONFIG_VOLUMES = {
  'prometheus-config': '/etc/prometheus',
  'grafana-provisioning': '/etc/grafana/provisioning',
  'grafana-dashboards': '/etc/grafana/dashboards',
} as const;
export type ConfigVolume = keyof typeof CONFIG_VOLUMES;

/** One file the monitoring task's config container writes before Prometheus and Grafana start. */
export interface MonitoringFile {
  volume: ConfigVolume;
  /** Path inside the volume, `/`-separated. */
  path: string;
  content: string;
}

interface ScrapeJob {
  job_name: string;
  [key: string]: unknown;
}

interface HostPrometheusConfig {
  global: Record<string, unknown>;
  scrape_configs: ScrapeJob[];
  [key: string]: unknown;
}

/** The Cloud Map names Prometheus asks: `<service>.<namespace>`, one per ECS service. */
export interface Discovery {
  /** The private DNS namespace, e.g. `reflex-dev.internal`. */
  namespace: string;
  /** The ECS services registered in it (`platform`, `site`): the `component` label. */
  services: readonly string[];
}

function readYaml<T>(repoRoot: string, relative: string): T {
  return YAML.parse(readFileSync(path.join(repoRoot, relative), 'utf8')) as T;
}

/**
 * A scrape job over every task of the services: each answer of an SRV query is one task,
 * `<task id>.<service>.<namespace>:<port>`. `component` is the service, `task` the task id
 * (the name of its log streams and what `aws ecs describe-tasks` takes).
 */
function discoveredJob(job: ScrapeJob, discovery: Discovery, port?: number): ScrapeJob {
  return {
    ...job,
    dns_sd_configs: [
      {
        names: discovery.services.map((service) => `${service}.${discovery.namespace}`),
        type: 'SRV',
        refresh_interval: '15s',
      },
    ],
    relabel_configs: [
      { source_labels: ['__meta_dns_name'], regex: '([^.]+)\\..*', target_label: 'component' },
      {
        source_labels: ['__meta_dns_srv_record_target'],
        regex: '([^.]+)\\..*',
        target_label: 'task',
      },
      ...(port === undefined
        ? []
        : [
            {
              source_labels: ['__address__'],
              regex: '(.+):\\d+',
              replacement: `\${1}:${port}`,
              target_label: '__address__',
            },
          ]),
    ],
  };
}

/**
 * prometheus.yml for the monitoring task, from the host's: the same intervals and the same
 * `reflex-app` job found through Cloud Map, the sidecars instead of node-exporter, Prometheus
 * itself on the same address. A host job this does not know stops it, naming the job.
 */
export function ecsPrometheusConfig(
  repoRoot: string,
  discovery: Discovery,
): Record<string, unknown> {
  const host = readYaml<HostPrometheusConfig>(repoRoot, 'prometheus/prometheus.yml');
  const scrapeConfigs = host.scrape_configs.map((job): ScrapeJob => {
    switch (job.job_name) {
      case APP_JOB: {
        const { file_sd_configs: _fileSd, ...rest } = job;
        return discoveredJob(rest, discovery);
      }
      case 'node':
        return discoveredJob(
          { job_name: TASK_JOB, metrics_path: '/metrics' },
          discovery,
          TASK_METRICS_PORT,
        );
      case 'prometheus':
        return job;
      default:
        throw new Error(
          `prometheus/prometheus.yml: job "${job.job_name}" has no ECS equivalent; ` +
            'teach pulumi/monitoringConfig.ts where its targets are on ECS',
        );
    }
  });
  // Only what the ECS runtime has: no Alertmanager runs beside it (yet).
  return { global: host.global, rule_files: ECS_RULE_FILES, scrape_configs: scrapeConfigs };
}

/** Every file the monitoring task needs, by volume. */
export function monitoringFiles(repoRoot: string, discovery: Discovery): MonitoringFile[] {
  const read = (relative: string) => readFileSync(path.join(repoRoot, relative), 'utf8');
  const provisioning = ['datasources/prometheus.yml', 'dashboards/reflex.yml'];
  return [
    {
      volume: 'prometheus-config',
      path: 'prometheus.yml',
      content: YAML.stringify(ecsPrometheusConfig(repoRoot, discovery)),
    },
    ...ECS_RULE_FILES.map((file) => ({
      volume: 'prometheus-config' as const,
      path: file,
      content: read(`prometheus/${file}`),
    })),
    ...provisioning.map((file) => ({
      volume: 'grafana-provisioning' as const,
      path: file,
      content: read(`grafana/provisioning/${file}`),
    })),
    ...ECS_DASHBOARDS.map((file) => ({
      volume: 'grafana-dashboards' as const,
      path: path.posix.basename(file),
      content: read(file),
    })),
  ];
}

/** Where the config container mounts each volume (writable) to fill it. */
export const CONFIG_OUT = '/out';

/** The environment variable holding file `index`, gzip-compressed and base64-encoded. */
export function fileVariable(index: number): string {
  return `REFLEX_FILE_${index}`;
}

/**
 * The config container: a POSIX shell script (busybox's in the Prometheus image) that writes each
 * file from its variable, and the variables. ECS has no way to hand a task files; its task
 * definition (64 KiB at most) carries them, compressed, and a change to one rolls the service.
 */
export function configContainerScript(
  files: readonly MonitoringFile[],
  outDir: string = CONFIG_OUT,
): {
  script: string;
  environment: Record<string, string>;
} {
  const lines = files.map((file, index) => {
    const target = `${outDir}/${file.volume}/${file.path}`;
    if (!/^[\w./-]+$/.test(target) || target.includes('..')) {
      throw new Error(`monitoring file ${JSON.stringify(target)}: use letters, digits, . _ - /`);
    }
    return `write "$${fileVariable(index)}" ${target}`;
  });
  return {
    script: [
      'set -eu',
      'write() { mkdir -p "${2%/*}"; printf %s "$1" | base64 -d | gunzip > "$2"; }',
      ...lines,
    ].join('\n'),
    environment: Object.fromEntries(
      files.map((file, index) => [
        fileVariable(index),
        // gzip with no name and mtime 0: the same files give the same task definition.
        gzipSync(file.content, { level: 9 }).toString('base64'),
      ]),
    ),
  };
}

interface ComposeService {
  image: string;
  command?: string[];
  environment?: Record<string, string>;
}

/** A service of compose.yaml, the host's monitoring stack: the image and settings both share. */
export function composeService(repoRoot: string, name: string): ComposeService {
  const compose = readYaml<{ services: Record<string, ComposeService> }>(repoRoot, 'compose.yaml');
  const service = compose.services[name];
  if (service === undefined) throw new Error(`compose.yaml has no service "${name}"`);
  return service;
}
