/**
 * `npm start` on a fresh clone (dependencies installed, as `npm ci` leaves them) reaches
 * "Reflex is live" inside a network namespace that has nothing but loopback — no network
 * beyond what `npm ci` already installed — and Ctrl-C stops everything. A second start
 * reuses what the first one made.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { git, makeProject, ROOT } from './support/loop';

interface Probe {
  exitCode: number | string;
  home: { status: number; body: string };
  version: { status: number; body: string };
  after: { status: number; body: string };
  lines: string[];
  error?: string;
  output?: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function probeOffline(clone: string, port: number): Probe {
  const script = path.join(ROOT, 'test/fixtures/npmStartProbe.mjs');
  const out = execFileSync(
    'unshare',
    ['-rn', 'sh', '-c', `ip link set lo up && exec node ${JSON.stringify(script)}`],
    {
      cwd: clone,
      env: { ...process.env, REFLEX_PORT: String(port), REFLEX_ADMIN_PASSWORD: '', CI: '' },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 300_000,
    },
  ).toString();
  const probe = JSON.parse(out.trim().split('\n').at(-1)!) as Probe;
  if (probe.error) throw new Error(`${probe.error}\n${probe.output}`);
  return probe;
}

describe('npm start on a fresh clone', () => {
  let project: string;
  let clone: string;

  beforeAll(() => {
    project = makeProject();
    clone = path.join(mkdtempSync(path.join(os.tmpdir(), 'reflex-clone-')), 'reflex');
    git(path.dirname(clone), ['clone', '--quiet', project, clone]);
    // What `npm ci` leaves behind: the locked dependencies, installed.
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
  });

  afterAll(() => {
    rmSync(project, { recursive: true, force: true });
    rmSync(path.dirname(clone), { recursive: true, force: true });
  });

  it('reaches "Reflex is live" with only loopback, prints the first account once, and Ctrl-C stops everything', async () => {
    const port = await freePort();
    const probe = probeOffline(clone, port);
    expect(probe.lines).toContainEqual(
      expect.stringMatching(new RegExp(`^Reflex is live at http://localhost:${port}`)),
    );
    expect(probe.lines).toContainEqual(
      expect.stringMatching(/^First account \(shown once\): username admin, password \S{20,}$/),
    );
    expect(probe.home.status).toBe(200);
    expect(probe.home.body).toContain('Hello from Reflex');
    expect(JSON.parse(probe.version.body).sha).toBe(git(clone, ['rev-parse', 'HEAD']));
    // npm re-raises the SIGINT its script got once the script has finished, as in a terminal.
    expect([0, 'SIGINT']).toContain(probe.exitCode);
    expect(probe.lines).toContain('Stopped.');
    expect(probe.after.status).toBe(0);
    const appTargets = JSON.parse(
      readFileSync(path.join(clone, '.reflex/prometheus/app.json'), 'utf8'),
    );
    const releasePort = Number(appTargets[0].targets[0].split(':')[1]);
    expect(
      await new Promise((resolve) =>
        net
          .connect(releasePort, '127.0.0.1')
          .on('connect', () => resolve('open'))
          .on('error', () => resolve('closed')),
      ),
    ).toBe('closed');
    expect(existsSync(path.join(clone, '.reflex/run/supervisor.json'))).toBe(false);
  }, 320_000);

  it('a second start reuses the origin, the accounts and the built release', async () => {
    const port = await freePort();
    const probe = probeOffline(clone, port);
    expect(probe.lines.some((l) => l.includes('origin seeded'))).toBe(false);
    expect(probe.lines.some((l) => l.startsWith('First account'))).toBe(false);
    expect(probe.lines).toContainEqual(
      expect.stringMatching(/^Starting release [0-9a-f]{12} \(already built\)/),
    );
    expect(probe.lines).toContainEqual(
      expect.stringMatching(new RegExp(`^Reflex is live at http://localhost:${port}`)),
    );
    expect(probe.lines).toContain('Stopped.');
  }, 320_000);
});
