/**
 * Change-request previews on the host, with the real parts of the deploy lab (podman, a
 * registry, sshd, nginx): preview.sh over ssh starts a branch's image by digest as a site
 * container of its own behind nginx at `<slug>.<preview domain>`, beside the live release it
 * never changes; code in it learns no secret of the platform; the cap stops the least recently
 * used preview; down removes container and route.
 *
 * The tests share one lab and run in order.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DeployLab, randomSha } from './lab';
import { expectIsolated, expectSiteSandbox, probeFrom } from './siteProbe';

jest.setTimeout(600_000);

const lab = new DeployLab();
const liveSha = randomSha();
const previewSha = randomSha();
/** What the change request changed: a line on the home page. */
const MARKER = `<p>previewed change ${previewSha.slice(0, 8)}</p>`;
let liveImage = '';
let previewImage = '';

beforeAll(async () => {
  await lab.start();
  await lab.buildStandInBase();
  liveImage = await lab.buildAndPush(liveSha);
  const context = await lab.context('change-request');
  const page = path.join(context, 'webapp/site/pages/index.html');
  writeFileSync(page, readFileSync(page, 'utf8').replace('</body>', `${MARKER}</body>`));
  previewImage = await lab.buildAndPush(previewSha, context);
  const deployed = await lab.script('deploy.sh', [liveImage]);
  if (deployed.code !== 0) throw new Error(`deploy.sh failed:\n${deployed.stderr}`);
}, 1_800_000);

afterAll(() => lab.close(), 300_000);

const previewHost = (slug: string) => `${slug}.${lab.previewDomain}`;
const siteHost = () => `127.0.0.1:${lab.ports.edge}`;
const routes = () =>
  readFileSync(path.join(lab.dir, 'host/etc/nginx/conf.d/reflex.previews.conf'), 'utf8');

async function previewContainers(): Promise<string[]> {
  const listed = await lab.podman('host', [
    'ps',
    '--all',
    '--filter',
    'label=io.reflex.service=reflex-preview',
    '--format',
    '{{.Names}}',
  ]);
  return listed.stdout.split('\n').filter(Boolean).sort();
}

describe('previews on the host: preview.sh behind nginx', () => {
  it('preview.sh up serves the branch by digest at its host name while the live site does not show its change', async () => {
    const up = await lab.script('preview.sh', ['up', 'hello', previewImage]);
    expect(up.stderr).toContain(`preview hello (${previewSha}) serves at ${previewHost('hello')}`);
    expect(up.code).toBe(0);

    const preview = await lab.edgeGet('/', previewHost('hello'));
    expect(preview.status).toBe(200);
    expect(preview.body).toContain(MARKER);
    const live = await lab.edgeGet('/', siteHost());
    expect(live.status).toBe(200);
    expect(live.body).not.toContain(MARKER);
    expect(await lab.edgeSha()).toBe(liveSha);
    // The site's own health answer, not the platform's; the API and metrics are not there.
    expect(JSON.parse((await lab.edgeGet('/healthz', previewHost('hello'))).body)).toMatchObject({
      sha: previewSha,
    });
    expect((await lab.edgeGet('/api/session', previewHost('hello'))).status).toBe(404);
    expect((await lab.edgeGet('/metrics', previewHost('hello'))).status).toBe(404);
    // A name under the preview domain that runs nothing is a 404, never the live site.
    const unknown = await lab.edgeGet('/', previewHost('nothing-here'));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('no preview of that name');
  });

  it("the preview runs the site alone in the live site's sandbox: its own user, read-only root, no capability, bounded, no env file, no volume, its own network", async () => {
    const [site] = JSON.parse(
      (await lab.podman('host', ['inspect', 'reflex-preview-hello'])).stdout,
    );
    expectSiteSandbox(site);
    expect(site.Config.Env).toContain('REFLEX_SITE_PREVIEW=hello');
    expect(Object.keys(site.NetworkSettings.Networks)).toEqual([
      `reflex-preview-${lab.ports.siteBlue}`,
    ]);
    expect([site.Path, ...site.Args].join(' ')).toBe(
      'node --permission --allow-fs-read=/app/webapp/site --allow-fs-read=/app/webapp/dist webapp/dist/site.js',
    );
    // The live release's containers are the only others: no platform was started for it.
    const all = await lab.podman('host', ['ps', '--format', '{{.Names}}']);
    expect(all.stdout.split('\n').filter((name) => name.includes(previewSha.slice(0, 12)))).toEqual(
      [],
    );
  });

  it("code run in the preview's container reads none of the platform's secrets, environment or data, and reaches the platform only through nginx", async () => {
    const live = lab.history().at(-1)!;
    const platformName = `reflex-${live.color}-${live.sha.slice(0, 12)}`;
    const [platform, preview] = JSON.parse(
      (await lab.podman('host', ['inspect', platformName, 'reflex-preview-hello'])).stdout,
    );
    const token = readFileSync(path.join(lab.dir, 'host/etc/reflex/edge-token'), 'utf8').trim();
    const platformAddress = (
      Object.values(platform.NetworkSettings.Networks)[0] as { IPAddress: string }
    ).IPAddress;
    const gateway = (Object.values(preview.NetworkSettings.Networks)[0] as { Gateway: string })
      .Gateway;
    const platformPort = live.color === 'blue' ? lab.ports.blue : lab.ports.green;
    const targets = [
      { host: platformAddress, port: 3000 },
      { host: gateway, port: platformPort },
    ];
    // The probe finds the secret where it is.
    const inPlatform = await probeFrom(lab.exec, platformName, targets);
    expect(inPlatform.environments).toContain(token);
    expect(inPlatform.reach[`${platformAddress}:3000`]).toBe('open');

    expectIsolated(await probeFrom(lab.exec, 'reflex-preview-hello', targets), previewSha, [
      token,
      'REFLEX_LOG_LEVEL',
    ]);
  });

  it('over REFLEX_PREVIEW_MAX a new preview stops the least recently used one first', async () => {
    const cap = { REFLEX_PREVIEW_MAX: '2' };
    expect((await lab.script('preview.sh', ['up', 'two', previewImage], cap)).code).toBe(0);
    // hello came up first, but serves a request after two came up: two is the idle one.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await lab.edgeGet('/', previewHost('hello'))).status).toBe(200);

    const three = await lab.script('preview.sh', ['up', 'three', previewImage], cap);
    expect(three.code).toBe(0);
    expect(three.stderr).toContain('preview two stopped and removed (the oldest idle preview');
    expect(await previewContainers()).toEqual(['reflex-preview-hello', 'reflex-preview-three']);
    expect((await lab.edgeGet('/', previewHost('two'))).status).toBe(404);
    expect((await lab.edgeGet('/', previewHost('three'))).body).toContain(MARKER);
    expect((await lab.edgeGet('/', previewHost('hello'))).body).toContain(MARKER);
    const list = await lab.script('preview.sh', ['list']);
    expect(
      list.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ')[0]),
    ).toEqual(['hello', 'three']);
  });

  it('preview.sh down (a merged or closed change request) removes the container and the route; the live site serves on', async () => {
    for (const slug of ['hello', 'three']) {
      const down = await lab.script('preview.sh', ['down', slug]);
      expect(down.code).toBe(0);
      expect((await lab.edgeGet('/', previewHost(slug))).status).toBe(404);
      expect(routes()).not.toContain(previewHost(slug));
    }
    expect(await previewContainers()).toEqual([]);
    expect(await lab.edgeSha()).toBe(liveSha);
    expect((await lab.edgeGet('/', siteHost())).status).toBe(200);
    const bad = await lab.script('preview.sh', ['down', 'Not_A_Name']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain("not a preview name: 'Not_A_Name'");
  });
});
