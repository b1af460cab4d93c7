/**
 * The Alertmanager configuration install-host.sh renders from /etc/reflex/alerting.env, run by
 * Debian's prometheus-alertmanager on loopback: amtool accepts every receiver kind, and an alert
 * posted the way Prometheus posts it reaches a webhook receiver.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, freePort, run, runOk } from '../deploy/lab';

jest.setTimeout(180_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-alertmanager-'));
let alertmanager: ChildProcess | undefined;
let receiver: Server;
const notifications: { status: string; alerts: { labels: Record<string, string> }[] }[] = [];

/** The configuration install-host.sh writes for these alerting.env settings. */
function renderConfig(settings: Record<string, string>): Promise<string> {
  return runOk(
    'bash',
    ['-c', `source '${ROOT}/deploy-scripts/lib/common.sh' && alertmanager_config_text`],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...settings } },
  );
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      notifications.push(JSON.parse(body) as (typeof notifications)[number]);
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  if (alertmanager && alertmanager.exitCode === null) {
    const exited = new Promise((resolve) => alertmanager!.once('exit', resolve));
    alertmanager.kill('SIGTERM');
    await exited;
  }
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("Alertmanager with the host's rendered receiver", () => {
  it('amtool accepts the configuration with a webhook, with Slack, with email, and with none', async () => {
    const variants: Record<string, string>[] = [
      { REFLEX_ALERT_WEBHOOK_URL: 'https://hooks.example.invalid/reflex' },
      {
        REFLEX_ALERT_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x',
        REFLEX_ALERT_SLACK_CHANNEL: '#ops',
      },
      {
        REFLEX_ALERT_EMAIL_TO: 'ops@example.invalid',
        REFLEX_ALERT_EMAIL_FROM: 'reflex@example.invalid',
        REFLEX_ALERT_SMTP_HOST: 'smtp.example.invalid:587',
        REFLEX_ALERT_SMTP_USERNAME: 'reflex',
        REFLEX_ALERT_SMTP_PASSWORD: 'secret',
      },
      {},
    ];
    for (const [index, settings] of variants.entries()) {
      const file = path.join(dir, `variant-${index}.yml`);
      writeFileSync(file, await renderConfig(settings));
      const checked = await run('amtool', ['check-config', file]);
      expect({ settings, stdout: checked.stdout, code: checked.code }).toMatchObject({ code: 0 });
      expect(checked.stdout).toContain('SUCCESS');
      expect(checked.stdout).toContain(' - 1 receivers');
    }
  });

  it('an alert Prometheus posts reaches the webhook receiver', async () => {
    const port = await freePort();
    const config = path.join(dir, 'alertmanager.yml');
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
    writeFileSync(config, await renderConfig({ REFLEX_ALERT_WEBHOOK_URL: url }));
    alertmanager = spawn(
      'prometheus-alertmanager',
      [
        `--config.file=${config}`,
        `--storage.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
      ],
      { stdio: 'ignore' },
    );
    const api = `http://127.0.0.1:${port}/api/v2`;
    const deadline = Date.now() + 60_000;
    let posted = false;
    while (Date.now() < deadline && !posted) {
      try {
        const response = await fetch(`${api}/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify([
            { labels: { alertname: 'ReflexAppDown', severity: 'critical', job: 'reflex-app' } },
          ]),
        });
        posted = response.ok;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(posted).toBe(true);
    // Alertmanager waits group_wait (30 s) before it sends a new group.
    const sent = Date.now() + 90_000;
    while (Date.now() < sent && notifications.length === 0) {
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(notifications[0]?.status).toBe('firing');
    expect(notifications[0]?.alerts.map((a) => a.labels.alertname)).toEqual(['ReflexAppDown']);
  });
});
