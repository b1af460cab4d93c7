/**
 * The deploy path end to end on loopback, with the real parts: the repository's Dockerfile
 * built by podman (against a stand-in base image), pushed to a real registry, and deployed by
 * deploy-scripts/ run through a real sshd, with nginx as the edge in front.
 *
 * The tests share one lab and run in order: each starts from the host state the previous left.
 */
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { DeployLab, ROOT, randomSha, run, runOk } from './lab';

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
  const tag = `${lab.registry}/reflex:${brokenSha}`;
  const built = await lab.podman('builder', [
    'build',
    '--format',
    'docker',
    '--pull=never',
    '-f',
    dockerfile,
    '-t',
    tag,
    lab.dir,
  ]);
  if (built.code !== 0) throw new Error(built.stderr);
  brokenImage = await lab.push(tag);
}, 1_800_000);

afterAll(() => lab.close(), 300_000);

const last = () => lab.history().at(-1)!;
const hostMetrics = () => lab.readState('textfile/reflex_host.prom');
const colorPort = (color: string) => (color === 'blue' ? lab.ports.blue : lab.ports.green);

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
    // file-SD target directly.
    expect((await fetch(`${lab.edgeUrl}/healthz`)).status).toBe(200);
    const home = await fetch(`${lab.edgeUrl}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${lab.edgeUrl}/metrics`)).status).toBe(404);
    const fileSd = JSON.parse(lab.readState('prometheus/app.json'));
    expect(fileSd).toEqual([
      {
        targets: [`127.0.0.1:${colorPort(b!.color)}`],
        labels: { service: 'reflex', sha: shas[1], color: b!.color },
      },
    ]);
    const scraped = await fetch(`http://${fileSd[0].targets[0]}/metrics`);
    expect(await scraped.text()).toContain('http_requests_total');

    expect(hostMetrics()).toContain('reflex_host_deploys_total{result="success"} 2');
    expect(hostMetrics()).toContain(`reflex_release_info{sha="${shas[1]}",color="${b!.color}"} 1`);
    expect(hostMetrics()).toContain('reflex_host_pinned 0');
    expect(lab.readState('audit.log')).toContain(`release sha=${shas[1]}`);
    expect(lab.readState('desired')).toContain(`sha=${shas[1]}`);

    // The old release is stopped but kept for rollback; the new one runs as the image's user.
    const containers = await hostContainers();
    expect(containers.find((c) => c.sha === shas[0])?.state).toBe('exited');
    expect(containers.find((c) => c.sha === shas[1])?.state).toBe('running');
    const user = await lab.podman('host', [
      'inspect',
      '--format',
      '{{.Config.User}}',
      containers.find((c) => c.sha === shas[1])!.name,
    ]);
    expect(user.stdout.trim()).toBe('node');
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
    // The build context as the Dockerfile sees it, copied so that a page can change.
    const context = path.join(lab.dir, 'context');
    await runOk('bash', [
      '-c',
      `mkdir -p ${context} && git ls-files -co --exclude-standard -z package.json package-lock.json .npmrc Dockerfile .dockerignore webapp pulumi/package.json | xargs -0 cp --parents -t ${context}`,
    ]);
    const build = async (sha: string) => {
      const built = await lab.podman('builder', [
        'build',
        '--format',
        'docker',
        '--pull=never',
        '--build-arg',
        `REFLEX_SHA=${sha}`,
        '--tag',
        `localhost/reflex-layers:${sha}`,
        context,
      ]);
      if (built.code !== 0) throw new Error(built.stderr);
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
      expect(reconciled.stderr).toContain(`drift: serving ${shas[0]}, desired ${desired}`);
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
    expect(containers.filter((c) => c.state === 'running').map((c) => c.sha)).toEqual([live]);
    expect(await lab.edgeSha()).toBe(live);

    const again = await lab.script('cleanup.sh');
    expect(again.stdout).toContain('freed 0 containers and 0 images');
  });

  it('reconcile.sh --reset puts the edge config, the timers and the release back to the repository state', async () => {
    const desired = last().sha;
    const site = path.join(lab.dir, 'host/etc/nginx/conf.d/reflex.conf');
    const unit = path.join(lab.dir, 'host/etc/systemd/system/reflex-reconcile.timer');
    const original = readFileSync(site, 'utf8');
    writeFileSync(site, original.replace(/location = \/metrics \{\s*return 404;\s*\}/, ''));
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

  it('zero downtime: 10 consecutive deploys through nginx under 100+ req/s lose no request', async () => {
    const before = lab.history().length;
    const started = Date.now();
    let instance: autocannon.Instance | undefined;
    const load = new Promise<autocannon.Result>((resolve, reject) => {
      instance = autocannon(
        {
          url: `${lab.edgeUrl}/healthz`,
          connections: 10,
          overallRate: 150,
          duration: 900,
          timeout: 10,
        },
        (err: Error | null, result) => (err ? reject(err) : resolve(result)),
      );
    });
    const socketErrors: string[] = [];
    instance!.on('reqError', (err: NodeJS.ErrnoException) =>
      socketErrors.push(err.code ?? err.message),
    );
    const deployed: number[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const image = images[images.length - 1 - (i % 2)]!;
        deployed.push((await lab.script('deploy.sh', [image])).code);
      }
    } finally {
      instance!.stop();
    }
    const result = await load;
    const seconds = (Date.now() - started) / 1000;

    expect(deployed).toEqual(Array(10).fill(0));
    const added = lab.history().slice(before);
    expect(added.map((r) => r.outcome)).toEqual(Array(10).fill('success'));
    for (let i = 1; i < added.length; i++) expect(added[i]!.color).not.toBe(added[i - 1]!.color);
    expect(result.non2xx).toBe(0);
    expect(socketErrors).toEqual([]);
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result['2xx']).toBeGreaterThanOrEqual(100 * seconds);
    console.log(
      `zero-downtime: ${result['2xx']} responses, all 2xx, over ${seconds.toFixed(1)} s ` +
        `(${(result['2xx'] / seconds).toFixed(0)} req/s) across 10 deploys`,
    );
  });

  it('deploy tools refuse to run without their arguments', async () => {
    const usage = await run(path.join(lab.scriptsDir, 'deploy.sh'), []);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('usage: deploy.sh IMAGE');
  });
});
