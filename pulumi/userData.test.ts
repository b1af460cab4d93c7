import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import { parse } from 'yaml';

import type { UserDataInputs } from './userData';
import {
  USER_DATA_LIMIT,
  asciiJson,
  deployEnvironment,
  ebsDevicePath,
  isLeftOff,
  missingHostFiles,
  readHostFiles,
  renderCloudConfig,
  renderEnvFile,
  renderUserData,
} from './userData';

const REPO_ROOT = path.resolve(__dirname, '..');
const REGISTRY_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

interface CloudConfig {
  users: Record<string, unknown>[];
  write_files: {
    path: string;
    permissions: string;
    owner: string;
    content: string;
    encoding?: string;
  }[];
  runcmd: string[][];
  [key: string]: unknown;
}

/** A small repository checkout with the folders the host needs (and files it must leave off). */
function fixtureRepository(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'reflex-userdata-'));
  const write = (relative: string, content: string | Buffer, executable = false) => {
    const file = path.join(root, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    chmodSync(file, executable ? 0o755 : 0o644);
  };
  const script = (what: string) =>
    `#!/usr/bin/env bash\n# ${what}\nset -o errexit -o nounset -o pipefail\necho "${what}"\n`;
  write('deploy-scripts/install-bundle.sh', script('receive the host bundle'), true);
  write('deploy-scripts/install-host.sh', script('install nginx config and timers'), true);
  for (const name of ['deploy', 'rollback', 'cleanup', 'reconcile']) {
    write(`deploy-scripts/${name}.sh`, script(name), true);
  }
  write('deploy-scripts/lib/common.sh', '# shared functions\nlog() { echo "$*"; }\n');
  write('deploy-scripts/systemd/reflex-reconcile.timer', '[Timer]\nOnCalendar=*:0/5\n');
  write('deploy-scripts/nginx/reflex.conf', 'server {\n\tlisten 80;\n}\n');
  write('deploy-scripts/README.md', '# not for the host\n');
  write('deploy-scripts/test/deploy.bats', '@test "x" { true; }\n');
  write('compose.yaml', 'services:\n  node-exporter:\n    image: prom/node-exporter\n');
  write('prometheus/prometheus.yml', 'scrape_configs: []\n');
  write('prometheus/rules.test.yml', 'tests: []\n');
  write('grafana/dashboards/app.json', '{"title":"Reflex → app 🚀","panels":[]}\n');
  write('grafana/dashboards/host.json', '{"title":"Host → disk","panels":[]}\n');
  write('grafana/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0xff]));
  write('node_modules/x/index.js', 'left off\n');
  mkdirSync(path.join(root, 'pulumi'));
  for (const script of ['bootstrap.sh', 'data-volume.sh', 'host-key.sh']) {
    copyFileSync(path.join(__dirname, script), path.join(root, 'pulumi', script));
    chmodSync(path.join(root, 'pulumi', script), 0o755);
  }
  return root;
}

function inputsFor(repoRoot: string): UserDataInputs {
  return {
    files: readHostFiles(repoRoot),
    deployEnv: deployEnvironment({
      repositoryUrl: `${REGISTRY_HOST}/reflex-dev`,
      deployBranch: 'main',
      githubRepository: 'octo-org/reflex',
      region: 'eu-west-1',
      environment: 'dev',
    }),
    registryHost: REGISTRY_HOST,
    deployPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeploy deploy@reflex\n',
    dataDevice: ebsDevicePath('vol-0123456789abcdef0'),
    hostKeyParameter: { name: '/reflex-dev/ssh-host-key', region: 'eu-west-1' },
  };
}

/** The cloud-config as cloud-init reads it: checks the header and that YAML 1.1 agrees with JSON. */
function readCloudConfig(text: string): CloudConfig {
  expect(text.startsWith('#cloud-config\n')).toBe(true);
  const body = text.slice('#cloud-config\n'.length);
  const asJson = JSON.parse(body) as CloudConfig;
  expect(parse(body, { version: '1.1' })).toEqual(asJson);
  return asJson;
}

function fileAt(config: CloudConfig, target: string) {
  const found = config.write_files.find((f) => f.path === target);
  if (!found) throw new Error(`user data writes no ${target}`);
  return found;
}

function contentOf(file: { content: string; encoding?: string }): Buffer {
  return file.encoding === 'b64' ? Buffer.from(file.content, 'base64') : Buffer.from(file.content);
}

function run(command: string, args: string[], input?: string) {
  return spawnSync(command, args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
}

describe('host user data', () => {
  let repo: string;
  beforeAll(() => {
    repo = fixtureRepository();
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('places only the first-boot scripts and the bundle receiver, from the repository, with their modes', () => {
    const files = readHostFiles(repo);
    expect(files.map((f) => [f.source, f.target, f.executable])).toEqual([
      ['pulumi/bootstrap.sh', '/opt/reflex/bootstrap.sh', true],
      ['pulumi/data-volume.sh', '/opt/reflex/data-volume.sh', true],
      ['deploy-scripts/install-bundle.sh', '/opt/reflex/deploy-scripts/install-bundle.sh', true],
      ['pulumi/host-key.sh', '/opt/reflex/host-key.sh', true],
    ]);
    expect(missingHostFiles(files)).toEqual([]);
  });

  it('writes every repository file it places byte for byte', () => {
    const inputs = inputsFor(repo);
    const config = readCloudConfig(renderCloudConfig(inputs));
    for (const file of inputs.files) {
      const written = fileAt(config, file.target);
      expect({ path: file.target, content: contentOf(written) }).toEqual({
        path: file.target,
        content: file.content,
      });
      expect(written.permissions).toBe(file.executable ? '0755' : '0644');
      expect(written.owner).toBe('root:root');
    }
  });

  it('leaves the deploy scripts and the monitoring stack to the bundle every deploy sends', () => {
    const config = readCloudConfig(renderCloudConfig(inputsFor(repo)));
    const paths = config.write_files.map((f) => f.path);
    for (const target of [
      '/opt/reflex/deploy-scripts/deploy.sh',
      '/opt/reflex/compose.yaml',
      '/opt/reflex/grafana/dashboards/app.json',
    ]) {
      expect(paths).not.toContain(target);
    }
  });

  it('writes the settings of docs/HOST.md: deploy.env, app.env, sudo rule, ECR login, log limits', () => {
    const config = readCloudConfig(renderCloudConfig(inputsFor(repo)));
    expect(fileAt(config, '/etc/reflex/deploy.env')).toEqual({
      path: '/etc/reflex/deploy.env',
      permissions: '0644',
      owner: 'root:root',
      content: [
        '# Settings of the deploy scripts (docs/HOST.md), written by the Pulumi user data.',
        'CONTAINER_ENGINE=docker',
        `REFLEX_IMAGE_REPOSITORY=${REGISTRY_HOST}/reflex-dev`,
        'REFLEX_DEPLOY_BRANCH=main',
        'REFLEX_BLUE_PORT=8081',
        'REFLEX_GREEN_PORT=8082',
        'REFLEX_STATE_DIR=/var/lib/reflex',
        'REFLEX_TEXTFILE_DIR=/var/lib/reflex/textfile',
        'REFLEX_FILE_SD=/var/lib/reflex/prometheus/app.json',
        'REFLEX_EDGE_SWITCH=/var/lib/reflex/edge/live-green',
        'REFLEX_GITHUB_REPOSITORY=octo-org/reflex',
        'REFLEX_ENVIRONMENT=dev',
        'AWS_REGION=eu-west-1',
        '',
      ].join('\n'),
    });
    const appEnv = fileAt(config, '/etc/reflex/app.env');
    expect(appEnv.permissions).toBe('0600');
    const settings = appEnv.content.split('\n').filter((line) => /^[A-Z]/.test(line));
    expect(settings).toEqual([
      'REFLEX_LOG_LEVEL=info',
      'REFLEX_TRUST_PROXY=true',
      'REFLEX_BRANCH=main',
      'REFLEX_USERS_FILE=/data/users.json',
      'REFLEX_STATE_DIR=/data',
      'REFLEX_AUDIT_FILE=/data/audit.log',
      'REFLEX_GITHUB_REPOSITORY=octo-org/reflex',
    ]);
    // No secret in user data: the session secret is made on the host, tokens are the operator's.
    expect(appEnv.content).not.toMatch(
      /^REFLEX_(SESSION_SECRET|GIT_TOKEN|GITHUB_TOKEN|ADMIN_PASSWORD)=/m,
    );
    expect(appEnv.content).toContain('# REFLEX_REPO_URL=https://github.com/octo-org/reflex.git\n');
    expect(fileAt(config, '/etc/sudoers.d/reflex-deploy')).toEqual({
      path: '/etc/sudoers.d/reflex-deploy',
      permissions: '0440',
      owner: 'root:root',
      content:
        '# The deploy user may run exactly the deploy scripts as root (install-bundle.sh receives\n' +
        '# them from the deploy workflow), and edit the app environment.\n' +
        'deploy ALL=(root) NOPASSWD: /opt/reflex/deploy-scripts/install-bundle.sh, /opt/reflex/deploy-scripts/deploy.sh, ' +
        '/opt/reflex/deploy-scripts/rollback.sh, /opt/reflex/deploy-scripts/cleanup.sh, /opt/reflex/deploy-scripts/reconcile.sh\n' +
        'deploy ALL=(root) NOPASSWD: sudoedit /etc/reflex/app.env\n',
    });
    expect(JSON.parse(fileAt(config, '/etc/reflex/docker-config.json').content)).toEqual({
      credHelpers: { [REGISTRY_HOST]: 'ecr-login' },
    });
    expect(JSON.parse(fileAt(config, '/etc/docker/daemon.json').content)).toEqual({
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '10m', 'max-file': '3' },
    });
  });

  it('creates only the deploy user, with the deploy key; the host makes its own host key', () => {
    const inputs = inputsFor(repo);
    const config = readCloudConfig(renderCloudConfig(inputs));
    expect(config.users).toEqual([
      {
        name: 'deploy',
        gecos: 'Reflex deploy (SSH user of the deploy workflow)',
        shell: '/bin/bash',
        lock_passwd: true,
        groups: ['systemd-journal'],
        ssh_authorized_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeploy deploy@reflex'],
      },
    ]);
    expect(config.ssh_keys).toBeUndefined();
    expect(config.ssh_deletekeys).toBe(true);
    expect(config.ssh_genkeytypes).toEqual(['ed25519']);
    expect(config.ssh_pwauth).toBe(false);
    expect(config.disable_root).toBe(true);
  });

  it('mounts the data volume, then bootstraps, then publishes the host key', () => {
    const config = readCloudConfig(renderCloudConfig(inputsFor(repo)));
    expect(config.runcmd).toEqual([
      [
        'bash',
        '/opt/reflex/data-volume.sh',
        '/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0',
        '/var/lib/reflex',
      ],
      ['bash', '/opt/reflex/bootstrap.sh'],
      ['bash', '/opt/reflex/host-key.sh', '/reflex-dev/ssh-host-key', 'eu-west-1'],
    ]);
  });

  it('carries no secret: no private key, no token, no session secret', () => {
    const text = renderCloudConfig(inputsFor(repo));
    expect(text).not.toMatch(/PRIVATE KEY|ed25519_private|ssh_keys/);
    for (const file of readCloudConfig(text).write_files.filter((f) =>
      f.path.startsWith('/etc/'),
    )) {
      expect({ path: file.path, content: file.content }).not.toEqual({
        path: file.path,
        content: expect.stringMatching(
          /^REFLEX_(SESSION_SECRET|GIT_TOKEN|GITHUB_TOKEN|ADMIN_PASSWORD)=/m,
        ),
      });
    }
  });

  it("sets the site's and the editor's public URLs in app.env when the stack knows them", () => {
    const config = readCloudConfig(
      renderCloudConfig({
        ...inputsFor(repo),
        urls: {
          publicUrl: 'https://reflex.example.com',
          editorUrl: 'https://editor.reflex.example.com',
        },
      }),
    );
    const settings = fileAt(config, '/etc/reflex/app.env')
      .content.split('\n')
      .filter((line) => /^REFLEX_(PUBLIC|EDITOR)_URL=/.test(line));
    expect(settings).toEqual([
      'REFLEX_PUBLIC_URL=https://reflex.example.com',
      'REFLEX_EDITOR_URL=https://editor.reflex.example.com',
    ]);
  });

  it.each([
    [
      'vol-0123456789abcdef0',
      '/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0',
    ],
    ['vol-1a2b', '/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol1a2b'],
  ])('finds the volume %s at %s', (volumeId, device) => {
    expect(ebsDevicePath(volumeId)).toBe(device);
  });

  it('refuses a device path for something that is not a volume id', () => {
    expect(() => ebsDevicePath('host-data-volume-id')).toThrow('not an EBS volume id');
  });

  it('is gzip-compressed cloud-config, and refuses to exceed the 16 KB limit', () => {
    const inputs = inputsFor(repo);
    const userData = renderUserData(inputs);
    expect(gunzipSync(userData).toString('utf8')).toBe(renderCloudConfig(inputs));
    const big = randomBytes(20_000);
    expect(() =>
      renderUserData({
        ...inputs,
        files: [
          ...inputs.files,
          { source: 'grafana/big.bin', target: '/x', content: big, executable: false },
        ],
      }),
    ).toThrow(/over EC2's limit of 16384/);
  });

  it('stays under the 16 KB limit for this repository as it is', () => {
    const inputs = inputsFor(REPO_ROOT);
    expect(inputs.files.map((f) => f.source)).toEqual(
      expect.arrayContaining([
        'pulumi/bootstrap.sh',
        'pulumi/data-volume.sh',
        'pulumi/host-key.sh',
      ]),
    );
    const size = renderUserData(inputs).length;
    expect(size).toBeLessThanOrEqual(USER_DATA_LIMIT);
  });

  describe('the boot script it runs (pulumi/bootstrap.sh)', () => {
    const bootstrap = () =>
      contentOf(
        fileAt(readCloudConfig(renderCloudConfig(inputsFor(repo))), '/opt/reflex/bootstrap.sh'),
      ).toString();

    it('passes bash -n and shellcheck as rendered', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'reflex-bootstrap-'));
      try {
        const file = path.join(dir, 'bootstrap.sh');
        writeFileSync(file, bootstrap());
        const syntax = run('bash', ['-n', file]);
        expect(syntax.stderr).toBe('');
        expect(syntax.status).toBe(0);
        const lint = run('shellcheck', ['--format=gcc', file]);
        expect(lint.stdout + lint.stderr).toBe('');
        expect(lint.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('every shell script in the user data passes bash -n', () => {
      const config = readCloudConfig(renderCloudConfig(inputsFor(REPO_ROOT)));
      const scripts = config.write_files.filter((f) => f.path.endsWith('.sh'));
      expect(scripts.length).toBeGreaterThan(0);
      for (const script of scripts) {
        const result = run('bash', ['-n'], contentOf(script).toString());
        expect({ path: script.path, stderr: result.stderr }).toEqual({
          path: script.path,
          stderr: '',
        });
      }
    });

    it('performs each step of docs/HOST.md, in order', () => {
      const steps: [string, RegExp][] = [
        [
          'installs Docker with compose, nginx, the ECR credential helper (whatever else)',
          /PACKAGES=\((?=[^)]*\bdocker\.io\b)(?=[^)]*\bdocker-compose)(?=[^)]*\bnginx\b)(?=[^)]*\bamazon-ecr-credential-helper\b)[^)]*\)/,
        ],
        ['reads deploy.env', /source "\$\{DEPLOY_ENV\}"/],
        ['from the package archive', /apt-get .*install --yes "\$\{PACKAGES\[@\]\}"/],
        ['checks the compose plugin', /^docker compose version$/m],
        ['starts Docker and nginx', /systemctl enable --now docker\.service nginx\.service/],
        ['puts deploy in the docker group', /usermod --append --groups docker deploy/],
        [
          'ECR login for root',
          /install -m 0600 \/etc\/reflex\/docker-config\.json \/root\/\.docker\/config\.json/,
        ],
        [
          'ECR login for deploy',
          /install -m 0600 -o deploy -g deploy \/etc\/reflex\/docker-config\.json \/home\/deploy\/\.docker\/config\.json/,
        ],
        [
          'makes the textfile-collector folder',
          /install -d -m 0755 "\$\{REFLEX_STATE_DIR\}" "\$\{REFLEX_TEXTFILE_DIR\}"/,
        ],
        [
          'generates the grafana password once',
          /GF_SECURITY_ADMIN_PASSWORD=%s.*openssl rand -hex 24/,
        ],
        ['generates the session secret once', /REFLEX_SESSION_SECRET=%s.*openssl rand -hex 32/],
        ['checks the sudo rule', /visudo --check --file \/etc\/sudoers\.d\/reflex-deploy/],
        [
          'checks the bundle receiver',
          /\[\[ -x "\$\{REFLEX_HOME\}\/deploy-scripts\/install-bundle\.sh" \]\]/,
        ],
      ];
      const script = bootstrap();
      let from = 0;
      for (const [step, pattern] of steps) {
        const match = pattern.exec(script.slice(from));
        expect({ step, found: match !== null }).toEqual({ step, found: true });
        from += match!.index + match![0].length;
      }
      expect(script).toMatch(/^set -o errexit -o nounset -o pipefail$/m);
    });
  });

  it.each([
    ['deploy-scripts/deploy.sh', false],
    ['deploy-scripts/README.md', true],
    ['deploy-scripts/test/helpers.bash', true],
    ['deploy-scripts/deploy.bats', true],
    ['prometheus/rules.test.yml', true],
    ['prometheus/tests/alerts.yml', true],
    ['grafana/.DS_Store', true],
    ['grafana/node_modules/a.js', true],
    ['grafana/dashboards/test-dashboard.json', false],
  ])('isLeftOff(%s) is %s', (file, leftOff) => {
    expect(isLeftOff(file)).toBe(leftOff);
  });

  it('names the files the first boot needs when they are missing', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'reflex-empty-'));
    try {
      expect(missingHostFiles(readHostFiles(empty))).toEqual([
        'deploy-scripts/install-bundle.sh',
        'pulumi/bootstrap.sh',
        'pulumi/data-volume.sh',
        'pulumi/host-key.sh',
      ]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it.each(['two words', 'a"quote', 'x$(id)', "it's", 'line\nbreak'])(
    'refuses an env-file value that would need quoting: %j',
    (value) => {
      expect(() => renderEnvFile('h', { KEY: value })).toThrow(
        'env file value of KEY needs quoting',
      );
    },
  );

  it('escapes non-ASCII text so that YAML 1.1 readers get it back', () => {
    const text = asciiJson({ s: 'Reflex → é' });
    expect(text).toBe('{\n "s": "Reflex \\u2192 \\u00e9"\n}');
    expect(parse(text, { version: '1.1' })).toEqual({ s: 'Reflex → é' });
  });
});
