/**
 * A deploy lab on loopback, made of the real parts: a container engine (podman, with its own
 * storage in a temp folder for the "CI builder" and another for the "host"), a registry
 * (docker-registry), an sshd that runs the host's deploy scripts, and nginx as the edge.
 * The repository's Dockerfile is built against a stand-in for the base image
 * (make-standin-base.sh), pushed to the registry and pulled by the host through deploy.sh.
 *
 * Everything it starts is stopped by `close()`, which is safe to call after a partial start.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
const SCRIPTS_SOURCE = path.join(ROOT, 'deploy-scripts');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion and collect its output (never throws on a non-zero exit). */
export function run(
  command: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    input?: string | Buffer;
    timeoutMs?: number;
    cwd?: string;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd ?? ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    // A child that exits without reading its input must not fail the run with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Like run(), but throws with the output when the command fails. */
export async function runOk(
  command: string,
  args: string[],
  options: Parameters<typeof run>[2] = {},
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A random full commit SHA. */
export function randomSha(): string {
  return [...Array(40)].map(() => Math.floor(Math.random() * 16).toString(16)).join('');
}

export interface ReleaseRecord {
  at: string;
  startedAt: string;
  sha: string;
  image: string;
  digest: string;
  color: string;
  outcome: 'success' | 'failed';
  durationSeconds: number;
  switchSeconds: number | null;
}

interface Daemon {
  name: string;
  child: ChildProcess;
}

export class DeployLab {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-deploy-lab-'));
  readonly ports = {
    registry: 0,
    ssh: 0,
    edge: 0,
    blue: 0,
    green: 0,
    siteBlue: 0,
    siteGreen: 0,
    /** The first of the previews' ten ports. */
    preview: 0,
  };
  /** The previews' host names are `<slug>.<previewDomain>`. */
  readonly previewDomain = 'preview.reflex.test';
  /** The folder install-host.sh installs the scripts into (the host's /opt/reflex/deploy-scripts). */
  readonly scriptsDir = path.join(this.dir, 'host/opt/reflex/deploy-scripts');
  readonly stateDir = path.join(this.dir, 'host/var/lib/reflex');
  /** The edge's switch file: green while it exists, else blue. */
  readonly edgeSwitch = path.join(this.dir, 'host/var/lib/reflex/edge/live-green');
  readonly nginxConf = path.join(this.dir, 'host/etc/nginx/nginx.conf');
  private daemons: Daemon[] = [];
  private engines: Record<'builder' | 'host', NodeJS.ProcessEnv> = { builder: {}, host: {} };
  registry = '';

  get edgeUrl(): string {
    return `http://127.0.0.1:${this.ports.edge}`;
  }

  /** Start the registry, the sshd and nginx; install the host side through ssh. */
  async start(): Promise<void> {
    for (const key of Object.keys(this.ports) as (keyof typeof this.ports)[]) {
      this.ports[key] = await freePort();
    }
    // The previews' range must hold none of the releases' ports.
    const overlaps = () =>
      this.ports.preview + 9 > 65535 ||
      Object.entries(this.ports).some(
        ([key, port]) =>
          key !== 'preview' && port >= this.ports.preview && port <= this.ports.preview + 9,
      );
    while (overlaps()) this.ports.preview = await freePort();
    this.registry = `127.0.0.1:${this.ports.registry}`;
    this.writeEngineConfig();
    await this.startRegistry();
    await this.startSshd();
    this.writeNginxMainConf();
    await this.installHost();
    await this.startNginx();
  }

  /** Only the CI side: the registry and the engines' settings (the host tier boots its own host). */
  async startBuilder(): Promise<void> {
    this.ports.registry = await freePort();
    this.registry = `127.0.0.1:${this.ports.registry}`;
    this.writeEngineConfig();
    await this.startRegistry();
  }

  private writeEngineConfig(): void {
    const conf = path.join(this.dir, 'containers.conf');
    // Without these, crun fails on setrlimit and on hybrid cgroups here.
    // Networks the scripts create (the site's) live in the lab's folder and go with it.
    writeFileSync(
      conf,
      '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' +
        `[network]\nnetwork_config_dir = "${this.dir}/networks"\n`,
    );
    const registries = path.join(this.dir, 'registries.conf');
    writeFileSync(registries, `[[registry]]\nlocation = "${this.registry}"\ninsecure = true\n`);
    for (const side of ['builder', 'host'] as const) {
      const storage = path.join(this.dir, `storage-${side}.conf`);
      writeFileSync(
        storage,
        `[storage]\ndriver = "overlay"\ngraphroot = "${this.dir}/${side}-storage/graph"\n` +
          `runroot = "${this.dir}/${side}-storage/run"\n`,
      );
      this.engines[side] = {
        CONTAINERS_CONF: conf,
        CONTAINERS_STORAGE_CONF: storage,
        CONTAINERS_REGISTRIES_CONF: registries,
      };
    }
  }

  /** Environment for the container engine of `side`. */
  engineEnv(side: 'builder' | 'host'): NodeJS.ProcessEnv {
    return { ...process.env, ...this.engines[side], CONTAINER_ENGINE: 'podman' };
  }

  podman(side: 'builder' | 'host', args: string[], timeoutMs = 600_000): Promise<RunResult> {
    return run('podman', args, { env: this.engineEnv(side), timeoutMs });
  }

  private spawnDaemon(name: string, command: string, args: string[]): ChildProcess {
    const log = createWriteStream(path.join(this.dir, `${name}.log`));
    const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.daemons.push({ name, child });
    return child;
  }

  private async waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} did not come up within ${timeoutMs} ms`);
  }

  private async startRegistry(): Promise<void> {
    const config = path.join(this.dir, 'registry.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: warn',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${this.dir}/registry-data`,
        'http:',
        `  addr: ${this.registry}`,
        '',
      ].join('\n'),
    );
    this.spawnDaemon('registry', 'docker-registry', ['serve', config]);
    await this.waitFor('registry', async () => (await fetch(`http://${this.registry}/v2/`)).ok);
  }

  private hostEnvFile(): string {
    const host = path.join(this.dir, 'host');
    const file = path.join(host, 'etc/reflex/deploy.env');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(
      file,
      [
        '# deploy.env of the lab host (docs/HOST.md keys, pointed at the lab folder)',
        'CONTAINER_ENGINE=podman',
        `REFLEX_STATE_DIR=${this.stateDir}`,
        `REFLEX_TEXTFILE_DIR=${this.stateDir}/textfile`,
        `REFLEX_FILE_SD=${this.stateDir}/prometheus/app.json`,
        `REFLEX_NGINX_CONF=${this.nginxConf}`,
        `REFLEX_NGINX_SITE=${host}/etc/nginx/conf.d/reflex.conf`,
        `REFLEX_NGINX_DEFAULT_SITE=${host}/etc/nginx/sites-enabled/default`,
        `REFLEX_EDGE_TOKEN_FILE=${host}/etc/reflex/edge-token`,
        `REFLEX_ALERTING_ENV=${host}/etc/reflex/alerting.env`,
        `REFLEX_ALERTMANAGER_CONFIG=${host}/etc/reflex/alertmanager/alertmanager.yml`,
        `REFLEX_EDGE_SWITCH=${this.edgeSwitch}`,
        `REFLEX_EDGE_LISTEN=127.0.0.1:${this.ports.edge}`,
        `REFLEX_BLUE_PORT=${this.ports.blue}`,
        `REFLEX_GREEN_PORT=${this.ports.green}`,
        `REFLEX_SITE_BLUE_PORT=${this.ports.siteBlue}`,
        `REFLEX_SITE_GREEN_PORT=${this.ports.siteGreen}`,
        // Its own name: another lab on this machine may have a site network too.
        `REFLEX_SITE_NETWORK=reflex-site-${this.ports.siteBlue}`,
        `REFLEX_PLATFORM_NETWORK=reflex-platform-${this.ports.siteBlue}`,
        `REFLEX_SITE_ENV_FILE=${host}/etc/reflex/site.env`,
        `REFLEX_PREVIEW_DOMAIN=${this.previewDomain}`,
        `REFLEX_PREVIEW_PORTS=${this.ports.preview}-${this.ports.preview + 9}`,
        `REFLEX_PREVIEW_NETWORK=reflex-preview-${this.ports.siteBlue}`,
        `REFLEX_NGINX_PREVIEWS=${host}/etc/nginx/conf.d/reflex.previews.conf`,
        `REFLEX_SCRIPTS_DIR=${this.scriptsDir}`,
        `REFLEX_HOME=${host}/opt/reflex`,
        `REFLEX_SYSTEMD_DIR=${host}/etc/systemd/system`,
        `REFLEX_APP_ENV_FILE=${host}/etc/reflex/app.env`,
        'REFLEX_HEALTH_TIMEOUT=30',
        'REFLEX_DRAIN_SECONDS=1',
        'REFLEX_STOP_TIMEOUT=10',
        'REFLEX_LOCK_TIMEOUT=300',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(host, 'etc/reflex/app.env'), 'REFLEX_LOG_LEVEL=warn\n', {
      mode: 0o600,
    });
    return file;
  }

  private async startSshd(): Promise<void> {
    const dir = path.join(this.dir, 'ssh');
    mkdirSync(dir, { recursive: true });
    mkdirSync('/run/sshd', { recursive: true });
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/host_key`]);
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/deploy_key`]);
    writeFileSync(`${dir}/authorized_keys`, readFileSync(`${dir}/deploy_key.pub`));
    const env = { ...this.engines.host, REFLEX_DEPLOY_ENV: this.hostEnvFile() };
    writeFileSync(
      `${dir}/sshd_config`,
      [
        `Port ${this.ports.ssh}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${dir}/host_key`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'LogLevel ERROR',
        // The host's settings: where its deploy.env is, and its container engine's storage.
        `SetEnv ${Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
        '',
      ].join('\n'),
    );
    this.spawnDaemon('sshd', '/usr/sbin/sshd', ['-D', '-e', '-f', `${dir}/sshd_config`]);
    // The client trusts exactly the host key whose fingerprint is pinned, as the workflow does.
    const fingerprint = (await runOk('ssh-keygen', ['-lf', `${dir}/host_key.pub`])).split(' ')[1]!;
    await this.waitFor('sshd', async () => {
      const r = await run(path.join(SCRIPTS_SOURCE, 'ci/pin-host-key.sh'), [
        '127.0.0.1',
        String(this.ports.ssh),
        fingerprint,
        `${dir}/known_hosts`,
      ]);
      return r.code === 0;
    });
  }

  /** Run a command on the lab host through ssh (as the deploy workflow does). */
  ssh(command: string, timeoutMs = 300_000, input?: Buffer): Promise<RunResult> {
    const dir = path.join(this.dir, 'ssh');
    return run(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-i',
        `${dir}/deploy_key`,
        '-p',
        String(this.ports.ssh),
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${dir}/known_hosts`,
        '-o',
        'LogLevel=ERROR',
        'root@127.0.0.1',
        command,
      ],
      { timeoutMs, ...(input ? { input } : {}) },
    );
  }

  /** Run a host script (deploy.sh, rollback.sh, …) over ssh, with optional setting overrides. */
  script(name: string, args: string[] = [], env: Record<string, string> = {}): Promise<RunResult> {
    const prefix = Object.entries(env).map(([k, v]) => `${k}=${v} `);
    return this.ssh(`${prefix.join('')}${this.scriptsDir}/${name} ${args.join(' ')}`);
  }

  /**
   * As the deploy workflow does: the repository's host bundle (deploy-scripts/, compose.yaml,
   * prometheus/, grafana/) as a tarball over ssh into install-bundle.sh, which the EC2 user data
   * places on a real host.
   */
  private async installHost(): Promise<void> {
    const bundle = execFileSync(
      'tar',
      ['-czf', '-', 'deploy-scripts', 'compose.yaml', 'prometheus', 'grafana'],
      {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const result = await this.ssh(
      `bash ${SCRIPTS_SOURCE}/install-bundle.sh ${'0'.repeat(40)}`,
      300_000,
      bundle,
    );
    if (result.code !== 0) throw new Error(`install-bundle.sh failed:\n${result.stderr}`);
    this.bundleLog = result.stderr;
  }

  /** What install-bundle.sh said when the lab host was installed. */
  bundleLog = '';

  /**
   * The host's nginx layout as Debian's package installs it: nginx.conf includes conf.d/*.conf
   * and sites-enabled/*, where the packaged default site claims `default_server` on the edge's
   * port (80 on a host; the lab's edge port here).
   */
  private writeNginxMainConf(): void {
    const host = path.join(this.dir, 'host');
    mkdirSync(`${host}/var/lib/nginx`, { recursive: true });
    mkdirSync(`${host}/etc/nginx/conf.d`, { recursive: true });
    mkdirSync(`${host}/etc/nginx/sites-available`, { recursive: true });
    mkdirSync(`${host}/etc/nginx/sites-enabled`, { recursive: true });
    writeFileSync(
      `${host}/etc/nginx/sites-available/default`,
      readFileSync('/etc/nginx/sites-available/default', 'utf8')
        .replace(/^\s*listen \[::\]:80 default_server;\n/m, '')
        .replace(
          /listen 80 default_server;/,
          `listen 127.0.0.1:${this.ports.edge} default_server;`,
        ),
    );
    symlinkSync('../sites-available/default', `${host}/etc/nginx/sites-enabled/default`);
    writeFileSync(
      this.nginxConf,
      [
        'daemon off;',
        'worker_processes 2;',
        'user root;',
        `pid ${host}/nginx.pid;`,
        `error_log ${host}/nginx-error.log warn;`,
        'events { worker_connections 1024; }',
        'http {',
        '  access_log off;',
        `  client_body_temp_path ${host}/var/lib/nginx/body;`,
        `  proxy_temp_path ${host}/var/lib/nginx/proxy;`,
        `  include ${host}/etc/nginx/conf.d/*.conf;`,
        `  include ${host}/etc/nginx/sites-enabled/*;`,
        '}',
        '',
      ].join('\n'),
    );
  }

  private async startNginx(): Promise<void> {
    const host = path.join(this.dir, 'host');
    this.spawnDaemon('nginx', 'nginx', ['-c', this.nginxConf, '-e', `${host}/nginx-error.log`]);
    await this.waitFor('nginx', async () => {
      const response = await fetch(`${this.edgeUrl}/healthz`);
      return response.status > 0;
    });
  }

  /**
   * Build the Dockerfile in `context` (default the repository) for `sha` in the builder, as
   * `tag`; return the tag.
   */
  async build(
    sha: string,
    context = ROOT,
    tag = `${this.registry}/reflex:${sha}`,
    extra: string[] = [],
  ): Promise<string> {
    const built = await this.podman('builder', [
      'build',
      '--format',
      'docker',
      '--pull=never',
      '--build-arg',
      `REFLEX_SHA=${sha}`,
      ...extra,
      '--tag',
      tag,
      context,
    ]);
    if (built.code !== 0) throw new Error(`podman build failed:\n${built.stdout}\n${built.stderr}`);
    return tag;
  }

  /**
   * A copy of the build context as the Dockerfile sees it, in the lab folder under `name`, so
   * that a test can change a page and build it.
   */
  async context(name: string): Promise<string> {
    const context = path.join(this.dir, name);
    await runOk('bash', [
      '-c',
      `mkdir -p ${context} && git ls-files -co --exclude-standard -z package.json package-lock.json .npmrc Dockerfile .dockerignore .github/workflows/protected-paths.txt webapp pulumi/package.json | xargs -0 cp --parents -t ${context}`,
    ]);
    return context;
  }

  /** Build the repository's Dockerfile for `sha` in the builder, push it, return repo@digest. */
  async buildAndPush(sha: string, context = ROOT): Promise<string> {
    return this.push(await this.build(sha, context));
  }

  /** Run `command` in a container of the lab host, with `input` on stdin. */
  readonly exec = (container: string, command: string[], input: string): Promise<RunResult> =>
    run('podman', ['exec', '-i', container, ...command], {
      env: this.engineEnv('host'),
      input,
    });

  /** Push a builder image; return registry/reflex@digest. */
  async push(tag: string): Promise<string> {
    const digestFile = path.join(this.dir, `digest-${Date.now()}-${Math.random()}`);
    const pushed = await this.podman('builder', [
      'push',
      // Docker's manifest format, as docker/build-push-action pushes it (keeps HEALTHCHECK).
      '--format',
      'v2s2',
      '--digestfile',
      digestFile,
      tag,
    ]);
    if (pushed.code !== 0) throw new Error(`podman push failed:\n${pushed.stderr}`);
    return `${this.registry}/reflex@${readFileSync(digestFile, 'utf8').trim()}`;
  }

  /** Build the stand-in base image in the builder storage. */
  async buildStandInBase(): Promise<void> {
    await runOk(
      'bash',
      [path.join(ROOT, 'test/deploy/make-standin-base.sh'), path.join(this.dir, 'base')],
      {
        env: this.engineEnv('builder'),
      },
    );
  }

  /** The release history the host recorded. */
  history(): ReleaseRecord[] {
    let text: string;
    try {
      text = readFileSync(path.join(this.stateDir, 'releases.jsonl'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ReleaseRecord);
  }

  /** GET `target` through the edge with this Host header (fetch always sends the URL's). */
  edgeGet(
    target: string,
    host: string,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.edgeUrl}${target}`, { headers: { host } }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** The SHA the public edge reports on /version. */
  async edgeSha(): Promise<string> {
    const response = await fetch(`${this.edgeUrl}/version`);
    if (!response.ok) return `HTTP ${response.status}`;
    return ((await response.json()) as { sha: string }).sha;
  }

  readState(file: string): string {
    return readFileSync(path.join(this.stateDir, file), 'utf8');
  }

  /** Stop every container, daemon and mount the lab made, and remove its folder. */
  async close(): Promise<void> {
    for (const side of ['host', 'builder'] as const) {
      if (!this.engines[side].CONTAINERS_CONF) continue;
      await this.podman(side, ['rm', '--all', '--force', '--time', '0'], 120_000);
      await this.podman(side, ['rmi', '--all', '--force'], 120_000);
      await this.podman(side, ['network', 'prune', '--force'], 120_000);
    }
    for (const { child } of this.daemons.reverse()) {
      if (child.exitCode !== null || child.pid === undefined) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        continue;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    // Container storage can leave overlay mounts behind; unmount anything under the lab.
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((mount) => mount.startsWith(this.dir))
      .sort((a, b) => b.length - a.length);
    for (const mount of mounts) await run('umount', ['-l', mount]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
