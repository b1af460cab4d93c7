/** `npm run monitor` without Prometheus or node-exporter installed: a clear error naming the tool. */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { durationSeconds } from '../scripts/monitoring/stack';
import { ROOT } from './support/dashboards';

const MONITOR = path.join(ROOT, 'scripts/monitor.ts');

function runMonitor(pathDirs: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MONITOR], {
      cwd: ROOT,
      env: { PATH: pathDirs.join(path.delimiter), HOME: os.tmpdir() },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('npm run monitor', () => {
  let bin: string;
  beforeAll(() => {
    bin = mkdtempSync(path.join(os.tmpdir(), 'reflex-monitor-bin-'));
  });
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  it('without either tool, exits 1 naming both and the packages to install', async () => {
    const result = await runMonitor([bin]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('needs prometheus and prometheus-node-exporter');
    expect(result.stderr).toContain('apt-get install -y prometheus prometheus-node-exporter');
  }, 30_000);

  it('with only node-exporter installed, names prometheus alone', async () => {
    const fake = path.join(bin, 'prometheus-node-exporter');
    writeFileSync(fake, '#!/bin/sh\nexit 0\n');
    chmodSync(fake, 0o755);
    const result = await runMonitor([bin]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('needs prometheus, not found');
    expect(result.stderr).toContain('apt-get install -y prometheus\n');
  }, 30_000);
});

describe('durationSeconds (the scrape interval a scraper registers)', () => {
  it.each([
    ['500ms', 0.5],
    ['1s', 1],
    ['15s', 15],
    ['1m', 60],
  ])('%s is %d s', (text, seconds) => {
    expect(durationSeconds(text)).toBe(seconds);
  });

  it.each(['', '15', '1h30m', '-1s', '1.5s'])('refuses %j, naming it', (text) => {
    expect(() => durationSeconds(text)).toThrow(`interval ${JSON.stringify(text)}`);
  });
});
