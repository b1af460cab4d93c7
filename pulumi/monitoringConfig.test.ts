import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import YAML from 'yaml';

import {
  TASK_METRICS_PORT,
  composeService,
  configContainerScript,
  ecsPrometheusConfig,
  monitoringFiles,
} from './monitoringConfig';

const ROOT = path.resolve(__dirname, '..');
const DISCOVERY = { namespace: 'reflex-dev.internal', services: ['platform', 'site'] };

interface Job {
  job_name: string;
  metrics_path?: string;
  file_sd_configs?: unknown;
  static_configs?: unknown;
  dns_sd_configs?: { names: string[]; type: string; refresh_interval: string }[];
  relabel_configs?: Record<string, unknown>[];
}

describe("the ECS runtime's Prometheus configuration, derived from the host's", () => {
  const host = YAML.parse(readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as {
    global: unknown;
    scrape_configs: Job[];
  };
  const config = ecsPrometheusConfig(ROOT, DISCOVERY) as {
    global: unknown;
    rule_files: string[];
    scrape_configs: Job[];
  };
  const job = (name: string) => config.scrape_configs.find((j) => j.job_name === name)!;

  it("keeps the host's intervals and the app's job name, and loads no host rules", () => {
    expect(config.global).toEqual(host.global);
    expect(config.scrape_configs.map((j) => j.job_name)).toEqual([
      'reflex-app',
      'ecs-task',
      'prometheus',
    ]);
    expect(config.rule_files).toEqual(['rules/reflex.yml', 'rules/ecs.yml']);
    expect(Object.keys(config).sort()).toEqual(['global', 'rule_files', 'scrape_configs']);
  });

  it('finds every task of both services through their SRV records, for the app and for its sidecar', () => {
    for (const name of ['reflex-app', 'ecs-task']) {
      expect(job(name).dns_sd_configs).toEqual([
        {
          names: ['platform.reflex-dev.internal', 'site.reflex-dev.internal'],
          type: 'SRV',
          refresh_interval: '15s',
        },
      ]);
      expect(job(name).file_sd_configs).toBeUndefined();
      expect(job(name).relabel_configs!.slice(0, 2)).toEqual([
        { source_labels: ['__meta_dns_name'], regex: '([^.]+)\\..*', target_label: 'component' },
        {
          source_labels: ['__meta_dns_srv_record_target'],
          regex: '([^.]+)\\..*',
          target_label: 'task',
        },
      ]);
    }
    expect(job('reflex-app').metrics_path).toBe('/metrics');
    expect(job('reflex-app').relabel_configs).toHaveLength(2);
    expect(job('ecs-task').relabel_configs![2]).toEqual({
      source_labels: ['__address__'],
      regex: '(.+):\\d+',
      replacement: `\${1}:${TASK_METRICS_PORT}`,
      target_label: '__address__',
    });
    expect(job('prometheus')).toEqual(host.scrape_configs.find((j) => j.job_name === 'prometheus'));
  });

  it('stops, naming the job, when the host scrapes something ECS has no equivalent of', () => {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'reflex-ecs-config-'));
    try {
      cpSync(path.join(ROOT, 'prometheus'), path.join(copy, 'prometheus'), { recursive: true });
      writeFileSync(
        path.join(copy, 'prometheus/prometheus.yml'),
        YAML.stringify({
          ...host,
          scrape_configs: [...host.scrape_configs, { job_name: 'blackbox' }],
        }),
      );
      expect(() => ecsPrometheusConfig(copy, DISCOVERY)).toThrow(
        /job "blackbox" has no ECS equivalent/,
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('names a compose service it cannot find', () => {
    expect(composeService(ROOT, 'prometheus').image).toMatch(/^prom\/prometheus:v/);
    expect(() => composeService(ROOT, 'nope')).toThrow('compose.yaml has no service "nope"');
  });
});

describe("the monitoring task's config container", () => {
  const files = monitoringFiles(ROOT, DISCOVERY);

  it('writes every file byte for byte with a POSIX shell, base64 and gunzip', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'reflex-config-out-'));
    try {
      const { script, environment } = configContainerScript(files, out);
      const run = spawnSync('sh', ['-c', script], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...environment },
        encoding: 'utf8',
      });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      for (const file of files) {
        expect(readFileSync(path.join(out, file.volume, file.path), 'utf8')).toBe(file.content);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('gives the same files the same environment, so an unchanged stack keeps its revision', () => {
    expect(configContainerScript(files)).toEqual(
      configContainerScript(monitoringFiles(ROOT, DISCOVERY)),
    );
  });

  it('refuses a path that climbs out of its volume', () => {
    expect(() =>
      configContainerScript([{ volume: 'prometheus-config', path: '../etc/passwd', content: '' }]),
    ).toThrow(/monitoring file "\/out\/prometheus-config\/..\/etc\/passwd"/);
  });
});
