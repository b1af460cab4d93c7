/**
 * A real host in a container: the Debian 13 root filesystem of test/host/rootfs.sh (Debian's
 * packages, cached by their list), booted under podman with systemd as PID 1 and given the
 * exact user data the Pulumi program renders, through cloud-init's NoCloud datasource. The
 * deploy workflow's steps then reach it over real ssh, with its pinned host key, through
 * deploy-scripts/ci/ssh-host.sh and a loopback stand-in for the EC2 Instance Connect tunnel.
 *
 * The CI side (the loopback registry, the image builds) is the deploy tier's DeployLab. The
 * host's container engine is Debian's docker.io, running inside the host container (privileged,
 * its /var/lib/docker on a volume: overlayfs cannot stack on the container's own overlay).
 *
 * Everything it starts is stopped by `close()`, which is safe after a partial start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deployEnvironment, readHostFiles, renderUserData } from '../../pulumi/userData';
import { DeployLab, ROOT, run, runOk, type RunResult } from '../deploy/lab';

/** The registry host the user data names for its credential helper, as a stack would render it. */
const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
/** The SSM parameter the host publishes its SSH host key to, as the stack names it. */
const HOST_KEY_PARAMETER = { name: '/reflex/dev/ssh-host-key', region: 'eu-west-1' };
/** The instance id the workflow targets; the stand-in tunnel ignores it, as ssh's %h. */
const INSTANCE_ID = 'i-0123456789abcdef0';
const SSH_HOST_SCRIPT = path.join(ROOT, 'deploy-scripts/ci/ssh-host.sh');

export class HostLab {
  readonly ci = new DeployLab();
  readonly name = `reflex-host-tier-${process.pid}`;
  readonly ports = { ssh: 0, http: 0 };
  /** Timings of the start, for docs/TESTING.md. */
  readonly timings: Record<string, number> = {};
  private tunnel: ChildProcess | undefined;
  private sshDir = '';

  get dir(): string {
    return this.ci.dir;
  }

  get edgeUrl(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  /** Image references as the host sees them: the registry is forwarded to the same port inside. */
  get registry(): string {
    return this.ci.registry;
  }

  podman(args: string[], timeoutMs = 600_000): Promise<RunResult> {
    return this.ci.podman('host', args, timeoutMs);
  }

  /** Build (or take from the cache) the root filesystem, render the user data, boot the host. */
  async start(): Promise<void> {
    await this.timed('registry', () => this.ci.startBuilder());
    await this.timed('rootfs', () =>
      runOk('bash', [path.join(ROOT, 'test/host/rootfs.sh'), 'localhost/reflex-host:trixie'], {
        env: this.ci.engineEnv('host'),
        timeoutMs: 1_200_000,
      }),
    );
    await this.attachDataVolume();
    this.writeSeed();
    await this.timed('boot', () => this.boot());
    await this.timed('cloud-init', () => this.waitForCloudInit());
    await this.pinHostKey();
  }

  private async timed<T>(step: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      this.timings[step] = (Date.now() - started) / 1000;
    }
  }

  private keyPair(name: string): { privateKey: string; publicKey: string } {
    const file = path.join(this.sshDir, name);
    return {
      privateKey: readFileSync(file, 'utf8'),
      publicKey: readFileSync(`${file}.pub`, 'utf8').trim(),
    };
  }

  /** The exact user data of the Pulumi program, as the NoCloud seed (user-data, meta-data). */
  private writeSeed(): void {
    this.sshDir = path.join(this.dir, 'ci-ssh');
    mkdirSync(this.sshDir, { recursive: true, mode: 0o700 });
    // The deploy user's key pair, as the stack generates it (OpenSSH format, like tls.PrivateKey).
    spawnSyncOk('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'deploy_key',
      '-f',
      path.join(this.sshDir, 'deploy_key'),
    ]);
    const userData = renderUserData({
      files: readHostFiles(ROOT),
      deployEnv: deployEnvironment({
        repositoryUrl: `${ECR_HOST}/reflex`,
        deployBranch: 'main',
        githubRepository: 'example/reflex',
        region: 'eu-west-1',
        environment: 'dev',
      }),
      registryHost: ECR_HOST,
      deployPublicKey: this.keyPair('deploy_key').publicKey,
      dataDevice: this.dataDevice,
      hostKeyParameter: HOST_KEY_PARAMETER,
    });
    const seed = path.join(this.dir, 'seed');
    mkdirSync(seed, { recursive: true });
    writeFileSync(path.join(seed, 'user-data'), userData);
    writeFileSync(
      path.join(seed, 'meta-data'),
      `instance-id: ${INSTANCE_ID}\nlocal-hostname: reflex-host\n`,
    );
  }

  private async boot(): Promise<void> {
    mkdirSync(path.join(this.dir, 'host-docker'), { recursive: true });
    mkdirSync(path.join(this.dir, 'ssm'), { recursive: true });
    await this.podmanOk([
      'run',
      '--detach',
      '--name',
      this.name,
      '--hostname',
      'reflex-host',
      // systemd as PID 1, and the nested docker engine, need a privileged container.
      '--privileged',
      '--systemd=always',
      // Its own cgroup namespace: on a cgroup v1 machine the nested runc otherwise resolves the
      // container's cgroup paths against the outer hierarchy and cannot start a release.
      '--cgroupns=private',
      '--publish',
      '127.0.0.1::22',
      '--publish',
      '127.0.0.1::80',
      '--volume',
      `${path.join(this.dir, 'seed')}:/var/lib/cloud/seed/nocloud:ro`,
      '--volume',
      `${path.join(this.dir, 'host-docker')}:/var/lib/docker`,
      // SSM: the AWS CLI stand-in stores the published host key where the tier reads it.
      '--volume',
      `${path.join(ROOT, 'test/host/aws')}:/usr/local/bin/aws:ro`,
      '--volume',
      `${path.join(this.dir, 'ssm')}:/var/lib/host-tier-ssm`,
      'localhost/reflex-host:trixie',
    ]);
    await this.readPorts();
  }

  /** The loopback ports the engine forwards to the host's 22 and 80 (new after a restart). */
  private async readPorts(): Promise<void> {
    const port = async (inner: number) => {
      const out = await this.podmanOk(['port', this.name, `${inner}/tcp`]);
      return Number(/:(\d+)\s*$/.exec(out.trim())?.[1] ?? 0);
    };
    this.ports.ssh = await port(22);
    this.ports.http = await port(80);
  }

  private async podmanOk(args: string[], timeoutMs = 600_000): Promise<string> {
    const result = await this.podman(args, timeoutMs);
    if (result.code !== 0) {
      throw new Error(`podman ${args.join(' ')} exited ${result.code}\n${result.stderr}`);
    }
    return result.stdout;
  }

  /** Run a command in the host as root, outside ssh (what an operator's console would show). */
  exec(command: string, timeoutMs = 300_000): Promise<RunResult> {
    return this.podman(['exec', this.name, 'bash', '-c', command], timeoutMs);
  }

  /** `cloud-init status --wait`: done, with no error and no recoverable error. */
  private async waitForCloudInit(): Promise<void> {
    // The status command exists once systemd has started the container's services.
    let status: RunResult = { code: 1, stdout: '', stderr: '' };
    for (let i = 0; i < 600; i++) {
      status = await this.exec('cloud-init status --wait --long', 900_000);
      if (!/not running|Failed to connect/.test(status.stderr + status.stdout)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    this.cloudInitStatus = status.stdout;
    if (status.code !== 0) {
      const log = await this.exec('tail -n 60 /var/log/cloud-init-output.log');
      throw new Error(
        `cloud-init did not finish cleanly (exit ${status.code}):\n${status.stdout}\n${status.stderr}\n` +
          `--- /var/log/cloud-init-output.log ---\n${log.stdout}`,
      );
    }
  }

  /** Where the host published its host key: `name=…` and `region=…` lines. */
  publishedTo(): string {
    return readFileSync(path.join(this.dir, 'ssm', 'where'), 'utf8');
  }

  /** The data volume's device on this machine. */
  get dataVolume(): string {
    return this.dataDevice;
  }

  /** What `cloud-init status --long` printed at the end of the first boot. */
  cloudInitStatus = '';

  /**
   * known_hosts with exactly the host key the host published to its SSM parameter at first boot
   * (here through the `aws` stand-in), as the workflow pins it from the stack output.
   */
  private async pinHostKey(): Promise<void> {
    const published = readFileSync(path.join(this.dir, 'ssm', 'parameter'), 'utf8');
    await runOk(path.join(ROOT, 'deploy-scripts/ci/pin-host-key.sh'), [
      INSTANCE_ID,
      '22',
      published.trim(),
      path.join(this.sshDir, 'known_hosts'),
    ]);
  }

  /** The EBS data volume: a loop device over a sparse file, formatted by data-volume.sh. */
  private dataDevice = '';
  private async attachDataVolume(): Promise<void> {
    const file = path.join(this.dir, 'data-volume.img');
    await runOk('truncate', ['--size', '4G', file]);
    this.dataDevice = (await runOk('losetup', ['--find', '--show', file])).trim();
  }

  /** The environment of ssh-host.sh: the workflow's, with the loopback tunnel as ProxyCommand. */
  private sshEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      REFLEX_SSH_KEY: path.join(this.sshDir, 'deploy_key'),
      REFLEX_SSH_KNOWN_HOSTS: path.join(this.sshDir, 'known_hosts'),
      REFLEX_SSH_PROXY_COMMAND: `${process.execPath} ${path.join(ROOT, 'test/host/loopback-tunnel.mjs')} ${this.ports.ssh}`,
    };
  }

  /** ssh-host.sh deploy@INSTANCE COMMAND: exactly the deploy job's ssh. */
  ssh(command: string, input?: Buffer, timeoutMs = 600_000): Promise<RunResult> {
    return run(SSH_HOST_SCRIPT, [`deploy@${INSTANCE_ID}`, command], {
      env: this.sshEnv(),
      timeoutMs,
      ...(input ? { input } : {}),
    });
  }

  /** The workflow's "Host bundle" step: the repository's bundle into install-bundle.sh. */
  async shipBundle(sha: string): Promise<RunResult> {
    const bundle = await new Promise<Buffer>((resolve, reject) => {
      const tar = spawn(
        'tar',
        ['-czf', '-', 'deploy-scripts', 'compose.yaml', 'prometheus', 'grafana'],
        {
          cwd: ROOT,
        },
      );
      const chunks: Buffer[] = [];
      tar.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      tar.on('error', reject);
      tar.on('close', (code) =>
        code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`tar ${code}`)),
      );
    });
    return this.ssh(`sudo -n /opt/reflex/deploy-scripts/install-bundle.sh ${sha}`, bundle);
  }

  /** The workflow's "deploy.sh on the host" step. */
  deploy(image: string, expectLive?: string): Promise<RunResult> {
    const extra = expectLive ? ` --expect-live ${expectLive}` : '';
    return this.ssh(`sudo -n /opt/reflex/deploy-scripts/deploy.sh ${image}${extra}`);
  }

  /**
   * The host reaches the loopback registry the way it reaches ECR over the network (and the
   * alert receiver the way it reaches a webhook): here through ssh forwards of the same ports,
   * so addresses read the same on both sides. The first port must answer HTTP when it is up.
   */
  async openTunnels(ports: number[]): Promise<void> {
    this.closeTunnels();
    const printed = await runOk(SSH_HOST_SCRIPT, ['--print', `deploy@${INSTANCE_ID}`], {
      env: this.sshEnv(),
    });
    const argv = printed.split('\n').filter(Boolean);
    const target = argv.pop()!;
    const forwards = ports.flatMap((port) => ['-R', `127.0.0.1:${port}:127.0.0.1:${port}`]);
    const child = spawn(
      argv[0]!,
      [...argv.slice(1), '-N', '-o', 'ExitOnForwardFailure=yes', ...forwards, target],
      { env: this.sshEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.tunnel = child;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const probe = await this.exec(`curl -sS -o /dev/null http://127.0.0.1:${ports[0]}/`);
      if (probe.code === 0) return;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the tunnels into the host did not come up');
  }

  closeTunnels(): void {
    if (this.tunnel && this.tunnel.exitCode === null) this.tunnel.kill('SIGTERM');
    this.tunnel = undefined;
  }

  /**
   * The monitoring stack's images, which cannot be pulled here: stand-ins built outside
   * (make-monitoring-standins.sh), pulled by the host's docker, tagged with compose.yaml's names.
   */
  async loadMonitoringImages(): Promise<void> {
    const pushed = await runOk(
      'bash',
      [
        path.join(ROOT, 'test/host/make-monitoring-standins.sh'),
        this.registry,
        path.join(this.dir, 'monitoring'),
      ],
      { env: this.ci.engineEnv('builder'), timeoutMs: 600_000 },
    );
    for (const reference of pushed.split('\n').filter(Boolean)) {
      const name = reference.slice(this.registry.length + 1);
      const loaded = await this.exec(
        `docker pull -q ${reference} && docker tag ${reference} ${name}`,
      );
      if (loaded.code !== 0)
        throw new Error(`could not load ${name} on the host:\n${loaded.stderr}`);
    }
  }

  /** Restart the host container (a reboot: systemd shuts down, boots again with the same disk). */
  async restart(): Promise<void> {
    this.closeTunnels();
    await this.podmanOk(['restart', '--time', '60', this.name], 180_000);
    await this.readPorts();
  }

  /** The SHA the host's nginx serves on /version, or a description of what it answered. */
  async edgeSha(): Promise<string> {
    try {
      const response = await fetch(`${this.edgeUrl}/version`, {
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) return `HTTP ${response.status}`;
      return ((await response.json()) as { sha: string }).sha;
    } catch (error) {
      return String(error);
    }
  }

  /** Stop the tunnel, the host container and everything of the CI side. */
  async close(): Promise<void> {
    this.closeTunnels();
    // Killed at once (nothing of the host is kept), and checked: a host left running holds its
    // data volume's loop device and the engine's storage.
    await this.podman(['rm', '--force', '--time', '0', this.name], 300_000);
    const left = await this.podman(['ps', '--all', '--quiet', '--filter', `name=${this.name}`]);
    if (left.stdout.trim() !== '') await this.podman(['kill', this.name], 60_000);
    if (this.dataDevice) await run('losetup', ['--detach', this.dataDevice]);
    await this.ci.close();
  }
}

function spawnSyncOk(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  chmodSync(args[args.length - 1]!, 0o600);
}
