import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parse } from 'yaml';

import { ConfigError, loadConfig, parseConfig } from './config';
import type { RawConfig } from './configSchema';
import { DEFAULTS, RETIRED_KEYS } from './configSchema';
import { mockStack } from './testing/mocks';

const where = { project: 'reflex', stack: 'dev' };
const minimal: RawConfig = {
  'aws:region': 'eu-west-1',
  'reflex:githubRepository': 'octo-org/reflex',
};

/** The ConfigError thrown for `raw`, or a failure if none is thrown. */
function errorFor(raw: RawConfig, retired: string[] = []): ConfigError {
  try {
    parseConfig(raw, where, retired);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('stack configuration', () => {
  it('applies the documented defaults when only the required keys are set', () => {
    expect(parseConfig(minimal, where)).toEqual({
      project: 'reflex',
      stack: 'dev',
      region: 'eu-west-1',
      runtime: 'host',
      host: {
        instanceType: 't3.small',
        amiName: 'debian-13-amd64-20251117-2299',
        sshAllowedCidrs: [],
        dataVolumeGiB: 10,
        dataSnapshotRetention: 7,
        enableSsm: false,
      },
      ecs: {
        desiredCount: 2,
        maxCount: 4,
        cpu: 512,
        memory: 1024,
        requestsPerTask: 1000,
        logRetentionDays: 30,
        operatorSecrets: [],
      },
      githubRepository: 'octo-org/reflex',
      imageRetention: 20,
      imagePullAccounts: [],
      deployBranch: 'main',
      tlsPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      ecrForceDelete: false,
      previews: false,
      tags: { project: 'reflex', environment: 'dev', 'managed-by': 'pulumi' },
    });
  });

  it('reads every optional key', () => {
    const config = parseConfig(
      {
        ...minimal,
        'reflex:runtime': 'ecs',
        'reflex:instanceType': 't4g.medium',
        'reflex:hostAmi': 'debian-13-arm64-20251117-2299',
        'reflex:sshAllowedCidrs': '["203.0.113.0/24","2001:db8::/32"]',
        'reflex:sshPublicKey': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ5 ops@example\n',
        'reflex:dataVolumeGiB': '40',
        'reflex:dataSnapshotRetention': '14',
        'reflex:appDomain': 'App.Example.com.',
        'reflex:hostedZoneName': 'example.com',
        'reflex:imageRetention': '50',
        'reflex:promoteFrom': 'reflex-dev',
        'reflex:imagePullAccounts': '["210987654321"]',
        'reflex:deployBranch': 'release/prod',
        'reflex:tlsPolicy': 'ELBSecurityPolicy-TLS13-1-3-2021-06',
        'reflex:enableSsm': 'true',
        'reflex:ecrForceDelete': 'true',
        'reflex:ecsDesiredCount': '3',
        'reflex:ecsMaxCount': '6',
        'reflex:ecsCpu': '1024',
        'reflex:ecsMemory': '3072',
        'reflex:ecsRequestsPerTask': '500',
        'reflex:ecsLogRetentionDays': '90',
        'reflex:ecsSecrets': '["REFLEX_GIT_TOKEN","REFLEX_GITHUB_TOKEN"]',
      },
      { project: 'reflex', stack: 'prod' },
    );
    expect(config).toMatchObject({
      runtime: 'ecs',
      host: {
        instanceType: 't4g.medium',
        amiName: 'debian-13-arm64-20251117-2299',
        sshAllowedCidrs: ['203.0.113.0/24', '2001:db8::/32'],
        sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ5 ops@example',
        dataVolumeGiB: 40,
        dataSnapshotRetention: 14,
        enableSsm: true,
      },
      ecs: {
        desiredCount: 3,
        maxCount: 6,
        cpu: 1024,
        memory: 3072,
        requestsPerTask: 500,
        logRetentionDays: 90,
        operatorSecrets: ['REFLEX_GIT_TOKEN', 'REFLEX_GITHUB_TOKEN'],
      },
      domain: { appDomain: 'app.example.com', hostedZoneName: 'example.com' },
      imageRetention: 50,
      promoteFrom: { name: 'reflex-dev' },
      imagePullAccounts: ['210987654321'],
      deployBranch: 'release/prod',
      tlsPolicy: 'ELBSecurityPolicy-TLS13-1-3-2021-06',
      ecrForceDelete: true,
      tags: { project: 'reflex', environment: 'prod', 'managed-by': 'pulumi' },
    });
  });

  it('Pulumi.yaml documents every key it reads, with a description and the same default', () => {
    type Entry = { type?: string; description?: string; default?: unknown };
    const project = parse(readFileSync(path.join(__dirname, '..', 'Pulumi.yaml'), 'utf8')) as {
      config: Record<string, Entry>;
      template: { config: Record<string, Entry> };
    };
    // Project keys are declared under `config`; provider keys (aws:region) only under `template`.
    const documented: Record<string, Entry> = {
      ...Object.fromEntries(Object.entries(project.config).map(([k, v]) => [`reflex:${k}`, v])),
      ...project.template.config,
    };
    expect(Object.keys(documented).sort()).toEqual(Object.keys(allKeys()).sort());
    for (const [key, entry] of Object.entries(documented)) {
      expect({ key, description: typeof entry.description }).toEqual({
        key,
        description: 'string',
      });
      const name = key.replace(/^reflex:/, '');
      const expected =
        name in DEFAULTS ? DEFAULTS[name as keyof typeof DEFAULTS] : WITHOUT_DEFAULT[key];
      expect({ key, default: entry.default }).toEqual({ key, default: expected });
    }
  });

  describe('an invalid value stops the program with an error naming the key', () => {
    it.each<[string, RawConfig, string, string]>([
      [
        'a non-CIDR SSH source',
        { 'reflex:sshAllowedCidrs': '["10.0.0.1"]' },
        'reflex:sshAllowedCidrs',
        '"10.0.0.1" is not a CIDR',
      ],
      [
        'SSH from the whole internet',
        { 'reflex:sshAllowedCidrs': '["0.0.0.0/0"]' },
        'reflex:sshAllowedCidrs',
        'EC2 Instance Connect Endpoint',
      ],
      [
        'SSH sources not a list',
        { 'reflex:sshAllowedCidrs': '203.0.113.7/32' },
        'reflex:sshAllowedCidrs',
        'not a list',
      ],
      [
        'a repository URL',
        { 'reflex:githubRepository': 'https://github.com/o/r' },
        'reflex:githubRepository',
        'owner/repo',
      ],
      ['a region typo', { 'aws:region': 'eu-west' }, 'aws:region', 'AWS region'],
      ['an unknown runtime', { 'reflex:runtime': 'k8s' }, 'reflex:runtime', 'one of host, ecs'],
      [
        'an instance type typo',
        { 'reflex:instanceType': 't3small' },
        'reflex:instanceType',
        'instance type',
      ],
      [
        'a Graviton type with the default (amd64) image',
        { 'reflex:instanceType': 't4g.small' },
        'reflex:hostAmi',
        'set it to debian-13-arm64-20251117-2299',
      ],
      [
        'an AMI id instead of a Debian AMI name',
        { 'reflex:hostAmi': 'ami-0123456789abcdef0' },
        'reflex:hostAmi',
        'official Debian 13 AMI',
      ],
      ['a word as a boolean', { 'reflex:enableSsm': 'yes' }, 'reflex:enableSsm', 'true or false'],
      [
        'a zero retention',
        { 'reflex:imageRetention': '0' },
        'reflex:imageRetention',
        'whole number',
      ],
      [
        'no daily snapshot kept',
        { 'reflex:dataSnapshotRetention': '0' },
        'reflex:dataSnapshotRetention',
        'whole number from 1',
      ],
      ['a branch with ..', { 'reflex:deployBranch': 'a..b' }, 'reflex:deployBranch', 'branch name'],
      [
        'a TLS policy of another kind',
        { 'reflex:tlsPolicy': 'TLSv1.3' },
        'reflex:tlsPolicy',
        'ELBSecurityPolicy',
      ],
      [
        'a private key instead of a public one',
        { 'reflex:sshPublicKey': '-----BEGIN' },
        'reflex:sshPublicKey',
        'OpenSSH',
      ],
      [
        'a domain without its zone',
        { 'reflex:appDomain': 'app.example.com' },
        'reflex:hostedZoneName',
        'required when',
      ],
      [
        'a domain outside its zone',
        { 'reflex:appDomain': 'app.example.org', 'reflex:hostedZoneName': 'example.com' },
        'reflex:appDomain',
        'not inside',
      ],
      [
        'a promotion source given by URL',
        { 'reflex:promoteFrom': '1.dkr.ecr.us-east-1.amazonaws.com/reflex-dev' },
        'reflex:promoteFrom',
        'ECR repository name',
      ],
      [
        'an account id that is not one',
        { 'reflex:imagePullAccounts': '["1234"]' },
        'reflex:imagePullAccounts',
        '12-digit',
      ],
      [
        'one ECS task, which no zone failure would survive',
        { 'reflex:ecsDesiredCount': '1' },
        'reflex:ecsDesiredCount',
        'from 2',
      ],
      [
        'an ECS maximum below the desired count',
        { 'reflex:ecsDesiredCount': '3', 'reflex:ecsMaxCount': '2' },
        'reflex:ecsMaxCount',
        'from 3',
      ],
      [
        'more ECS tasks than one DNS answer holds for Prometheus',
        { 'reflex:ecsMaxCount': '9' },
        'reflex:ecsMaxCount',
        'more than 8: Prometheus finds tasks in one DNS answer',
      ],
      [
        'a Fargate CPU size that does not exist',
        { 'reflex:ecsCpu': '300' },
        'reflex:ecsCpu',
        'one of',
      ],
      [
        'a Fargate memory size that does not fit the CPU',
        { 'reflex:ecsMemory': '8192' },
        'reflex:ecsMemory',
        'with 512 CPU units',
      ],
      [
        'a log retention CloudWatch does not offer',
        { 'reflex:ecsLogRetentionDays': '10' },
        'reflex:ecsLogRetentionDays',
        'one of',
      ],
      [
        'a secret key the platform does not read',
        { 'reflex:ecsSecrets': '["AWS_SECRET_ACCESS_KEY"]' },
        'reflex:ecsSecrets',
        'one of REFLEX_GIT_TOKEN',
      ],
    ])('%s', (_label, override, key, detail) => {
      const error = errorFor({ ...minimal, ...override });
      expect(error.problems.map((p) => p.key)).toEqual([key]);
      expect(error.message).toContain(`${key}: `);
      expect(error.message).toContain(detail);
    });
  });

  it.each(Object.keys(RETIRED_KEYS))(
    'a stack still setting %s is told what to do instead',
    (key) => {
      const error = errorFor(minimal, [key]);
      expect(error.problems).toEqual([
        { key, message: RETIRED_KEYS[key as keyof typeof RETIRED_KEYS] },
      ]);
      expect(error.message).toContain(`pulumi config rm ${key.replace('reflex:', '')}`);
    },
  );

  it('names each missing required key, all at once', () => {
    const error = errorFor({});
    expect(error.problems.map((p) => p.key)).toEqual(['aws:region', 'reflex:githubRepository']);
  });

  it('loadConfig reads the running stack: its name is the environment tag', async () => {
    await mockStack('prod', {
      'aws:region': 'us-east-2',
      'reflex:sshAllowedCidrs': '["198.51.100.0/24"]',
      'reflex:githubRepository': 'octo-org/reflex',
      'reflex:imageRetention': '30',
    });
    expect(loadConfig()).toMatchObject({
      stack: 'prod',
      region: 'us-east-2',
      host: { sshAllowedCidrs: ['198.51.100.0/24'] },
      imageRetention: 30,
      tags: { project: 'reflex', environment: 'prod', 'managed-by': 'pulumi' },
    });
  });

  it('loadConfig refuses a stack that still sets a retired key', async () => {
    await mockStack('dev', {
      'aws:region': 'us-east-2',
      'reflex:githubRepository': 'octo-org/reflex',
      'reflex:allowSshFromAnywhere': 'true',
    });
    expect(() => loadConfig()).toThrow(/reflex:allowSshFromAnywhere: was removed/);
  });
});

/** Pulumi.yaml's default of the keys without one in DEFAULTS: none when required, else ''. */
const WITHOUT_DEFAULT: Record<string, unknown> = {
  'aws:region': 'us-east-1',
  'reflex:githubRepository': undefined,
  'reflex:sshAllowedCidrs': [],
  'reflex:sshPublicKey': '',
  'reflex:appDomain': '',
  'reflex:hostedZoneName': '',
  'reflex:promoteFrom': '',
  'reflex:imagePullAccounts': [],
  'reflex:ecsSecrets': [],
};

/** Every key RawConfig has, so the Pulumi.yaml check notices a key added on one side only. */
function allKeys(): Required<RawConfig> {
  return {
    'aws:region': '',
    'reflex:runtime': '',
    'reflex:instanceType': '',
    'reflex:hostAmi': '',
    'reflex:sshAllowedCidrs': '',
    'reflex:sshPublicKey': '',
    'reflex:dataVolumeGiB': '',
    'reflex:dataSnapshotRetention': '',
    'reflex:appDomain': '',
    'reflex:hostedZoneName': '',
    'reflex:githubRepository': '',
    'reflex:imageRetention': '',
    'reflex:promoteFrom': '',
    'reflex:imagePullAccounts': '',
    'reflex:deployBranch': '',
    'reflex:tlsPolicy': '',
    'reflex:enableSsm': '',
    'reflex:ecrForceDelete': '',
    'reflex:previews': '',
    'reflex:ecsDesiredCount': '',
    'reflex:ecsMaxCount': '',
    'reflex:ecsCpu': '',
    'reflex:ecsMemory': '',
    'reflex:ecsRequestsPerTask': '',
    'reflex:ecsLogRetentionDays': '',
    'reflex:ecsSecrets': '',
  };
}
