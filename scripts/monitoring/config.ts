/**
 * The Prometheus configuration for a machine other than the EC2 host (`npm run monitor`, the
 * monitoring tests), derived from the host's `prometheus/prometheus.yml` so that both scrape
 * the same jobs and load the same rules. Only addresses and paths change, plus one job the host
 * does not have: the local supervisor.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const HOST_CONFIG = path.join(REPO_ROOT, 'prometheus/prometheus.yml');

/** Scrape jobs whose targets come from a file-SD list, and the list's file name. */
export const FILE_SD_JOBS = {
  'reflex-app': 'app.json',
  'reflex-supervisor': 'supervisor.json',
} as const;
export type FileSdJob = keyof typeof FILE_SD_JOBS;

/**
 * The supervisor's control-API token, written beside the file-SD lists (0600) while it runs:
 * its /metrics, like every route of that API, needs it.
 */
export const SUPERVISOR_TOKEN_FILE = 'supervisor-token';

export interface LocalConfigOptions {
  /** Folder holding the file-SD lists named in FILE_SD_JOBS. */
  fileSdDir: string;
  prometheusAddress: string;
  nodeExporterAddress: string;
  /** Scrape and rule-evaluation interval, e.g. `15s` or `1s`. */
  interval: string;
}

interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[] }[];
  file_sd_configs?: { files: string[]; refresh_interval?: string }[];
  [key: string]: unknown;
}

interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
  [key: string]: unknown;
}

function fileSd(fileSdDir: string, job: FileSdJob): ScrapeConfig['file_sd_configs'] {
  return [{ files: [path.join(fileSdDir, FILE_SD_JOBS[job])], refresh_interval: '1m' }];
}

/** The host configuration, with every address and path rewritten for `options`. */
export function localPrometheusConfig(options: LocalConfigOptions): PrometheusConfig {
  const host = YAML.parse(readFileSync(HOST_CONFIG, 'utf8')) as PrometheusConfig;
  const scrapeConfigs = host.scrape_configs.map((job): ScrapeConfig => {
    switch (job.job_name) {
      case 'reflex-app':
        return { ...job, file_sd_configs: fileSd(options.fileSdDir, 'reflex-app') };
      case 'node':
        return { ...job, static_configs: [{ targets: [options.nodeExporterAddress] }] };
      case 'prometheus':
        return { ...job, static_configs: [{ targets: [options.prometheusAddress] }] };
      default:
        throw new Error(
          `${HOST_CONFIG}: job "${job.job_name}" has no local equivalent; ` +
            'teach scripts/monitoring/config.ts where its targets are on one machine',
        );
    }
  });
  return {
    ...host,
    global: {
      ...host.global,
      scrape_interval: options.interval,
      evaluation_interval: options.interval,
    },
    rule_files: (host.rule_files ?? []).map((glob) =>
      path.resolve(path.dirname(HOST_CONFIG), glob),
    ),
    scrape_configs: [
      ...scrapeConfigs,
      {
        job_name: 'reflex-supervisor',
        metrics_path: '/metrics',
        authorization: {
          type: 'Bearer',
          credentials_file: path.join(options.fileSdDir, SUPERVISOR_TOKEN_FILE),
        },
        file_sd_configs: fileSd(options.fileSdDir, 'reflex-supervisor'),
      },
    ],
  };
}

/** One file-SD list: Prometheus' `[{targets, labels}]` JSON. */
export function fileSdList(targets: string[], labels: Record<string, string> = {}): string {
  return JSON.stringify(targets.length === 0 ? [] : [{ targets, labels }], null, 2) + '\n';
}
