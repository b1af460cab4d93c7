/**
 * The site-isolation probe: what code run inside a container can learn. One script and one set
 * of expectations for every place that runs untrusted site code (the deploy tier's live site and
 * previews, the host tier's site), so that each is checked the same way.
 */
import type { RunResult } from './lab';

export interface Probed {
  /** Every environment the code can read: its own and every visible process's. */
  environments: string;
  /** The listing of /data, or the error code reading it gave. */
  data: string[] | string;
  /** For each `host:port` target: `open` when it accepted a TCP connection, else why not. */
  reach: Record<string, string>;
}

export interface Target {
  host: string;
  port: number;
}

/**
 * Runs `command` in `container` with `input` on stdin: `podman exec -i` in the deploy tier,
 * `docker exec -i` on the host tier's host.
 */
export type ContainerExec = (
  container: string,
  command: string[],
  input: string,
) => Promise<RunResult>;

/**
 * The probe, run with `node -` and the targets as JSON in argv: outside Node's permission
 * model, so that the container alone must hold.
 */
const PROBE = `
const fs = require('fs'), net = require('net');
const environments = [JSON.stringify(process.env)];
for (const pid of fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
  try { environments.push(fs.readFileSync('/proc/' + pid + '/environ', 'latin1')); } catch {}
}
let data;
try { data = fs.readdirSync('/data'); } catch (err) { data = err.code; }
Promise.all(JSON.parse(process.argv[2]).map((t) => new Promise((resolve) => {
  const socket = net.connect({ host: t.host, port: t.port, timeout: 3000 });
  const done = (how) => { socket.destroy(); resolve([t.host + ':' + t.port, how]); };
  socket.on('connect', () => done('open'));
  socket.on('timeout', () => done('timeout'));
  socket.on('error', (err) => done(err.code));
}))).then((reach) => console.log(JSON.stringify({
  environments: environments.join('\\n'), data, reach: Object.fromEntries(reach),
})));
`;

/** Probe from inside `container`: its environments, /data, and which targets it reaches. */
export async function probeFrom(
  exec: ContainerExec,
  container: string,
  targets: Target[],
): Promise<Probed> {
  const out = await exec(container, ['node', '-', JSON.stringify(targets)], PROBE);
  if (out.code !== 0) throw new Error(`probe in ${container} failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Probed;
}

/**
 * The probe found, in a site's container: its own release (the probe can read what is there),
 * none of `secrets`, no /data, and no target open.
 */
export function expectIsolated(probed: Probed, own: string, secrets: string[]): void {
  expect(probed.environments).toContain(own);
  for (const secret of secrets) expect(probed.environments).not.toContain(secret);
  expect(probed.data).toBe('ENOENT');
  for (const [target, how] of Object.entries(probed.reach)) {
    expect([target, how]).not.toEqual([target, 'open']);
  }
}

/** The site container's sandbox, from `podman inspect`: as deploy.sh and preview.sh start it. */
export interface Inspected {
  Config: { User: string; Env: string[] };
  HostConfig: { ReadonlyRootfs: boolean; SecurityOpt: string[]; PidsLimit: number; Memory: number };
  EffectiveCaps?: string[] | null;
  Mounts: unknown[];
}

/** Its own user, read-only root, no capability, no new privileges, bounded, no volume. */
export function expectSiteSandbox(site: Inspected): void {
  expect(site.Config.User).toBe('65534:65534');
  expect(site.HostConfig.ReadonlyRootfs).toBe(true);
  expect(site.EffectiveCaps ?? []).toEqual([]);
  expect(site.HostConfig.SecurityOpt.join(' ')).toContain('no-new-privileges');
  expect(site.HostConfig.PidsLimit).toBe(64);
  expect(site.HostConfig.Memory).toBe(256 * 1024 * 1024);
  expect(site.Mounts).toEqual([]);
}
