// The two first-boot scripts of pulumi/ that the user data runs besides bootstrap.sh. The
// filesystem work is real (mkfs.ext4, mkswap and blkid on a file standing for the EBS device);
// what would change this machine (mount, systemctl, resize2fs) and AWS (aws ssm) are stand-ins
// on PATH that check their arguments as the real commands would need them, and log them.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const DATA_VOLUME = path.join(__dirname, 'data-volume.sh');
const HOST_KEY = path.join(__dirname, 'host-key.sh');
const SYSTEM_PATH = '/usr/sbin:/sbin:/usr/bin:/bin';
const MOUNTPOINT = '/var/lib/reflex';

interface Sandbox {
  dir: string;
  run(script: string, args: string[], env?: Record<string, string>): ReturnType<typeof spawnSync>;
  calls(): string[][];
}

/** A folder whose stand-ins (name -> bash body) come first on PATH and log their arguments. */
function sandbox(standIns: Record<string, string>): Sandbox {
  const dir = mkdtempSync(path.join(tmpdir(), 'reflex-firstboot-'));
  const log = path.join(dir, 'calls.log');
  for (const [name, body] of Object.entries(standIns)) {
    const file = path.join(dir, name);
    writeFileSync(
      file,
      `#!/usr/bin/env bash\nprintf '%s\\x1f' ${name} "$@" >>"${log}"; echo >>"${log}"\n${body}\n`,
    );
    chmodSync(file, 0o755);
  }
  return {
    dir,
    run: (script, args, env = {}) =>
      spawnSync('bash', [script, ...args], {
        encoding: 'utf8',
        env: { PATH: `${dir}:${process.env.PATH ?? ''}:${SYSTEM_PATH}`, HOME: dir, ...env },
      }),
    calls: () => {
      try {
        return readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\x1f').filter(Boolean));
      } catch {
        return [];
      }
    },
  };
}

describe('data-volume.sh (real mkfs and blkid on a file; stand-ins for mount and systemd)', () => {
  let box: Sandbox;
  let device: string;
  let fstab: string;
  beforeEach(() => {
    box = sandbox({
      // As `mount <mountpoint>` does: it needs the fstab line for it.
      mount: `grep -q " $1 " "$REFLEX_FSTAB" || { echo "mount: $1: can't find in fstab" >&2; exit 1; }`,
      mountpoint: 'exit 1',
      systemctl: '[[ "$1" == daemon-reload ]]',
      resize2fs: '[[ -e "$1" ]]',
      // The mount point is the host's; here it is only named.
      install: 'exit 0',
    });
    device = path.join(box.dir, 'nvme-Amazon_Elastic_Block_Store_vol0123');
    fstab = path.join(box.dir, 'fstab');
    writeFileSync(
      fstab,
      'UUID=1234 / ext4 defaults 0 1\n/dev/sdz /var/lib/reflex ext4 defaults 0 2\n',
    );
  });
  afterEach(() => rmSync(box.dir, { recursive: true, force: true }));

  const blank = () => writeFileSync(device, Buffer.alloc(16 * 1024 * 1024));
  const uuid = () =>
    spawnSync('blkid', ['--probe', '--match-tag', 'UUID', '--output', 'value', device], {
      encoding: 'utf8',
      env: { PATH: SYSTEM_PATH },
    }).stdout.trim();
  const run = (wait = '5') =>
    box.run(DATA_VOLUME, [device, MOUNTPOINT], {
      REFLEX_FSTAB: fstab,
      REFLEX_DATA_WAIT_SECONDS: wait,
    });

  it('formats a blank volume, mounts it through fstab before Docker, and keeps the other lines', () => {
    blank();
    const result = run();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(uuid()).toMatch(/^[0-9a-f-]{36}$/);
    expect(readFileSync(fstab, 'utf8')).toBe(
      'UUID=1234 / ext4 defaults 0 1\n' +
        `${device} ${MOUNTPOINT} ext4 defaults,nofail,x-systemd.before=docker.service,x-systemd.required-by=docker.service 0 2\n`,
    );
    expect(box.calls().filter((c) => ['mount', 'systemctl', 'resize2fs'].includes(c[0]!))).toEqual([
      ['systemctl', 'daemon-reload'],
      ['mount', MOUNTPOINT],
      ['resize2fs', device],
    ]);
  });

  it('keeps the filesystem (and so the data) of a volume that outlived its host', () => {
    blank();
    expect(run().status).toBe(0);
    const before = uuid();
    const again = run();
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('already holds an ext4 filesystem: keeping its data');
    expect(uuid()).toBe(before);
  });

  it('refuses to touch a volume that holds anything but ext4', () => {
    blank();
    spawnSync('mkswap', [device], { env: { PATH: SYSTEM_PATH } });
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('holds swap, not ext4: refusing to touch it');
    expect(box.calls().map((c) => c[0])).not.toContain('mount');
  });

  it('fails naming the device when the volume never appears', () => {
    const result = run('1');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `${device} did not appear within 1s: is the data volume attached?`,
    );
    expect(readFileSync(fstab, 'utf8')).toContain('/dev/sdz');
  });

  it('refuses to run without its two arguments', () => {
    const result = box.run(DATA_VOLUME, [device]);
    expect(result.status).toBe(64);
    expect(result.stderr).toContain('usage: data-volume.sh DEVICE MOUNTPOINT');
  });
});

describe('host-key.sh (stand-in for the AWS CLI)', () => {
  const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfThisHost';
  let box: Sandbox;
  let keyFile: string;
  const awsAs = (exit: number) =>
    sandbox({
      // The arguments `aws ssm put-parameter` needs to overwrite a String parameter.
      aws: [
        '[[ "$1 $2" == "ssm put-parameter" ]] || exit 2',
        'args=" $* "',
        'for flag in --region --name --type --value; do [[ "$args" == *" $flag "* ]] || exit 2; done',
        '[[ "$args" == *" --type String "* && "$args" == *" --overwrite "* ]] || exit 2',
        `exit ${exit}`,
      ].join('\n'),
      'apt-get': 'exit 1',
    });
  afterEach(() => rmSync(box.dir, { recursive: true, force: true }));
  const run = () =>
    box.run(HOST_KEY, ['/reflex-dev/ssh-host-key', 'eu-west-1'], {
      REFLEX_HOST_KEY_FILE: keyFile,
      REFLEX_RETRY_SECONDS: '0',
    });

  it('publishes the public half only, without the comment that names the host', () => {
    box = awsAs(0);
    keyFile = path.join(box.dir, 'ssh_host_ed25519_key.pub');
    writeFileSync(keyFile, `${KEY} root@ip-10-0-0-57\n`);
    const result = run();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(box.calls()).toEqual([
      [
        'aws',
        'ssm',
        'put-parameter',
        '--region',
        'eu-west-1',
        '--name',
        '/reflex-dev/ssh-host-key',
        '--type',
        'String',
        '--overwrite',
        '--value',
        KEY,
        '--output',
        'text',
      ],
    ]);
  });

  it('refuses to publish anything but an ed25519 public key', () => {
    box = awsAs(0);
    keyFile = path.join(box.dir, 'ssh_host_ed25519_key.pub');
    writeFileSync(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\n');
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('is not an ed25519 public key');
    expect(box.calls()).toEqual([]);
  });

  it('retries, then fails naming the parameter when AWS keeps refusing', () => {
    box = awsAs(1);
    keyFile = path.join(box.dir, 'ssh_host_ed25519_key.pub');
    writeFileSync(keyFile, `${KEY}\n`);
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'could not write /reflex-dev/ssh-host-key in eu-west-1 after 5 attempts',
    );
    expect(box.calls().filter((c) => c[0] === 'aws')).toHaveLength(5);
  });
});
