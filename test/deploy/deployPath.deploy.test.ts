/**
 * The deploy path end to end on loopback, with the real parts: the repository's Dockerfile
 * built by podman (against a stand-in base image), pushed to a real registry, and deployed by
 * deploy-scripts/ run through a real sshd, with nginx as the edge in front.
 *
 * The tests share one lab and run in order: each starts from the host state the previous left.
 */
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DeployLab, ROOT, randomSha, run } from './lab';
import { expectIsolated, expectSiteSandbox, probeFrom } from './siteProbe';
import { steadyLoad, type LoadResult } from './load';

/** The base image the Dockerfile names (the stand-in carries the same name). */
const BASE_IMAGE = 'docker.io/library/node:24-trixie-slim';

jest.setTimeout(600_000);

const lab = new DeployLab();
const shas = Array.from({ length: 7 }, () => randomSha());
const images: string[] = [];
const brokenSha = randomSha();
let brokenImage = '';

beforeAll(async () => {
  await lab.start();
  await lab.buildStandInBase();
  for (const sha of shas) images.push(await lab.buildAndPush(sha));
  // A release that exits at start: the first image with a command that fails at once.
  const dockerfile = path.join(lab.dir, 'Dockerfile.broken');
  writeFileSync(
    dockerfile,
    [
      `FROM ${lab.registry}/reflex:${shas[0]}`,
      `LABEL org.opencontainers.image.revision="${brokenSha}"`,
      `ENV REFLEX_SHA=${brokenSha}`,
      'CMD ["node", "-e", "console.error(\'cannot start\'); process.exit(3)"]',
      '',
    ].join('\n'),
  );
  const tag = await lab.build(brokenSha, lab.dir, `${lab.registry}/reflex:${brokenSha}`, [
    '-f',
    dockerfile,
  ]);
  brokenImage = await lab.push(tag);
}, 1_800_000);

afterAll(() => lab.close(), 300_000);

const last = () => lab.history().at(-1)!;
const hostMetrics = () => lab.readState('textfile/reflex_host.prom');
const colorPort = (color: string) => (color === 'blue' ? lab.ports.blue : lab.ports.green);
const sitePort = (color: string) => (color === 'blue' ? lab.ports.siteBlue : lab.ports.siteGreen);
/** The editor's host name at the lab's edge (every other host name is the site). */
const editorHost = () => `editor.localhost:${lab.ports.edge}`;

const edgeGet = (target: string, host: string) => lab.edgeGet(target, host);

async function hostContainers(): Promise<{ name: string; sha: string; state: string }[]> {
  const listed = await lab.podman('host', [
    'ps',
    '--all',
    '--filter',
    'label=io.reflex.service=reflex',
    '--format',
    '{{.Names}} {{index .Labels "io.reflex.sha"}} {{.State}}',
  ]);
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, sha, state] = line.split(' ');
      // podman 4.3 prints "Up" for a running container.
      const normalised = state!.toLowerCase() === 'up' ? 'running' : state!.toLowerCase();
      return { name: name!, sha: sha!, state: normalised };
    });
}

async function hostImageShas(): Promise<string[]> {
  const ids = await lab.podman('host', [
    'images',
    '--quiet',
    '--filter',
    'label=io.reflex.service=reflex',
  ]);
  const shasFound: string[] = [];
  for (const id of new Set(ids.stdout.split('\n').filter(Boolean))) {
    const label = await lab.podman('host', [
      'image',
      'inspect',
      '--format',
      '{{index .Config.Labels "org.opencontainers.image.revision"}}',
      id,
    ]);
    shasFound.push(label.stdout.trim());
  }
  return shasFound.sort();
}

/** Poll the edge every 50 ms until stopped; collect every status and SHA seen. */
function watchEdge() {
  const seen: { status: number; sha: string }[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const response = await fetch(`${lab.edgeUrl}/version`);
        const body = (await response.json()) as { sha?: string };
        seen.push({ status: response.status, sha: body.sha ?? '' });
      } catch (err) {
        seen.push({ status: 0, sha: String(err) });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return seen;
    },
  };
}

describe('deploy path on loopback: podman, registry, sshd, nginx', () => {
  it('the host is installed from the bundle the deploy workflow sends over ssh to install-bundle.sh', () => {
    const home = path.join(lab.dir, 'host/opt/reflex');
    for (const file of [
      'compose.yaml',
      'prometheus/prometheus.yml',
      'grafana/dashboards/app.json',
    ]) {
      expect(readFileSync(path.join(home, file))).toEqual(readFileSync(path.join(ROOT, file)));
    }
    for (const script of [
      'deploy.sh',
      'rollback.sh',
      'cleanup.sh',
      'reconcile.sh',
      'install-bundle.sh',
      'lib/common.sh',
    ]) {
      expect(readFileSync(path.join(lab.scriptsDir, script))).toEqual(
        readFileSync(path.join(ROOT, 'deploy-scripts', script)),
      );
    }
    expect(readFileSync(path.join(home, 'bundle-sha'), 'utf8')).toBe(`${'0'.repeat(40)}\n`);
    expect(lab.bundleLog).toMatch(/installed the bundle of 000000000000/);
  });

  it('deploy.sh over ssh puts a new SHA live behind nginx and records the release', async () => {
    const first = await lab.script('deploy.sh', [images[0]!]);
    expect(first.stderr).toContain('is live on');
    expect(first.code).toBe(0);
    expect(await lab.edgeSha()).toBe(shas[0]);

    const second = await lab.script('deploy.sh', [images[1]!]);
    expect(second.code).toBe(0);
    expect(await lab.edgeSha()).toBe(shas[1]);

    const [a, b] = lab.history().slice(-2);
    expect(a).toMatchObject({ sha: shas[0], outcome: 'success', image: images[0] });
    expect(b).toMatchObject({ sha: shas[1], outcome: 'success', image: images[1] });
    expect(b!.digest).toBe(images[1]!.split('@')[1]);
    expect(b!.color).not.toBe(a!.color);
    expect(b!.switchSeconds).toBeGreaterThan(0);
    expect(b!.durationSeconds).toBeGreaterThanOrEqual(b!.switchSeconds!);

    // The edge serves the site from the image, never the metrics; Prometheus scrapes the
    // file-SD targets directly.
    expect((await fetch(`${lab.edgeUrl}/healthz`)).status).toBe(200);
    const home = await fetch(`${lab.edgeUrl}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${lab.edgeUrl}/metrics`)).status).toBe(404);
    const fileSd = JSON.parse(lab.readState('prometheus/app.json'));
    expect(fileSd).toEqual([
      {
        targets: [`127.0.0.1:${colorPort(b!.color)}`],
        labels: { service: 'reflex', sha: shas[1], color: b!.color, component: 'platform' },
      },
      {
        targets: [`127.0.0.1:${sitePort(b!.color)}`],
        labels: { service: 'reflex', sha: shas[1], color: b!.color, component: 'site' },
      },
    ]);
    for (const target of fileSd) {
      const scraped = await fetch(`http://${target.targets[0]}/metrics`);
      expect(await scraped.text()).toContain('http_requests_total');
    }

    expect(hostMetrics()).toContain('reflex_host_deploys_total{result="success"} 2');
    expect(hostMetrics()).toContain(`reflex_release_info{sha="${shas[1]}",color="${b!.color}"} 1`);
    expect(hostMetrics()).toContain('reflex_host_pinned 0');
    expect(lab.readState('audit.log')).toContain(`release sha=${shas[1]}`);
    expect(lab.readState('desired')).toContain(`sha=${shas[1]}`);

    // The old release is stopped but kept for rollback, both its containers.
    const containers = await hostContainers();
    const states = (sha: string) =>
      containers
        .filter((c) => c.sha === sha)
        .map((c) => `${c.name} ${c.state}`)
        .sort();
    const id = (sha: string) => sha.slice(0, 12);
    expect(states(shas[0]!)).toEqual([
      `reflex-${a!.color}-${id(shas[0]!)} exited`,
      `reflex-site-${a!.color}-${id(shas[0]!)} exited`,
    ]);
    expect(states(shas[1]!)).toEqual([
      `reflex-${b!.color}-${id(shas[1]!)} running`,
      `reflex-site-${b!.color}-${id(shas[1]!)} running`,
    ]);
  });

  it('each color runs the platform and the site from one image; the site has its own user, a read-only root, no capability, bounded pids and memory, no env file, no volume, its own network', async () => {
    const live = last();
    const platformName = `reflex-${live.color}-${live.sha.slice(0, 12)}`;
    const siteName = `reflex-site-${live.color}-${live.sha.slice(0, 12)}`;
    const inspected = await lab.podman('host', ['inspect', platformName, siteName]);
    expect(inspected.code).toBe(0);
    const [platform, site] = JSON.parse(inspected.stdout);
    expect(site.Image).toBe(platform.Image);

    expect(platform.Config.User).toBe('node');
    expect(platform.Mounts.map((m: { Destination: string }) => m.Destination)).toEqual(['/data']);
    expect(platform.Config.Env).toContainEqual(expect.stringMatching(/^REFLEX_EDGE_TOKEN=/));

    expectSiteSandbox(site);
    // Its environment: the image's own and the allowlist, nothing from app.env.
    const imageEnv = JSON.parse(
      (await lab.podman('host', ['image', 'inspect', live.image])).stdout,
    )[0].Config.Env as string[];
    const keys = (env: string[]) => env.map((line) => line.split('=')[0]!);
    // (HOSTNAME, TERM and container are podman's own.)
    const added = keys(site.Config.Env).filter(
      (key) => !keys(imageEnv).includes(key) && !['HOSTNAME', 'TERM', 'container'].includes(key),
    );
    expect(added).toEqual(['REFLEX_BUILT_AT']);
    expect(site.Config.Env).toEqual(
      expect.arrayContaining([`REFLEX_SHA=${live.sha}`, 'PORT=3000', 'HOST=0.0.0.0']),
    );
    expect(keys(platform.Config.Env)).toContain('REFLEX_LOG_LEVEL');
    expect(keys(site.Config.Env)).not.toContain('REFLEX_LOG_LEVEL');
    expect([site.Path, ...site.Args].join(' ')).toBe(
      'node --permission --allow-fs-read=/app/webapp/site --allow-fs-read=/app/webapp/dist webapp/dist/site.js',
    );
    expect(Object.keys(site.NetworkSettings.Networks)).toEqual([
      `reflex-site-${lab.ports.siteBlue}`,
    ]);
    expect(Object.keys(platform.NetworkSettings.Networks)).toEqual([
      `reflex-platform-${lab.ports.siteBlue}`,
    ]);

    // The site answers its own health check with its release, on its own port.
    const health = await fetch(`http://127.0.0.1:${sitePort(live.color)}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ sha: live.sha });
  });

  it("code run in the site's container reads none of the platform's secrets, environment or data, and reaches the platform only through nginx", async () => {
    const live = last();
    const platformName = `reflex-${live.color}-${live.sha.slice(0, 12)}`;
    const siteName = `reflex-site-${live.color}-${live.sha.slice(0, 12)}`;
    const [platform, site] = JSON.parse(
      (await lab.podman('host', ['inspect', platformName, siteName])).stdout,
    );
    const token = readFileSync(path.join(lab.dir, 'host/etc/reflex/edge-token'), 'utf8').trim();
    expect(token.length).toBeGreaterThan(20);
    const platformAddress = (
      Object.values(platform.NetworkSettings.Networks)[0] as { IPAddress: string }
    ).IPAddress;
    const siteGateway = (Object.values(site.NetworkSettings.Networks)[0] as { Gateway: string })
      .Gateway;
    const targets = [
      // The platform's container, directly.
      { host: platformAddress, port: 3000 },
      // The host, at the site network's gateway, on the platform's published port.
      { host: siteGateway, port: colorPort(live.color) },
    ];

    // The same probe in the platform's container finds what it looks for: it can find it.
    const inPlatform = await probeFrom(lab.exec, platformName, targets);
    expect(inPlatform.environments).toContain(token);
    expect(Array.isArray(inPlatform.data)).toBe(true);
    expect(inPlatform.reach[`${platformAddress}:3000`]).toBe('open');

    expectIsolated(await probeFrom(lab.exec, siteName, targets), live.sha, [
      token,
      'REFLEX_LOG_LEVEL',
    ]);
    // nginx is the way in: the site's host routes to the site, the editor's to the platform.
    const home = await edgeGet('/', `127.0.0.1:${lab.ports.edge}`);
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toContain('text/html');
  });

  it("the edge routes the release by host name: the editor's host to the platform; the site's host to the site, with the platform's /version, the API 404 and /editor redirected", async () => {
    const live = last();
    const siteHost = `127.0.0.1:${lab.ports.edge}`;
    const version = await edgeGet('/version', siteHost);
    expect(JSON.parse(version.body)).toMatchObject({ sha: live.sha });
    const api = await edgeGet('/api/session', siteHost);
    expect(api.status).toBe(404);
    expect(api.headers['content-type']).toBe('application/json');
    const editor = await edgeGet('/editor/', siteHost);
    expect(editor.status).toBe(308);
    expect(editor.headers.location).toBe(`//editor.${siteHost}/editor/`);
    expect(api.body).toContain("the editor's API is served on the editor's host");
    // On the editor's host the platform answers the API itself (this lab's platform has no
    // editor configured: its own 404, not the edge's).
    const session = await edgeGet('/api/session', editorHost());
    expect(session.headers['content-type']).toContain('application/json');
    expect(session.body).not.toContain("the editor's API is served on the editor's host");
    expect(JSON.parse((await edgeGet('/version', editorHost())).body)).toMatchObject({
      sha: live.sha,
    });
    expect((await edgeGet('/metrics', editorHost())).status).toBe(404);
  });

  it('the image: non-root, healthcheck on /healthz, SHA as label and environment', async () => {
    const inspected = await lab.podman('host', ['image', 'inspect', images[1]!]);
    const [image] = JSON.parse(inspected.stdout);
    expect(image.Config.User).toBe('node');
    expect(image.Config.Labels['org.opencontainers.image.revision']).toBe(shas[1]);
    expect(image.Config.Env).toContain(`REFLEX_SHA=${shas[1]}`);
    // podman reports a Docker-format image's healthcheck beside the OCI config.
    const healthcheck = (image.Healthcheck ?? image.Config.Healthcheck) as { Test: string[] };
    expect(healthcheck.Test.join(' ')).toContain('/healthz');
    // Production dependencies only: no dev tooling in the image.
    const listing = await lab.podman('host', [
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      images[1]!,
      '-c',
      'ls /app/node_modules; command -v git',
    ]);
    expect(listing.stdout).toContain('koa');
    expect(listing.stdout).toContain('/usr/bin/git');
    expect(listing.stdout).not.toMatch(/^(jest|eslint|typescript|@pulumi|monaco-editor)$/m);
  });

  it('the image runs Node 24 and adds at most 60 MB to its base', async () => {
    const version = await lab.podman('host', ['run', '--rm', images[1]!, 'node', '--version']);
    expect(version.stdout.trim()).toMatch(/^v24\./);
    const size = async (image: string) =>
      Number(
        (await lab.podman('builder', ['image', 'inspect', '--format', '{{.Size}}', image])).stdout,
      );
    const base = await size(BASE_IMAGE);
    const added = (await size(`${lab.registry}/reflex:${shas[1]}`)) - base;
    console.log(
      `image: ${(added / 1e6).toFixed(1)} MB added over its base (${(base / 1e6).toFixed(1)} MB)`,
    );
    expect(base).toBeGreaterThan(0);
    expect(added).toBeLessThanOrEqual(60e6);
  });

  it("a content-only change rebuilds only the image's last layer, the site's pages and assets", async () => {
    const context = await lab.context('context');
    const build = async (sha: string) => {
      await lab.build(sha, context, `localhost/reflex-layers:${sha}`);
      const layers = await lab.podman('builder', [
        'image',
        'inspect',
        '--format',
        '{{json .RootFS.Layers}}',
        `localhost/reflex-layers:${sha}`,
      ]);
      return JSON.parse(layers.stdout) as string[];
    };
    const before = await build(shas[0]!);
    const page = path.join(context, 'webapp/site/pages/index.html');
    writeFileSync(page, readFileSync(page, 'utf8').replace('</body>', '<p>edited</p></body>'));
    const after = await build(randomSha());
    expect(after).toHaveLength(before.length);
    expect(after.slice(0, -2)).toEqual(before.slice(0, -2));
    // Only the last two are new: the commit check's RUN (podman writes it anew for each commit)
    // and the site's pages and assets.
    expect(after.at(-1)).not.toBe(before.at(-1));
  });

  it('a broken image (exits at start) makes deploy.sh exit non-zero while the old SHA keeps serving', async () => {
    const watcher = watchEdge();
    const result = await lab.script('deploy.sh', [brokenImage], { REFLEX_HEALTH_TIMEOUT: '20' });
    const seen = await watcher.stop();

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('did not become healthy; the live release keeps serving');
    expect(await lab.edgeSha()).toBe(shas[1]);
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.filter((s) => s.status !== 200 || s.sha !== shas[1])).toEqual([]);
    expect(last()).toMatchObject({ sha: brokenSha, outcome: 'failed' });
    expect(hostMetrics()).toContain('reflex_host_deploys_total{result="failed"} 1');
    expect(hostMetrics()).toMatch(
      /reflex_host_last_deploy_timestamp_seconds\{result="failed"\} \d+/,
    );
    // The desired release is still the last good one.
    expect(lab.readState('desired')).toContain(`sha=${shas[1]}`);
    // The failed container is removed, so no restart policy can bring it back.
    expect((await hostContainers()).filter((c) => c.sha === brokenSha)).toEqual([]);
  });

  it('two concurrent deploys never both switch: one fails naming the lock holder when it cannot wait', async () => {
    const before = lab.history().length;
    const results = await Promise.all([
      lab.script('deploy.sh', [images[2]!], { REFLEX_LOCK_TIMEOUT: '1' }),
      lab.script('deploy.sh', [images[0]!], { REFLEX_LOCK_TIMEOUT: '1' }),
    ]);
    const succeeded = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code !== 0);
    expect(succeeded).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.code).toBe(75);
    expect(refused[0]!.stderr).toMatch(
      /deploy lock held by holder=deploy\.sh\(root\) release=\S+@sha256:/,
    );
    const added = lab.history().slice(before);
    expect(added).toHaveLength(1);
    expect(await lab.edgeSha()).toBe(added[0]!.sha);
  });

  it('two concurrent deploys that may wait run one after the other, never overlapping', async () => {
    const before = lab.history().length;
    const results = await Promise.all([
      lab.script('deploy.sh', [images[1]!]),
      lab.script('deploy.sh', [images[2]!]),
    ]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const added = lab.history().slice(before);
    expect(added).toHaveLength(2);
    const [first, second] = added;
    expect(Date.parse(second!.startedAt)).toBeGreaterThanOrEqual(Date.parse(first!.at));
    expect(second!.color).not.toBe(first!.color);
    expect(await lab.edgeSha()).toBe(second!.sha);
    expect(existsSync(path.join(lab.stateDir, 'lock'))).toBe(false);
  });

  it('rollback.sh puts the previous SHA back and pins it; reconcile leaves a pinned host alone; --unpin restores', async () => {
    const live = last().sha;
    const previous = lab
      .history()
      .filter((r) => r.outcome === 'success' && r.sha !== live)
      .at(-1)!.sha;

    const rolledBack = await lab.script('rollback.sh');
    expect(rolledBack.code).toBe(0);
    expect(await lab.edgeSha()).toBe(previous);
    expect(lab.readState('pinned')).toContain(`sha=${previous}`);
    expect(hostMetrics()).toContain('reflex_host_pinned 1');

    const reconciled = await lab.script('reconcile.sh');
    expect(reconciled.code).toBe(0);
    expect(reconciled.stderr).toContain('pinned');
    expect(await lab.edgeSha()).toBe(previous);
    expect(lab.readState('textfile/reflex_reconcile.prom')).toMatch(
      /reflex_desired_release_lag_seconds \d+/,
    );

    const unpinned = await lab.script('rollback.sh', ['--unpin']);
    expect(unpinned.code).toBe(0);
    expect(existsSync(path.join(lab.stateDir, 'pinned'))).toBe(false);
    const restored = await lab.script('reconcile.sh');
    expect(restored.code).toBe(0);
    expect(await lab.edgeSha()).toBe(live);
    expect(hostMetrics()).toContain('reflex_host_pinned 0');
    expect(lab.readState('textfile/reflex_reconcile.prom')).toContain(
      'reflex_desired_release_lag_seconds 0',
    );
  });

  it('rollback.sh to a named SHA prefix, and clear errors for bad arguments', async () => {
    const target = shas[0]!;
    const named = await lab.script('rollback.sh', [target.slice(0, 10)]);
    expect(named.code).toBe(0);
    expect(await lab.edgeSha()).toBe(target);

    const unknown = await lab.script('rollback.sh', ['abcdef0']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain("'abcdef0' matches 0 released SHAs");
    expect(await lab.edgeSha()).toBe(target);

    const badImage = await lab.script('deploy.sh', ['not a ref']);
    expect(badImage.code).toBe(64);

    expect((await lab.script('rollback.sh', ['--unpin'])).code).toBe(0);
    expect((await lab.script('reconcile.sh')).code).toBe(0);
  });

  it('reconcile.sh redeploys the desired release after a manual drift', async () => {
    const desired = last().sha;
    expect(await lab.edgeSha()).toBe(desired);
    const liveColor = last().color;
    const otherPort = colorPort(liveColor === 'blue' ? 'green' : 'blue');
    // By hand on the host: an older release started and the edge switched to it.
    const drift = await lab.ssh(
      [
        `podman run -d --name manual-drift -p 127.0.0.1:${otherPort}:3000 ${images[0]}`,
        `for i in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:${otherPort}/healthz && break; sleep 0.2; done`,
        liveColor === 'blue' ? `touch ${lab.edgeSwitch}` : `rm ${lab.edgeSwitch}`,
      ].join(' && '),
    );
    expect(drift.code).toBe(0);
    expect(await lab.edgeSha()).toBe(shas[0]);

    try {
      const reconciled = await lab.script('reconcile.sh');
      expect(reconciled.stderr).toContain(`drift: serving platform ${shas[0]}, site `);
      expect(reconciled.stderr).toContain(`desired ${desired}: redeploying`);
      expect(reconciled.code).toBe(0);
      expect(await lab.edgeSha()).toBe(desired);
    } finally {
      await lab.podman('host', ['rm', '--force', '--time', '0', 'manual-drift']);
    }

    const inSync = await lab.script('reconcile.sh');
    expect(inSync.code).toBe(0);
    expect(inSync.stderr).toContain(`in sync: ${desired} serves`);
  });

  it('cleanup.sh keeps the 5 newest releases and the running one, and reports what it freed', async () => {
    // Releases beyond five, with deploy-time pruning held off so cleanup.sh has work to do.
    for (const image of images.slice(3)) {
      const deployed = await lab.script('deploy.sh', [image], { REFLEX_KEEP_RELEASES: '99' });
      expect(deployed.code).toBe(0);
    }
    const successful = lab
      .history()
      .filter((r) => r.outcome === 'success')
      .map((r) => r.sha);
    const newestFive = [...new Set([...successful].reverse())].slice(0, 5);
    expect(new Set(successful).size).toBeGreaterThan(5);
    const live = await lab.edgeSha();
    expect(newestFive).toContain(live);
    expect((await hostImageShas()).length).toBeGreaterThan(5);

    const cleaned = await lab.script('cleanup.sh');
    expect(cleaned.code).toBe(0);
    expect(cleaned.stdout).toMatch(/freed [1-9]\d* containers and [1-9]\d* images \(\d+ MiB\)/);

    expect(await hostImageShas()).toEqual([...newestFive].sort());
    expect(await hostImageShas()).not.toContain(brokenSha);
    const containers = await hostContainers();
    expect(containers.every((c) => newestFive.includes(c.sha))).toBe(true);
    // The live release's platform and site.
    expect(containers.filter((c) => c.state === 'running').map((c) => c.sha)).toEqual([live, live]);
    expect(await lab.edgeSha()).toBe(live);

    const again = await lab.script('cleanup.sh');
    expect(again.stdout).toContain('freed 0 containers and 0 images');
  });

  it('reconcile.sh --reset puts the edge config, the timers and the release back to the repository state', async () => {
    const desired = last().sha;
    const site = path.join(lab.dir, 'host/etc/nginx/conf.d/reflex.conf');
    const unit = path.join(lab.dir, 'host/etc/systemd/system/reflex-reconcile.timer');
    const original = readFileSync(site, 'utf8');
    const changed = original.replace(
      /location ~\* \^\/metrics\(\?:\/\|\$\) \{\s*return 404;\s*\}/,
      '',
    );
    expect(changed).not.toBe(original);
    writeFileSync(site, changed);
    rmSync(unit);
    const pinned = await lab.script('rollback.sh');
    expect(pinned.code).toBe(0);
    expect(await lab.edgeSha()).not.toBe(desired);

    const reset = await lab.script('reconcile.sh', ['--reset']);
    expect(reset.code).toBe(0);
    expect(readFileSync(site, 'utf8')).toBe(original);
    expect(existsSync(unit)).toBe(true);
    expect(existsSync(path.join(lab.stateDir, 'pinned'))).toBe(false);
    expect(await lab.edgeSha()).toBe(desired);
    expect((await fetch(`${lab.edgeUrl}/metrics`)).status).toBe(404);
  });

  it('zero downtime: 10 consecutive deploys through nginx under 100+ req/s, to the site and the platform, lose no request', async () => {
    const before = lab.history().length;
    const siteHost = `127.0.0.1:${lab.ports.edge}`;
    const load = steadyLoad({
      url: lab.edgeUrl,
      requests: [
        { path: '/', host: siteHost },
        { path: '/healthz', host: siteHost },
        { path: '/version', host: editorHost() },
      ],
      rate: 150,
      connections: 10,
    });
    const deployed: number[] = [];
    let result: LoadResult;
    try {
      for (let i = 0; i < 10; i++) {
        const image = images[images.length - 1 - (i % 2)]!;
        deployed.push((await lab.script('deploy.sh', [image])).code);
      }
    } finally {
      result = await load.stop();
    }

    expect(deployed).toEqual(Array(10).fill(0));
    const added = lab.history().slice(before);
    expect(added.map((r) => r.outcome)).toEqual(Array(10).fill('success'));
    for (let i = 1; i < added.length; i++) expect(added[i]!.color).not.toBe(added[i - 1]!.color);
    expect(result.statuses).toEqual({ 200: result['2xx'] });
    expect(result.errors).toEqual([]);
    expect(result.timeouts).toBe(0);
    expect(result['2xx']).toBeGreaterThanOrEqual(100 * result.seconds);
    console.log(
      `zero-downtime: ${result['2xx']} responses (site and platform), all 200, over ` +
        `${result.seconds.toFixed(1)} s (${(result['2xx'] / result.seconds).toFixed(0)} req/s) across 10 deploys`,
    );
  });

  it('deploy tools refuse to run without their arguments', async () => {
    const usage = await run(path.join(lab.scriptsDir, 'deploy.sh'), []);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('usage: deploy.sh IMAGE');
  });
});
