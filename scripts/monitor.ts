/**
 * `npm run monitor`: Prometheus and node-exporter (Debian's packages) on loopback, watching the
 * local loop that `npm start` runs. The supervisor writes the file-SD lists of the live app
 * instance and of itself into `<state>/prometheus/` (app.json, supervisor.json); Prometheus
 * follows them as releases switch. Grafana runs from compose.yaml where Docker exists.
 *
 *   npm run monitor [-- --state-dir .reflex --prometheus-port 9090 --node-exporter-port 9100]
 *
 * Stops both processes on Ctrl-C (SIGINT) or SIGTERM. Exits 1 naming a missing tool or a busy port.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FILE_SD_JOBS, REPO_ROOT } from './monitoring/config';
import {
  MissingToolError,
  NODE_EXPORTER,
  PROMETHEUS,
  findTool,
  portInUse,
  startMonitoring,
} from './monitoring/stack';

/** The ports of the EC2 host (docs/HOST.md); compose.yaml's Grafana expects Prometheus on 9090. */
const DEFAULT_PROMETHEUS_PORT = 9090;
const DEFAULT_NODE_EXPORTER_PORT = 9100;

function fail(message: string): never {
  process.stderr.write(`npm run monitor: ${message}\n`);
  process.exit(1);
}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) {
    fail(`${flag} must be a port number (1-65535), got "${value}"`);
  }
  return parsed;
}

/** The Grafana admin password for compose.yaml, generated once per state folder. */
function grafanaEnvFile(stateDir: string): string {
  const file = path.join(stateDir, 'grafana.env');
  if (!existsSync(file)) {
    const password = randomBytes(18).toString('base64url');
    writeFileSync(file, `GF_SECURITY_ADMIN_PASSWORD=${password}\n`, { mode: 0o600 });
  }
  return file;
}

function grafanaAdvice(stateDir: string, prometheusPort: number): string {
  if (findTool('docker') === undefined) {
    return (
      'Grafana: Docker is not installed here, so the dashboards cannot be shown; run any ' +
      "panel's query in Prometheus' own graph page instead (docs/MONITORING.md)."
    );
  }
  // compose resolves a relative env_file against the repository root, where compose.yaml is.
  const absolute = grafanaEnvFile(stateDir);
  const relative = path.relative(REPO_ROOT, absolute);
  const envFile = relative.startsWith('..') ? absolute : relative;
  const lines = [
    'Grafana (Docker on Linux; compose.yaml, host network):',
    `  REFLEX_GRAFANA_ENV=${envFile} docker compose up grafana`,
    `  then http://127.0.0.1:3000, user admin, password in ${envFile}`,
  ];
  if (prometheusPort !== DEFAULT_PROMETHEUS_PORT) {
    lines.push(
      `  (its datasource reads 127.0.0.1:${DEFAULT_PROMETHEUS_PORT}; this Prometheus is on ${prometheusPort})`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'state-dir': { type: 'string' },
      'prometheus-port': { type: 'string' },
      'node-exporter-port': { type: 'string' },
    },
  });
  const missing = [PROMETHEUS, NODE_EXPORTER].filter((tool) => findTool(tool) === undefined);
  if (missing.length > 0) fail(new MissingToolError(missing).message);

  const stateDir = path.resolve(values['state-dir'] ?? path.join(REPO_ROOT, '.reflex'));
  const prometheusPort = port(
    values['prometheus-port'],
    DEFAULT_PROMETHEUS_PORT,
    '--prometheus-port',
  );
  const nodeExporterPort = port(
    values['node-exporter-port'],
    DEFAULT_NODE_EXPORTER_PORT,
    '--node-exporter-port',
  );
  for (const [flag, candidate] of [
    ['--prometheus-port', prometheusPort],
    ['--node-exporter-port', nodeExporterPort],
  ] as const) {
    if (await portInUse(candidate)) {
      fail(`127.0.0.1:${candidate} is already in use; choose another port with ${flag}`);
    }
  }

  const fileSdDir = path.join(stateDir, 'prometheus');
  mkdirSync(fileSdDir, { recursive: true });
  const stack = await startMonitoring({
    fileSdDir,
    textfileDir: path.join(stateDir, 'textfile'),
    dataDir: path.join(stateDir, 'monitoring', 'prometheus-data'),
    prometheusPort,
    nodeExporterPort,
    interval: '15s',
    retention: '7d',
  });

  const waiting = Object.values(FILE_SD_JOBS)
    .map((file) => path.join(fileSdDir, file))
    .filter((file) => !existsSync(file));
  console.log(
    [
      `Prometheus     ${stack.prometheusUrl}  (targets: ${stack.prometheusUrl}/targets, alerts: ${stack.prometheusUrl}/alerts)`,
      `node-exporter  ${stack.nodeExporterUrl}/metrics  (textfile folder: ${stack.textfileDir})`,
      `file-SD lists  ${fileSdDir}/{${Object.values(FILE_SD_JOBS).join(',')}}`,
      ...(waiting.length > 0
        ? [
            `               not written yet: ${waiting.map((f) => path.basename(f)).join(', ')} (start the local loop with npm start)`,
          ]
        : []),
      grafanaAdvice(stateDir, prometheusPort),
      'Ctrl-C stops Prometheus and node-exporter.',
    ].join('\n'),
  );

  // `on`, not `once`: a second Ctrl-C while stopping must not kill this process before its children.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGINT', () => resolve('SIGINT'));
    process.on('SIGTERM', () => resolve('SIGTERM'));
  });
  const outcome = await Promise.race([
    signalled.then((signal) => ({ signal })),
    stack.unexpectedExit.then((crash) => ({ crash })),
  ]);
  if ('crash' in outcome) {
    process.stderr.write(`npm run monitor: ${outcome.crash}\n${stack.output().slice(-4_000)}\n`);
    await stack.stop();
    process.exit(1);
  }
  console.log(`${outcome.signal}: stopping Prometheus and node-exporter`);
  await stack.stop();
  console.log('stopped');
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
