// github-secrets.sh against stand-ins for `pulumi` and `gh` (GitHub's API cannot be reached
// from a test): the gh stand-in keeps the repository's state and answers as GitHub's REST API
// documents (recorded shapes), and both log their arguments and what they read on stdin.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, 'github-secrets.sh');
const GH_STANDIN = path.join(__dirname, 'testing', 'gh-standin.mjs');
const PRIVATE_KEY =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAsecretsecret\n-----END OPENSSH PRIVATE KEY-----\n';

const HOST_OUTPUTS = {
  runtime: 'host',
  awsRegion: 'us-east-1',
  deployBranch: 'main',
  ecrRepositoryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/reflex-dev',
  deployRoleArn: 'arn:aws:iam::123456789012:role/ci-deploy-role-1a2b3c4',
  appUrl: 'https://reflex.example.com',
  appHttps: true,
  editorUrl: 'https://editor.reflex.example.com',
  imagePlatform: 'linux/amd64',
  hostInstanceId: 'i-0123456789abcdef0',
  hostPrivateIp: '10.0.0.57',
  hostPublicIp: '198.51.100.23',
  instanceConnectEndpointId: 'eice-0123456789abcdef0',
  instanceConnectEndpointDnsName:
    'eice-0123456789abcdef0.ec2-instance-connect-endpoint.us-east-1.amazonaws.com',
  sshUser: 'deploy',
  sshHostKeyParameter: '/reflex-dev/ssh-host-key',
  dataVolumeId: 'vol-0123456789abcdef0',
  sshPrivateKey: PRIVATE_KEY,
};

const ECS_OUTPUTS = {
  runtime: 'ecs',
  awsRegion: 'us-east-1',
  deployBranch: 'release',
  ecrRepositoryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/reflex-prod',
  deployRoleArn: 'arn:aws:iam::123456789012:role/ci-deploy-role-9f8e7d6',
  appUrl: 'https://reflex.example.com',
  appHttps: true,
  editorUrl: 'https://editor.reflex.example.com',
  imagePlatform: 'linux/amd64',
  promotionSourceRepositoryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/reflex-dev',
  ecsCluster: 'reflex-prod',
  ecsPlatformService: 'platform',
  ecsPlatformTaskFamily: 'reflex-prod-platform',
  ecsSiteService: 'site',
  ecsSiteTaskFamily: 'reflex-prod-site',
  ecsPlatformSecretArn:
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:reflex-prod/platform-AbCdEf',
  sharedStateFileSystemId: 'fs-0123456789abcdef0',
};

interface Environment {
  deployment_branch_policy: { protected_branches: boolean; custom_branch_policies: boolean } | null;
  branch_policies: { id: number; name: string; type: string }[];
  variables: Record<string, string>;
  secrets: Record<string, string>;
}
interface GitHubState {
  repo: string;
  nextId: number;
  environments: Record<string, Environment>;
  variables: Record<string, string>;
  secrets: Record<string, string>;
}
interface Call {
  args: string[];
  stdin: string;
}

const emptyRepository = (): GitHubState => ({
  repo: 'octo-org/reflex',
  nextId: 361471,
  environments: {},
  variables: {},
  secrets: {},
});

/** Runs the script with the stand-ins first on PATH; returns its output, GitHub's state, the calls. */
function runScript(
  args: string[],
  outputs: Record<string, unknown>,
  github: GitHubState = emptyRepository(),
) {
  const dir = mkdtempSync(path.join(tmpdir(), 'reflex-gh-'));
  try {
    const state = path.join(dir, 'github.json');
    const log = path.join(dir, 'calls.log');
    writeFileSync(state, JSON.stringify(github));
    writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(outputs));
    const tool = (name: string, body: string) => {
      writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    tool(
      'pulumi',
      [
        `printf '%s\\n' "$(printf '%s\\x1f' pulumi "$@")" >>"${path.join(dir, 'pulumi.log')}"`,
        'if [[ "$1 $2" == "stack --show-name" ]]; then echo dev; exit 0; fi',
        `[[ "$1 $2 $3 $4" == "stack output --json --show-secrets" ]] || { echo "pulumi stand-in: $*" >&2; exit 2; }`,
        `cat "${path.join(dir, 'outputs.json')}"`,
      ].join('\n'),
    );
    tool('gh', `exec node "${GH_STANDIN}" "$@"`);
    const result = spawnSync('bash', [SCRIPT, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${dir}:${process.env.PATH ?? ''}`,
        GH_STANDIN_STATE: state,
        GH_STANDIN_LOG: log,
      },
    });
    const read = (file: string) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    };
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
      github: JSON.parse(readFileSync(state, 'utf8')) as GitHubState,
      calls: read(log)
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Call),
      pulumi: read(path.join(dir, 'pulumi.log'))
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\x1f').filter(Boolean)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('github-secrets.sh (stand-ins for pulumi and gh, recorded GitHub responses)', () => {
  let fresh: ReturnType<typeof runScript>;
  beforeAll(() => {
    fresh = runScript(['--stack', 'dev', '--repo', 'octo-org/reflex'], HOST_OUTPUTS);
  });

  it('creates the environment, deployable from the deploy branch only', () => {
    const run = fresh;
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.github.environments.dev).toMatchObject({
      deployment_branch_policy: { protected_branches: false, custom_branch_policies: true },
      branch_policies: [{ name: 'main', type: 'branch' }],
    });
    expect(run.pulumi[0]).toEqual([
      'pulumi',
      'stack',
      'output',
      '--json',
      '--show-secrets',
      '--stack',
      'dev',
    ]);
  });

  it('puts every value and the deploy key in the environment, nothing at repository level', () => {
    const run = fresh;
    const dev = run.github.environments.dev!;
    expect(dev.variables).toEqual({
      RUNTIME: 'host',
      AWS_REGION: 'us-east-1',
      ECR_REPOSITORY_URL: HOST_OUTPUTS.ecrRepositoryUrl,
      DEPLOY_ROLE_ARN: HOST_OUTPUTS.deployRoleArn,
      APP_URL: HOST_OUTPUTS.appUrl,
      IMAGE_PLATFORM: 'linux/amd64',
      EDITOR_URL: HOST_OUTPUTS.editorUrl,
      HOST_INSTANCE_ID: HOST_OUTPUTS.hostInstanceId,
      HOST_PRIVATE_IP: HOST_OUTPUTS.hostPrivateIp,
      EIC_ENDPOINT_ID: HOST_OUTPUTS.instanceConnectEndpointId,
      EIC_ENDPOINT_DNS_NAME: HOST_OUTPUTS.instanceConnectEndpointDnsName,
      SSH_USER: 'deploy',
      SSH_HOST_KEY_PARAMETER: '/reflex-dev/ssh-host-key',
    });
    expect(dev.secrets).toEqual({ SSH_PRIVATE_KEY: PRIVATE_KEY });
    expect(run.github.variables).toEqual({});
    expect(run.github.secrets).toEqual({});
  });

  it('removes the repository-level copies an earlier version set, and nothing else there', () => {
    const before = emptyRepository();
    before.variables = {
      ECR_REPOSITORY_URL: 'old',
      AWS_REGION: 'old',
      DEPLOY_ROLE_ARN: 'old',
      SSH_HOST: '198.51.100.23',
      SSH_USER: 'deploy',
      SSH_HOST_KEY: '198.51.100.23 ssh-ed25519 AAAA',
      APP_URL: 'old',
      REFLEX_DEV_BRANCH: 'main',
    };
    before.secrets = { SSH_PRIVATE_KEY: 'old key', SOMETHING_ELSE: 'kept' };
    const run = runScript(['--stack', 'dev'], HOST_OUTPUTS, before);
    expect(run.status).toBe(0);
    expect(run.github.variables).toEqual({ REFLEX_DEV_BRANCH: 'main' });
    expect(run.github.secrets).toEqual({ SOMETHING_ELSE: 'kept' });
    expect(run.stdout).toContain('removed variable SSH_HOST_KEY (repository level)');
    expect(run.stdout).toContain('removed secret SSH_PRIVATE_KEY (repository level)');
  });

  it("narrows an existing environment to the stack's branch and drops what the stack no longer has", () => {
    const before = emptyRepository();
    before.environments.prod = {
      deployment_branch_policy: { protected_branches: false, custom_branch_policies: true },
      branch_policies: [
        { id: 1, name: '*', type: 'branch' },
        { id: 2, name: 'release', type: 'branch' },
      ],
      variables: { HOST_INSTANCE_ID: 'i-old', SSH_HOST: 'old', AWS_REGION: 'old' },
      secrets: { SSH_PRIVATE_KEY: 'old key' },
    };
    const run = runScript(['--stack', 'prod'], ECS_OUTPUTS, before);
    expect(run.status).toBe(0);
    const prod = run.github.environments.prod!;
    expect(prod.branch_policies).toEqual([{ id: 2, name: 'release', type: 'branch' }]);
    expect(Object.keys(prod.variables).sort()).toEqual(
      [
        'APP_URL',
        'AWS_REGION',
        'DEPLOY_ROLE_ARN',
        'ECR_REPOSITORY_URL',
        'ECS_CLUSTER',
        'ECS_PLATFORM_SERVICE',
        'ECS_PLATFORM_TASK_FAMILY',
        'ECS_SITE_SERVICE',
        'ECS_SITE_TASK_FAMILY',
        'EDITOR_URL',
        'IMAGE_PLATFORM',
        'PROMOTION_SOURCE_REPOSITORY_URL',
        'RUNTIME',
      ].sort(),
    );
    expect(prod.variables.AWS_REGION).toBe('us-east-1');
    expect(prod.secrets).toEqual({});
  });

  it('prints the names it sets and never a value, and passes values on stdin only', () => {
    const run = fresh;
    expect(run.stdout).toContain('environment dev on octo-org/reflex: deploys from main only');
    expect(run.stdout).toContain('set variable DEPLOY_ROLE_ARN (from deployRoleArn)');
    expect(run.stdout).toContain('set secret SSH_PRIVATE_KEY (from sshPrivateKey)');
    const printed = run.stdout + run.stderr;
    for (const value of [
      HOST_OUTPUTS.ecrRepositoryUrl,
      HOST_OUTPUTS.deployRoleArn,
      'OPENSSH PRIVATE KEY',
    ]) {
      expect(printed).not.toContain(value);
    }
    // Nor on any command line, where other users of the machine could see it.
    expect(run.calls.flatMap((c) => c.args).join(' ')).not.toMatch(/secretsecret|ci-deploy-role/);
    expect(run.calls.find((c) => c.args[0] === 'secret')?.stdin).toBe(PRIVATE_KEY);
  });

  it('names the environment after the selected stack, and says how to set a configured key', () => {
    const { sshPrivateKey: _omitted, ...withoutKey } = HOST_OUTPUTS;
    const run = runScript([], withoutKey);
    expect(run.status).toBe(0);
    expect(Object.keys(run.github.environments)).toEqual(['dev']);
    expect(run.github.environments.dev!.secrets).toEqual({});
    expect(run.stdout).toContain('no sshPrivateKey output (the stack uses reflex:sshPublicKey)');
  });

  it('fails naming an output the stack lacks, before changing anything on GitHub', () => {
    const { deployRoleArn: _omitted, ...partial } = HOST_OUTPUTS;
    const run = runScript(['--stack', 'dev'], partial);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('the stack has no output deployRoleArn');
    expect(run.github).toEqual(emptyRepository());
  });

  it('refuses unknown arguments with its usage', () => {
    const run = runScript(['--force'], HOST_OUTPUTS);
    expect(run.status).toBe(64);
    expect(run.stderr).toContain('bash pulumi/scripts/github-secrets.sh [--stack NAME]');
    expect(run.calls).toEqual([]);
  });
});
