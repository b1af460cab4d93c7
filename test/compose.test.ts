/**
 * compose.yaml, the monitoring stack of the EC2 host, against the contract in docs/HOST.md and
 * against the files it mounts. No Docker engine runs here, so this reads the file; the stack's
 * configuration itself is exercised by the monitoring tier with Debian's Prometheus.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT, provisionedDatasources } from './support/dashboards';

interface Service {
  image: string;
  network_mode?: string;
  ports?: string[];
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  env_file?: string | string[];
  restart?: string;
}

const compose = YAML.parse(readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const { prometheus, grafana } = compose.services;
const nodeExporter = compose.services['node-exporter'];
const prometheusConfig = YAML.parse(
  readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8'),
) as { scrape_configs: { job_name: string; file_sd_configs?: { files: string[] }[] }[] };

/** `--flag=value` of a service's command. */
function flag(service: Service | undefined, name: string): string | undefined {
  const arg = service?.command?.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

/** The container path a host path is mounted at, or undefined. */
function mountOf(service: Service | undefined, hostPath: string): string | undefined {
  const volume = service?.volumes?.find((v) => v.split(':')[0] === hostPath);
  return volume?.split(':')[1];
}

describe('compose.yaml', () => {
  it('runs prometheus, node-exporter, alertmanager and grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'alertmanager',
      'grafana',
      'node-exporter',
      'prometheus',
    ]);
  });

  it('runs Alertmanager on 127.0.0.1:9093 with the receiver install-host.sh renders, and Prometheus sends to it', () => {
    const { alertmanager } = compose.services;
    expect(flag(alertmanager, 'web.listen-address')).toBe('127.0.0.1:9093');
    expect(flag(alertmanager, 'cluster.listen-address')).toBe('');
    expect(mountOf(alertmanager, '/etc/reflex/alertmanager')).toBe('/etc/alertmanager');
    expect(flag(alertmanager, 'config.file')).toBe('/etc/alertmanager/alertmanager.yml');
    expect(alertmanager?.volumes).toContain(
      `alertmanager-data:${flag(alertmanager, 'storage.path')}`,
    );
    const alerting = (
      YAML.parse(readFileSync(path.join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as {
        alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      }
    ).alerting;
    expect(alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(['127.0.0.1:9093']);
  });

  it.each(Object.entries(compose.services))(
    'pins the image of %s to a version tag',
    (_name, service) => {
      expect(service.image).toMatch(/^[a-z0-9./-]+:v?\d+\.\d+\.\d+$/);
      expect(service.restart).toBe('unless-stopped');
    },
  );

  it('uses the host network for every service and publishes no port beyond loopback', () => {
    for (const service of Object.values(compose.services)) {
      expect(service.network_mode).toBe('host');
      expect(service.ports).toBeUndefined();
    }
  });

  it('binds Prometheus to 127.0.0.1:9090 and node-exporter to 127.0.0.1:9100', () => {
    expect(flag(prometheus, 'web.listen-address')).toBe('127.0.0.1:9090');
    expect(flag(nodeExporter, 'web.listen-address')).toBe('127.0.0.1:9100');
  });

  it('bounds Prometheus retention by time and by size, on a named volume', () => {
    expect(flag(prometheus, 'storage.tsdb.retention.time')).toMatch(/^\d+[dhw]$/);
    expect(flag(prometheus, 'storage.tsdb.retention.size')).toMatch(/^\d+[MG]B$/);
    const dataPath = flag(prometheus, 'storage.tsdb.path');
    expect(prometheus?.volumes).toContain(`prometheus-data:${dataPath}`);
    expect(compose.volumes).toHaveProperty('prometheus-data');
  });

  it("gives Prometheus this repository's prometheus/ and the file-SD list its config names", () => {
    expect(mountOf(prometheus, './prometheus')).toBe(
      path.dirname(flag(prometheus, 'config.file')!),
    );
    const appJob = prometheusConfig.scrape_configs.find((j) => j.job_name === 'reflex-app');
    const sdFile = appJob?.file_sd_configs?.[0]?.files[0];
    expect(mountOf(prometheus, path.dirname(sdFile!))).toBe(path.dirname(sdFile!));
  });

  it('gives node-exporter the textfile folder of docs/HOST.md and the host root', () => {
    expect(flag(nodeExporter, 'collector.textfile.directory')).toBe('/var/lib/reflex/textfile');
    expect(mountOf(nodeExporter, '/var/lib/reflex/textfile')).toBe('/var/lib/reflex/textfile');
    expect(mountOf(nodeExporter, '/')).toBe(flag(nodeExporter, 'path.rootfs'));
  });

  describe('grafana', () => {
    const env = grafana?.environment ?? {};

    it('listens on 127.0.0.1:3000 and reaches the datasource URL of the provisioning', () => {
      expect(env.GF_SERVER_HTTP_ADDR).toBe('127.0.0.1');
      expect(env.GF_SERVER_HTTP_PORT).toBe('3000');
      expect(provisionedDatasources()[0]?.url).toBe(
        `http://${flag(prometheus, 'web.listen-address')}`,
      );
    });

    it('has anonymous access and sign-up off', () => {
      expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
      expect(env.GF_USERS_ALLOW_SIGN_UP).toBe('false');
    });

    it('takes the admin password from /etc/reflex/grafana.env, never from this file', () => {
      expect(grafana?.env_file).toBe('${REFLEX_GRAFANA_ENV:-/etc/reflex/grafana.env}');
      expect(Object.keys(env).filter((key) => /PASSWORD/.test(key))).toEqual([]);
    });

    it('mounts the provisioning and the dashboards where the provider looks, and keeps its data on a volume', () => {
      const provider = YAML.parse(
        readFileSync(path.join(ROOT, 'grafana/provisioning/dashboards/reflex.yml'), 'utf8'),
      );
      expect(mountOf(grafana, './grafana/provisioning')).toBe('/etc/grafana/provisioning');
      expect(mountOf(grafana, './grafana/dashboards')).toBe(provider.providers[0].options.path);
      expect(grafana?.volumes).toContain('grafana-data:/var/lib/grafana');
    });

    it('opens on the app dashboard, which exists', () => {
      const home = env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
      expect(home).toBe('/etc/grafana/dashboards/app.json');
      expect(existsSync(path.join(ROOT, 'grafana/dashboards', path.basename(home)))).toBe(true);
    });
  });
});
