/**
 * `npm run monitor` for real: Debian's Prometheus and node-exporter on loopback, finding the
 * local loop's app instance through the file-SD list in the state folder, stopped by Ctrl-C.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, portInUse } from '../scripts/monitoring/stack';
import {
  spawnTs,
  waitForListening,
  WEBAPP_DIR,
  type InstanceProcess,
} from '../webapp/test/support/processes';
import { ROOT } from './support/dashboards';
import { activeTargets } from './support/monitoring';

const MONITOR = path.join(ROOT, 'scripts/monitor.ts');

interface Monitor {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | string>;
}

function startMonitor(args: string[]): Monitor {
  const child = spawn(process.execPath, ['--import', 'tsx', MONITOR, ...args], {
    cwd: ROOT,
    env: process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('npm run monitor', () => {
  let stateDir: string;
  let app: InstanceProcess | undefined;
  let monitor: Monitor | undefined;

  beforeAll(() => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'reflex-monitor-state-'));
  });
  afterAll(async () => {
    for (const child of [monitor?.child, app?.child]) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await Promise.all([monitor?.exited, app?.exited]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('scrapes the app named in <state>/prometheus/app.json, prints the URLs, and stops on Ctrl-C', async () => {
    app = spawnTs(path.join(WEBAPP_DIR, 'src/server.ts'), { PORT: '0' });
    const appPort = await waitForListening(app);
    mkdirSync(path.join(stateDir, 'prometheus'));
    writeFileSync(
      path.join(stateDir, 'prometheus/app.json'),
      JSON.stringify([{ targets: [`127.0.0.1:${appPort}`], labels: { color: 'blue' } }]),
    );
    const prometheusPort = await freePort();
    const nodeExporterPort = await freePort();

    monitor = startMonitor([
      '--state-dir',
      stateDir,
      '--prometheus-port',
      String(prometheusPort),
      '--node-exporter-port',
      String(nodeExporterPort),
    ]);
    await waitFor(
      'the monitor to print its URLs',
      () => monitor!.stdout().includes('Ctrl-C stops'),
      30_000,
    );
    expect(monitor.stdout()).toContain(`Prometheus     http://127.0.0.1:${prometheusPort}`);
    expect(monitor.stdout()).toContain(
      `node-exporter  http://127.0.0.1:${nodeExporterPort}/metrics`,
    );
    expect(monitor.stdout()).toMatch(/not written yet: supervisor\.json/);
    expect(monitor.stdout()).toMatch(/Grafana/);

    // The first scrape of a 15 s job comes within one interval of the start.
    const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    await waitFor(
      'the app target to be scraped',
      async () =>
        (await activeTargets(prometheusUrl)).some(
          (t) => t.job === 'reflex-app' && t.health === 'up',
        ),
      40_000,
    );
    const targets = await activeTargets(prometheusUrl);
    expect(targets.find((t) => t.job === 'reflex-app')).toMatchObject({
      instance: `127.0.0.1:${appPort}`,
      labels: expect.objectContaining({ color: 'blue' }),
    });
    expect(statSync(path.join(stateDir, 'monitoring/prometheus-data')).isDirectory()).toBe(true);

    monitor.child.kill('SIGINT');
    expect(await monitor.exited).toBe(0);
    expect(monitor.stdout()).toContain('stopped');
    expect(await portInUse(prometheusPort)).toBe(false);
    expect(await portInUse(nodeExporterPort)).toBe(false);
  }, 90_000);

  it('refuses a port that is already taken, naming it and the flag to change it', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const taken = (server.address() as net.AddressInfo).port;
    try {
      const refused = startMonitor(['--state-dir', stateDir, '--prometheus-port', String(taken)]);
      expect(await refused.exited).toBe(1);
      expect(refused.stderr()).toContain(`127.0.0.1:${taken} is already in use`);
      expect(refused.stderr()).toContain('--prometheus-port');
    } finally {
      server.close();
    }
  }, 30_000);
});
