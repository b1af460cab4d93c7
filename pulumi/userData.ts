// The host's user data: a cloud-config that writes the repository's host files (read from disk
// when the program runs, so it carries whatever pulumi/*.sh and the bundle receiver hold), the
// settings of docs/HOST.md and the deploy user's public key, and runs the first-boot scripts.
// It holds no secret: the host makes its own SSH host key and publishes the public half
// (host-key.sh), and the app's session secret is made on the host (bootstrap.sh). It is
// gzip-compressed to fit EC2's 16 KB user-data limit; cloud-init unpacks it.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TextDecoder } from 'node:util';
import { gzipSync } from 'node:zlib';

/** EC2 refuses user data larger than this many bytes (counted before base64). */
export const USER_DATA_LIMIT = 16 * 1024;

export const REFLEX_HOME = '/opt/reflex';
export const DEPLOY_USER = 'deploy';
/** Where the data volume is mounted: the host's state, the app's accounts, audit and sessions. */
export const DATA_MOUNT = '/var/lib/reflex';

/**
 * The device of an attached EBS volume on a Nitro instance: udev names it after the volume's
 * NVMe serial, which is its id without the dash, whatever device name the attachment asked for.
 */
export function ebsDevicePath(volumeId: string): string {
  if (!/^vol-[0-9a-f]+$/.test(volumeId)) throw new Error(`not an EBS volume id: ${volumeId}`);
  return `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace('-', '')}`;
}

/** What the host needs from the repository, and where it goes (docs/HOST.md, "Files"). */
export const HOST_FILE_SOURCES: readonly { from: string; to: string }[] = [
  // The rest of the host's files (deploy-scripts/, the monitoring stack: ~120 KB) cannot fit
  // EC2's 16 KB user data; every deploy sends them as a bundle to this receiver.
  {
    from: 'deploy-scripts/install-bundle.sh',
    to: `${REFLEX_HOME}/deploy-scripts/install-bundle.sh`,
  },
  { from: 'pulumi/bootstrap.sh', to: `${REFLEX_HOME}/bootstrap.sh` },
  { from: 'pulumi/data-volume.sh', to: `${REFLEX_HOME}/data-volume.sh` },
  { from: 'pulumi/host-key.sh', to: `${REFLEX_HOME}/host-key.sh` },
];

/** Files the first boot cannot do without; `pulumi up` warns when one is missing. */
export const REQUIRED_HOST_FILES = HOST_FILE_SOURCES.map((source) => source.from);

/** A file of the repository as it will be written on the host. */
export interface HostFile {
  /** Path in the repository, `/`-separated. */
  source: string;
  /** Absolute path on the host. */
  target: string;
  content: Buffer;
  executable: boolean;
}

/** Whether a repository path is left off the host: documentation, tests, dependencies, dotfiles. */
export function isLeftOff(relativePath: string): boolean {
  const parts = relativePath.split('/');
  const base = parts[parts.length - 1]!;
  return (
    parts.some((part) => part.startsWith('.') || part === 'node_modules') ||
    parts.slice(0, -1).some((dir) => dir === 'test' || dir === 'tests' || dir === '__tests__') ||
    /\.(test|spec)\.[^.]+$/.test(base) ||
    base.endsWith('.bats') ||
    /^readme(\.md)?$/i.test(base)
  );
}

/** Reads the host's files from the repository at `repoRoot`; absent sources are skipped. */
export function readHostFiles(repoRoot: string): HostFile[] {
  const files: HostFile[] = [];
  for (const { from, to } of HOST_FILE_SOURCES) {
    for (const relative of walk(repoRoot, from)) {
      if (isLeftOff(relative)) continue;
      const absolute = path.join(repoRoot, relative);
      files.push({
        source: relative,
        target: to + relative.slice(from.length),
        content: readFileSync(absolute),
        executable: (lstatSync(absolute).mode & 0o111) !== 0,
      });
    }
  }
  return files.sort((a, b) => a.target.localeCompare(b.target));
}

/** REQUIRED_HOST_FILES that `files` does not contain. */
export function missingHostFiles(files: readonly HostFile[]): string[] {
  const present = new Set(files.map((file) => file.source));
  return REQUIRED_HOST_FILES.filter((required) => !present.has(required));
}

/** Regular files under `relative` (a file or a folder), as repository paths; none if absent. */
function walk(repoRoot: string, relative: string): string[] {
  let stat;
  try {
    stat = lstatSync(path.join(repoRoot, relative));
  } catch {
    return [];
  }
  if (stat.isFile()) return [relative];
  if (!stat.isDirectory()) return [];
  return readdirSync(path.join(repoRoot, relative))
    .sort()
    .flatMap((entry) => walk(repoRoot, `${relative}/${entry}`));
}

/** The deploy.env keys of docs/HOST.md; a preview domain turns on the host's previews. */
export function deployEnvironment(values: {
  repositoryUrl: string;
  deployBranch: string;
  githubRepository: string;
  region: string;
  environment: string;
  previewDomain?: string | undefined;
}): Record<string, string> {
  return {
    CONTAINER_ENGINE: 'docker',
    REFLEX_IMAGE_REPOSITORY: values.repositoryUrl,
    REFLEX_DEPLOY_BRANCH: values.deployBranch,
    REFLEX_BLUE_PORT: '8081',
    REFLEX_GREEN_PORT: '8082',
    REFLEX_STATE_DIR: '/var/lib/reflex',
    REFLEX_TEXTFILE_DIR: '/var/lib/reflex/textfile',
    REFLEX_FILE_SD: '/var/lib/reflex/prometheus/app.json',
    REFLEX_EDGE_SWITCH: '/var/lib/reflex/edge/live-green',
    REFLEX_GITHUB_REPOSITORY: values.githubRepository,
    REFLEX_ENVIRONMENT: values.environment,
    AWS_REGION: values.region,
    ...(values.previewDomain === undefined ? {} : { REFLEX_PREVIEW_DOMAIN: values.previewDomain }),
  };
}

/** `KEY=value` lines that both bash `source` and systemd/docker env files read the same way. */
export function renderEnvFile(header: string, values: Record<string, string>): string {
  const lines = Object.entries(values).map(([key, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) throw new Error(`env file key ${JSON.stringify(key)}`);
    // Only characters that need no quoting anywhere: the values are names, URLs and paths.
    if (!/^[A-Za-z0-9_./:@+-]*$/.test(value)) {
      throw new Error(`env file value of ${key} needs quoting: ${JSON.stringify(value)}`);
    }
    return `${key}=${value}`;
  });
  return `${header
    .split('\n')
    .map((line) => `# ${line}`)
    .join('\n')}\n${lines.join('\n')}\n`;
}

export interface UserDataInputs {
  files: readonly HostFile[];
  /** The settings of the deploy scripts (docs/HOST.md, `deploy.env` keys). */
  deployEnv: Record<string, string>;
  /** The ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com`). */
  registryHost: string;
  /** The deploy user's authorized OpenSSH public key. */
  deployPublicKey: string;
  /** The data volume's device, formatted on first use and mounted at DATA_MOUNT. */
  dataDevice: string;
  /** The SSM parameter the host publishes its SSH host key to, and its region. */
  hostKeyParameter: { name: string; region: string };
  /** The public URLs the platform answers for (absent: the operator fills them in). */
  urls?: AppUrls;
}

export interface AppUrls {
  /** The site's public URL (`https://<appDomain>`, or the ALB's `http://` name). */
  publicUrl: string;
  /** The editor's own origin (`https://editor.<appDomain>`); none without a domain. */
  editorUrl?: string;
}

interface WriteFile {
  path: string;
  permissions: string;
  owner: string;
  content: string;
  encoding?: 'b64';
}

/** The cloud-config text: a JSON document, which cloud-init reads as the YAML it also is. */
export function renderCloudConfig(inputs: UserDataInputs): string {
  const config = {
    users: [
      {
        name: DEPLOY_USER,
        gecos: 'Reflex deploy (SSH user of the deploy workflow)',
        shell: '/bin/bash',
        lock_passwd: true,
        // `docker` is added by bootstrap.sh once the package has created the group.
        groups: ['systemd-journal'],
        ssh_authorized_keys: [inputs.deployPublicKey.trim()],
      },
    ],
    disable_root: true,
    ssh_pwauth: false,
    // The image's own host keys go; the host makes one ed25519 key of its own, which never
    // leaves it (host-key.sh publishes the public half).
    ssh_deletekeys: true,
    ssh_genkeytypes: ['ed25519'],
    write_files: [...settingsFiles(inputs), ...inputs.files.map(repositoryFile)],
    runcmd: [
      ['bash', `${REFLEX_HOME}/data-volume.sh`, inputs.dataDevice, DATA_MOUNT],
      ['bash', `${REFLEX_HOME}/bootstrap.sh`],
      [
        'bash',
        `${REFLEX_HOME}/host-key.sh`,
        inputs.hostKeyParameter.name,
        inputs.hostKeyParameter.region,
      ],
    ],
  };
  return `#cloud-config\n${asciiJson(config)}\n`;
}

/** The user data EC2 receives: the cloud-config, gzip-compressed. */
export function renderUserData(inputs: UserDataInputs): Buffer {
  const compressed = gzipSync(renderCloudConfig(inputs), { level: 9 });
  if (compressed.length > USER_DATA_LIMIT) {
    throw new Error(
      `the host's user data is ${compressed.length} bytes compressed, over EC2's limit of ` +
        `${USER_DATA_LIMIT}: the files under ${HOST_FILE_SOURCES.map((s) => s.from).join(', ')} are too large`,
    );
  }
  return compressed;
}

/**
 * The platform's settings that come from the stack: the same on a host (app.env) and in the ecs
 * runtime's task definition.
 */
export function platformSettings(values: {
  branch: string;
  repository: string;
  urls?: AppUrls | undefined;
}): Record<string, string> {
  return {
    REFLEX_LOG_LEVEL: 'info',
    REFLEX_TRUST_PROXY: 'true',
    REFLEX_BRANCH: values.branch,
    REFLEX_USERS_FILE: '/data/users.json',
    REFLEX_STATE_DIR: '/data',
    REFLEX_AUDIT_FILE: '/data/audit.log',
    REFLEX_GITHUB_REPOSITORY: values.repository,
    ...(values.urls === undefined ? {} : { REFLEX_PUBLIC_URL: values.urls.publicUrl }),
    ...(values.urls?.editorUrl === undefined ? {} : { REFLEX_EDITOR_URL: values.urls.editorUrl }),
  };
}

/**
 * The app container's environment. Secrets are never in user data (it is readable through the
 * instance metadata service): the session secret is generated on the host by bootstrap.sh, and
 * the tokens are the operator's to add (docs/AWS.md, "Turn on the editor").
 */
export function appEnvironment(deployEnv: Record<string, string>, urls?: AppUrls): string {
  const repository = deployEnv.REFLEX_GITHUB_REPOSITORY ?? '';
  const settings = renderEnvFile(
    'Environment of the Reflex app container (docker run --env-file), docs/CONFIGURATION.md.\n' +
      'Edit with `sudo -e /etc/reflex/app.env`; the next deploy (or reconcile.sh --reset) uses it.',
    platformSettings({ branch: deployEnv.REFLEX_DEPLOY_BRANCH ?? 'main', repository, urls }),
  );
  return (
    settings +
    '# The editor is off until you set these (docs/AWS.md, "Turn on the editor"):\n' +
    `# REFLEX_REPO_URL=https://github.com/${repository}.git\n` +
    '# REFLEX_GIT_TOKEN=<fine-grained token: Contents read and write, this repository only>\n' +
    '# REFLEX_ADMIN_PASSWORD=<password of the first account, admin>\n' +
    '# To follow the pipeline in the editor:\n' +
    '# REFLEX_PIPELINE=github\n' +
    '# REFLEX_GITHUB_TOKEN=<fine-grained token: Actions read, this repository only>\n' +
    (urls === undefined ? '# REFLEX_PUBLIC_URL=<the stack output appUrl>\n' : '')
  );
}

function settingsFiles(inputs: UserDataInputs): WriteFile[] {
  const file = (target: string, permissions: string, content: string): WriteFile => ({
    path: target,
    permissions,
    owner: 'root:root',
    content,
  });
  // preview.sh only where previews run: it starts containers of unreviewed branches.
  const previews = inputs.deployEnv.REFLEX_PREVIEW_DOMAIN === undefined ? [] : ['preview'];
  const scripts = ['install-bundle', 'deploy', 'rollback', 'cleanup', 'reconcile', ...previews].map(
    (name) => `${REFLEX_HOME}/deploy-scripts/${name}.sh`,
  );
  return [
    file(
      '/etc/reflex/deploy.env',
      '0644',
      renderEnvFile(
        'Settings of the deploy scripts (docs/HOST.md), written by the Pulumi user data.',
        inputs.deployEnv,
      ),
    ),
    file('/etc/reflex/app.env', '0600', appEnvironment(inputs.deployEnv, inputs.urls)),
    file(
      '/etc/reflex/docker-config.json',
      '0644',
      // Only ECR goes through the helper; public images (the monitoring stack) pull anonymously.
      `${JSON.stringify({ credHelpers: { [inputs.registryHost]: 'ecr-login' } }, null, 2)}\n`,
    ),
    file(
      '/etc/docker/daemon.json',
      '0644',
      `${JSON.stringify({ 'log-driver': 'json-file', 'log-opts': { 'max-size': '10m', 'max-file': '3' } }, null, 2)}\n`,
    ),
    file(
      '/etc/sudoers.d/reflex-deploy',
      '0440',
      '# The deploy user may run exactly the deploy scripts as root (install-bundle.sh receives\n' +
        '# them from the deploy workflow), and edit the app environment.\n' +
        `${DEPLOY_USER} ALL=(root) NOPASSWD: ${scripts.join(', ')}\n` +
        `${DEPLOY_USER} ALL=(root) NOPASSWD: sudoedit /etc/reflex/app.env\n`,
    ),
  ];
}

function repositoryFile(file: HostFile): WriteFile {
  const text = utf8Text(file.content);
  return {
    path: file.target,
    permissions: file.executable ? '0755' : '0644',
    owner: 'root:root',
    ...(text === undefined
      ? { content: file.content.toString('base64'), encoding: 'b64' as const }
      : { content: text }),
  };
}

/**
 * The text of a UTF-8 file, or undefined when it is better written as base64: not UTF-8, control
 * characters YAML refuses, or characters beyond the BMP (YAML 1.1 readers do not rebuild them
 * from JSON's surrogate-pair escapes).
 */
function utf8Text(content: Buffer): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(content);
    // eslint-disable-next-line no-control-regex
    const unsafe = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|[\u{10000}-\u{10ffff}]/u;
    return unsafe.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * JSON (which YAML 1.1 readers such as cloud-init's also read) with every non-ASCII character
 * escaped as \uXXXX, so that the document is plain ASCII whatever the files hold.
 */
export function asciiJson(value: unknown): string {
  // JSON escapes control characters itself; what is left outside printable ASCII is non-ASCII.
  return JSON.stringify(value, null, 1).replace(
    /[^\n -~]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
