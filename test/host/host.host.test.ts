/**
 * The host tier: a Debian 13 host in a container, booted with the exact user data the Pulumi
 * program renders, then driven the way the deploy workflow drives production, over ssh through
 * deploy-scripts/ci/ssh-host.sh: the host bundle, deploys by digest from a loopback registry
 * under load, a rollback, the systemd timers, and a reboot. nginx, systemd, sudo, the users and
 * the file modes are the packaged and real ones. The tests run in order on one host.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HostLab } from './hostLab';
import { randomSha } from '../deploy/lab';
import { expectIsolated, probeFrom, type ContainerExec } from '../deploy/siteProbe';
import { steadyLoad, type LoadResult } from '../deploy/load';

jest.setTimeout(900_000);

const lab = new HostLab();
const shas = [randomSha(), randomSha()];
/** A commit that is never deployed. */
const otherSha = randomSha();
const images: string[] = [];
const bundleSha = randomSha();

/** The operator's webhook: every notification Alertmanager posts. */
const notifications: { status: string; alerts: { labels: Record<string, string> }[] }[] = [];
let receiver: Server;

beforeAll(async () => {
  await lab.start();
  await lab.ci.buildStandInBase();
  for (const sha of shas) images.push(await lab.ci.buildAndPush(sha));
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      notifications.push(JSON.parse(body) as (typeof notifications)[number]);
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  await lab.openTunnels([lab.ci.ports.registry, receiverPort()]);
  console.log(`host tier start-up: ${JSON.stringify(lab.timings)}`);
}, 2_400_000);

afterAll(async () => {
  await lab.close();
  receiver.close();
}, 300_000);

const receiverPort = () => (receiver.address() as AddressInfo).port;

/** Wait until `check` holds, polling; fail naming what was awaited. */
async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const held = await Promise.resolve()
      .then(check)
      .catch(() => false);
    if (held) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

const hostText = async (command: string) => (await lab.exec(command)).stdout.trim();

describe('a Debian 13 host booted with the rendered user data', () => {
  it('cloud-init finishes its first boot with no error: users, sudo rule, settings and services as bootstrap.sh leaves them', async () => {
    // `--wait` prints a dot a second before the status.
    expect(lab.cloudInitStatus).toMatch(/^\.*status: done$/m);
    expect(lab.cloudInitStatus).toMatch(/^extended_status: done$/m);
    expect(lab.cloudInitStatus).toMatch(/^detail: DataSourceNoCloud /m);
    expect(lab.cloudInitStatus).toMatch(/^errors: \[\]$/m);
    expect(lab.cloudInitStatus).toMatch(/^recoverable_errors: \{\}$/m);
    expect(await hostText('. /etc/os-release && echo $VERSION_CODENAME')).toBe('trixie');
    expect((await hostText('id -nG deploy')).split(' ')).toEqual(
      expect.arrayContaining(['deploy', 'docker', 'systemd-journal']),
    );
    expect(await hostText('stat -c "%a %U" /etc/sudoers.d/reflex-deploy /etc/reflex/app.env')).toBe(
      '440 root\n600 root',
    );
    expect(await hostText('systemctl is-active docker nginx ssh')).toBe('active\nactive\nactive');
    expect(await hostText('cat /var/lib/reflex/bootstrapped-at')).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The data volume is formatted and mounted where the host keeps its state.
    expect(await hostText('findmnt -n -o SOURCE,FSTYPE /var/lib/reflex')).toBe(
      `${lab.dataVolume} ext4`,
    );
    // The host made its own key and published the public half (the ssh below pins it).
    expect(lab.publishedTo()).toBe('name=/reflex/dev/ssh-host-key\nregion=eu-west-1\n');
    // Debian's nginx as packaged, default site included, until the first bundle.
    expect(await hostText('readlink /etc/nginx/sites-enabled/default')).toBe(
      '/etc/nginx/sites-available/default',
    );
  });

  it('the first deploy, as the workflow runs it: the host bundle, then deploy.sh by digest, over ssh with the pinned key', async () => {
    const bundle = await lab.shipBundle(bundleSha);
    expect(bundle.stderr).toContain(`installed the bundle of ${bundleSha.slice(0, 12)}`);
    expect(bundle.code).toBe(0);
    expect(bundle.stderr).toContain('disabled the packaged default site');
    expect((await lab.exec('nginx -t')).code).toBe(0);
    expect(await hostText('systemctl is-enabled reflex-cleanup.timer reflex-reconcile.timer')).toBe(
      'enabled\nenabled',
    );
    expect(await hostText('stat -c %a /etc/nginx/conf.d/reflex.conf /etc/reflex/edge-token')).toBe(
      '600\n600',
    );

    const deployed = await lab.deploy(images[0]!, 'none');
    expect(deployed.stderr).toContain('is live on');
    expect(deployed.code).toBe(0);
    expect(await lab.edgeSha()).toBe(shas[0]);
    expect((await fetch(`${lab.edgeUrl}/metrics`)).status).toBe(404);
    // The release runs on the host's docker as two containers: the platform and the site.
    const color = await hostText('. /var/lib/reflex/live && echo $color');
    const id = shas[0]!.slice(0, 12);
    expect(
      (await hostText('docker ps --filter label=io.reflex.service=reflex --format "{{.Names}}"'))
        .split('\n')
        .sort(),
    ).toEqual([`reflex-${color}-${id}`, `reflex-site-${color}-${id}`]);
    const home = await fetch(`${lab.edgeUrl}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
  });

  it("code run in the site's container on the host's docker reads none of the platform's secrets, environment or data, and reaches the platform only through nginx", async () => {
    const live = await hostText('. /var/lib/reflex/live && echo "$container $site_container"');
    const [platform, site] = live.split(' ') as [string, string];
    const address = (name: string, field: string) =>
      hostText(
        `docker inspect --format '{{range .NetworkSettings.Networks}}{{.${field}}}{{end}}' ${name}`,
      );
    const port = await hostText('. /var/lib/reflex/live && echo $port');
    const targets = [
      { host: await address(platform, 'IPAddress'), port: 3000 },
      { host: await address(site, 'Gateway'), port: Number(port) },
    ];
    const exec: ContainerExec = (container, command, input) =>
      lab.exec(
        `echo ${Buffer.from(input).toString('base64')} | base64 -d | docker exec -i ${container} ${command.map((arg) => `'${arg}'`).join(' ')}`,
      );
    const token = await hostText('cat /etc/reflex/edge-token');
    expect(token.length).toBeGreaterThan(20);
    // The probe finds what it looks for where it is: in the platform's container.
    const inPlatform = await probeFrom(exec, platform, targets);
    expect(inPlatform.environments).toContain(token);
    expect(Array.isArray(inPlatform.data)).toBe(true);
    expect(inPlatform.reach[`${targets[0]!.host}:3000`]).toBe('open');

    expectIsolated(await probeFrom(exec, site, targets), shas[0]!, [token]);
  });

  it('a host key other than the pinned one is refused', async () => {
    const key = '/etc/ssh/ssh_host_ed25519_key';
    const swapped = await lab.exec(
      `cp -a ${key} /root/pinned && cp -a ${key}.pub /root/pinned.pub && rm -f /root/other* && ` +
        `ssh-keygen -q -t ed25519 -N "" -f /root/other && cp /root/other ${key} && ` +
        `cp /root/other.pub ${key}.pub && systemctl restart ssh`,
    );
    expect(swapped.code).toBe(0);
    try {
      const refused = await lab.ssh('true');
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/host key verification failed/i);
    } finally {
      await lab.exec(
        `cp -a /root/pinned ${key} && cp -a /root/pinned.pub ${key}.pub && systemctl restart ssh`,
      );
    }
    expect((await lab.ssh('true')).code).toBe(0);
  });

  it('10 deploys, each with the full bundle step, under 100+ req/s to the site and the platform through the host nginx: no non-2xx, no socket error', async () => {
    const load = steadyLoad({
      url: lab.edgeUrl,
      requests: [
        { path: '/' },
        { path: '/healthz' },
        { path: '/version', host: 'editor.localhost' },
      ],
      rate: 150,
      connections: 10,
    });
    const steps: { bundle: number; deploy: number }[] = [];
    let live = shas[0]!;
    let result: LoadResult;
    try {
      for (let i = 0; i < 10; i++) {
        const next = i % 2 === 0 ? 1 : 0;
        const bundle = await lab.shipBundle(bundleSha);
        const deploy = await lab.deploy(images[next]!, live);
        steps.push({ bundle: bundle.code, deploy: deploy.code });
        if (deploy.code !== 0) console.log(deploy.stderr);
        live = shas[next]!;
      }
    } finally {
      result = await load.stop();
    }

    expect(steps).toEqual(Array(10).fill({ bundle: 0, deploy: 0 }));
    expect(await lab.edgeSha()).toBe(live);
    expect(result.statuses).toEqual({ 200: result['2xx'] });
    expect(result.errors).toEqual([]);
    expect(result.timeouts).toBe(0);
    expect(result['2xx']).toBeGreaterThanOrEqual(100 * result.seconds);
    console.log(
      `host tier: ${result['2xx']} responses (site and platform), all 200, over ${result.seconds.toFixed(1)} s ` +
        `(${(result['2xx'] / result.seconds).toFixed(0)} req/s) across 10 bundle + deploy steps`,
    );
  });

  it('a deploy whose expected live SHA is stale is refused and changes nothing', async () => {
    const live = await lab.edgeSha();
    const refused = await lab.deploy(images[0]!, otherSha);
    expect(refused.code).toBe(65);
    expect(refused.stderr).toContain(`the live release is ${live}, not the expected ${otherSha}`);
    expect(await lab.edgeSha()).toBe(live);
  });

  it('rollback pins the previous release; reconcile run by its timer warns and leaves it', async () => {
    const desired = await lab.edgeSha();
    const rolledBack = await lab.ssh('sudo -n /opt/reflex/deploy-scripts/rollback.sh');
    expect(rolledBack.code).toBe(0);
    const previous = await lab.edgeSha();
    expect(previous).not.toBe(desired);
    expect(shas).toContain(previous);

    await fireTimer('reflex-reconcile');
    expect(await hostText('journalctl -u reflex-reconcile.service --no-pager -o cat')).toContain(
      `WARNING: pinned to ${previous}`,
    );
    expect(await lab.edgeSha()).toBe(previous);

    // The operator lifts the pin; the next timer run puts the desired release back.
    expect((await lab.ssh('sudo -n /opt/reflex/deploy-scripts/rollback.sh --unpin')).code).toBe(0);
    await fireTimer('reflex-reconcile');
    expect(await lab.edgeSha()).toBe(desired);
  });

  it('the cleanup timer fires and prunes outside the kept releases, keeping the live one', async () => {
    const live = await lab.edgeSha();
    expect(shas).toContain(live);
    const before = Number(await hostText('wc -l </var/lib/reflex/audit.log'));
    // The operator keeps one release: the other one's stopped container and image must go.
    await lab.exec(
      'cp /etc/reflex/deploy.env /root/deploy.env && echo REFLEX_KEEP_RELEASES=1 >>/etc/reflex/deploy.env',
    );
    try {
      await fireTimer('reflex-cleanup');
    } finally {
      await lab.exec('cp /root/deploy.env /etc/reflex/deploy.env');
    }
    expect(await hostText(`tail -n +${before + 1} /var/lib/reflex/audit.log`)).toMatch(
      /user=root cleanup freed [1-9]\d* containers and [1-9]\d* images/,
    );
    expect(
      await hostText(
        'docker ps --all --filter label=io.reflex.service=reflex --format "{{.Label \\"io.reflex.sha\\"}}"',
      ),
    ).toBe(`${live}\n${live}`);
    expect(await lab.edgeSha()).toBe(live);
  });

  it('an alert provoked on the host (the app stopped) reaches the webhook receiver set in alerting.env', async () => {
    await lab.loadMonitoringImages();
    // What the operator writes with `sudo -e /etc/reflex/alerting.env`.
    const receiverSet = await lab.exec(
      `install -m 0600 /dev/null /etc/reflex/alerting.env && ` +
        `echo REFLEX_ALERT_WEBHOOK_URL=http://127.0.0.1:${receiverPort()}/alerts >/etc/reflex/alerting.env`,
    );
    expect(receiverSet.code).toBe(0);
    const bundle = await lab.shipBundle(bundleSha);
    expect(bundle.code).toBe(0);
    expect(bundle.stderr).not.toContain('monitoring stack did not start');
    const query = (q: string) =>
      hostText(`curl -fsS --get http://127.0.0.1:9090/api/v1/query --data-urlencode 'query=${q}'`);
    await eventually(
      'Alertmanager did not become ready',
      async () => (await lab.exec('curl -fsS http://127.0.0.1:9093/-/ready')).code === 0,
      120_000,
    );
    await eventually(
      'Prometheus did not scrape the live app',
      async () => (await query('up{job="reflex-app"} == 1')).includes('"value"'),
      120_000,
    );

    // The app stops; the reconcile timer is held off, or it would start it again.
    const live = await hostText('. /var/lib/reflex/live && echo $container');
    expect(
      (await lab.exec(`systemctl stop reflex-reconcile.timer && docker stop ${live}`)).code,
    ).toBe(0);
    try {
      await eventually(
        'ReflexAppDown did not reach the webhook',
        () =>
          notifications.some(
            (n) =>
              n.status === 'firing' && n.alerts.some((a) => a.labels.alertname === 'ReflexAppDown'),
          ),
        420_000,
      );
    } finally {
      await lab.exec(`docker start ${live} && systemctl start reflex-reconcile.timer`);
    }
    await eventually(
      'the app did not serve again',
      async () => shas.includes(await lab.edgeSha()),
      60_000,
    );
  });

  it('after the host restarts, the live release serves again within 60 s with no manual step', async () => {
    const live = await lab.edgeSha();
    expect(shas).toContain(live);
    const restarted = Date.now();
    await lab.restart();
    await eventually(
      `the edge did not serve ${live} again`,
      async () => (await lab.edgeSha()) === live,
      60_000,
    );
    const seconds = (Date.now() - restarted) / 1000;
    console.log(
      `host tier: the live release served again ${seconds.toFixed(1)} s after the restart began`,
    );
    expect(seconds).toBeLessThanOrEqual(60);
  });
});

/**
 * Let a Reflex timer fire now and wait for its service's run to end: a drop-in adds a trigger a
 * second after it is restarted (without the cleanup timer's random delay), beside the unit's own
 * schedule, so the real timer starts the real service as systemd would at its time.
 */
async function fireTimer(unit: string): Promise<void> {
  const before = await hostText(`systemctl show -p InvocationID --value ${unit}.service`);
  const armed = await lab.exec(
    `mkdir -p /run/systemd/system/${unit}.timer.d && ` +
      `printf '[Timer]\\nOnActiveSec=1s\\nAccuracySec=1ms\\nRandomizedDelaySec=0\\n' >/run/systemd/system/${unit}.timer.d/now.conf && ` +
      `systemctl daemon-reload && systemctl restart ${unit}.timer`,
  );
  expect(armed.code).toBe(0);
  const property = (name: string) => hostText(`systemctl show -p ${name} --value ${unit}.service`);
  await eventually(
    `${unit}.timer did not run ${unit}.service`,
    async () => {
      const id = await property('InvocationID');
      return id !== before && id !== '' && (await property('ActiveState')) !== 'activating';
    },
    300_000,
  );
  expect(await hostText(`systemctl show -p Result --value ${unit}.service`)).toBe('success');
  await lab.exec(`rm -rf /run/systemd/system/${unit}.timer.d && systemctl daemon-reload`);
}
