import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parse } from 'yaml';

import type { RawConfig } from './config';
import { ConfigError, DEFAULTS, cidrProblem, loadConfig, parseConfig } from './config';
import { mockStack } from './testing/mocks';

const where = { project: 'reflex', stack: 'dev' };
const minimal: RawConfig = {
  'aws:region': 'eu-west-1',
  'reflex:sshAllowedCidrs': '["203.0.113.7/32"]',
  'reflex:githubRepository': 'octo-org/reflex',
};

/** The ConfigError thrown for `raw`, or a failure if none is thrown. */
function errorFor(raw: RawConfig): ConfigError {
  try {
    parseConfig(raw, where);
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
      instanceType: 't3.small',
      sshAllowedCidrs: ['203.0.113.7/32'],
      allowSshFromAnywhere: false,
      githubRepository: 'octo-org/reflex',
      imageRetention: 20,
      deployBranch: 'main',
      tlsPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      enableSsm: false,
      ecrForceDelete: false,
      tags: { project: 'reflex', environment: 'dev', 'managed-by': 'pulumi' },
    });
  });

  it('reads every optional key', () => {
    const config = parseConfig(
      {
        ...minimal,
        'reflex:instanceType': 't4g.medium',
        'reflex:sshAllowedCidrs': '["203.0.113.0/24","2001:db8::/32"]',
        'reflex:sshPublicKey': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ5 ops@example\n',
        'reflex:appDomain': 'App.Example.com.',
        'reflex:hostedZoneName': 'example.com',
        'reflex:githubOidcProviderArn':
          'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
        'reflex:imageRetention': '50',
        'reflex:deployBranch': 'release/prod',
        'reflex:tlsPolicy': 'ELBSecurityPolicy-TLS13-1-3-2021-06',
        'reflex:enableSsm': 'true',
        'reflex:ecrForceDelete': 'true',
      },
      { project: 'reflex', stack: 'prod' },
    );
    expect(config).toMatchObject({
      instanceType: 't4g.medium',
      sshAllowedCidrs: ['203.0.113.0/24', '2001:db8::/32'],
      sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ5 ops@example',
      domain: { appDomain: 'app.example.com', hostedZoneName: 'example.com' },
      githubOidcProviderArn:
        'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
      imageRetention: 50,
      deployBranch: 'release/prod',
      tlsPolicy: 'ELBSecurityPolicy-TLS13-1-3-2021-06',
      enableSsm: true,
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
        name in DEFAULTS ? DEFAULTS[name as keyof typeof DEFAULTS] : REQUIRED_OR_EMPTY[key];
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
        'a host address as CIDR',
        { 'reflex:sshAllowedCidrs': '["203.0.113.7/24"]' },
        'reflex:sshAllowedCidrs',
        'host bits',
      ],
      [
        'SSH from anywhere unasked',
        { 'reflex:sshAllowedCidrs': '["0.0.0.0/0"]' },
        'reflex:sshAllowedCidrs',
        'allowSshFromAnywhere',
      ],
      [
        'SSH sources not a list',
        { 'reflex:sshAllowedCidrs': '203.0.113.7/32' },
        'reflex:sshAllowedCidrs',
        'not a list',
      ],
      [
        'an empty SSH list',
        { 'reflex:sshAllowedCidrs': '[]' },
        'reflex:sshAllowedCidrs',
        'empty list',
      ],
      [
        'a repository without owner',
        { 'reflex:githubRepository': 'reflex' },
        'reflex:githubRepository',
        'owner/repo',
      ],
      [
        'a repository URL',
        { 'reflex:githubRepository': 'https://github.com/o/r' },
        'reflex:githubRepository',
        'owner/repo',
      ],
      [
        'a repository with a space',
        { 'reflex:githubRepository': 'octo org/reflex' },
        'reflex:githubRepository',
        'owner/repo',
      ],
      ['a region typo', { 'aws:region': 'eu-west' }, 'aws:region', 'AWS region'],
      [
        'an instance type typo',
        { 'reflex:instanceType': 't3small' },
        'reflex:instanceType',
        'instance type',
      ],
      [
        'a word as a boolean',
        { 'reflex:allowSshFromAnywhere': 'yes' },
        'reflex:allowSshFromAnywhere',
        'true or false',
      ],
      [
        'a zero retention',
        { 'reflex:imageRetention': '0' },
        'reflex:imageRetention',
        'whole number',
      ],
      [
        'a fractional retention',
        { 'reflex:imageRetention': '2.5' },
        'reflex:imageRetention',
        'whole number',
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
        'an ARN of another provider',
        { 'reflex:githubOidcProviderArn': 'arn:aws:iam::1:x' },
        'reflex:githubOidcProviderArn',
        'ARN',
      ],
      [
        'a domain without its zone',
        { 'reflex:appDomain': 'app.example.com' },
        'reflex:hostedZoneName',
        'required when',
      ],
      [
        'a zone without its domain',
        { 'reflex:hostedZoneName': 'example.com' },
        'reflex:appDomain',
        'required when',
      ],
      [
        'a domain outside its zone',
        { 'reflex:appDomain': 'app.example.org', 'reflex:hostedZoneName': 'example.com' },
        'reflex:appDomain',
        'not inside',
      ],
    ])('%s', (_label, override, key, detail) => {
      const error = errorFor({ ...minimal, ...override });
      expect(error.problems.map((p) => p.key)).toEqual([key]);
      expect(error.message).toContain(`${key}: `);
      expect(error.message).toContain(detail);
    });
  });

  it('names each missing required key, all at once', () => {
    const error = errorFor({});
    expect(error.problems.map((p) => p.key)).toEqual([
      'aws:region',
      'reflex:sshAllowedCidrs',
      'reflex:githubRepository',
    ]);
    expect(error.message).toMatch(/reflex:sshAllowedCidrs: is required/);
  });

  it('opens SSH to the internet only with allowSshFromAnywhere', () => {
    const raw = { ...minimal, 'reflex:sshAllowedCidrs': '["0.0.0.0/0","::/0"]' };
    expect(() => parseConfig(raw, where)).toThrow(/reflex:sshAllowedCidrs/);
    expect(
      parseConfig({ ...raw, 'reflex:allowSshFromAnywhere': 'true' }, where).sshAllowedCidrs,
    ).toEqual(['0.0.0.0/0', '::/0']);
  });

  it.each([
    ['203.0.113.7/32', undefined],
    ['10.0.0.0/8', undefined],
    ['0.0.0.0/0', undefined],
    ['2001:db8::/32', undefined],
    ['2001:db8::1/128', undefined],
    ['::ffff:192.0.2.0/120', undefined],
    ['10.0.0.1', 'is not a CIDR such as 203.0.113.7/32'],
    ['10.0.0.0/33', 'has a prefix longer than /32'],
    ['2001:db8::/129', 'has a prefix longer than /128'],
    ['10.0.0.256/32', 'is not a CIDR such as 203.0.113.7/32'],
    ['10.1.0.0/8', 'has host bits set; use the network address of the block'],
    ['2001:db8::1/64', 'has host bits set; use the network address of the block'],
    ['my-laptop/32', 'is not a CIDR such as 203.0.113.7/32'],
  ])('cidrProblem(%s) -> %s', (cidr, problem) => {
    expect(cidrProblem(cidr)).toBe(problem);
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
      sshAllowedCidrs: ['198.51.100.0/24'],
      imageRetention: 30,
      tags: { project: 'reflex', environment: 'prod', 'managed-by': 'pulumi' },
    });
  });
});

/** Pulumi.yaml's default of the keys without one in DEFAULTS: none when required, else ''. */
const REQUIRED_OR_EMPTY: Record<string, unknown> = {
  'aws:region': 'us-east-1',
  'reflex:sshAllowedCidrs': undefined,
  'reflex:githubRepository': undefined,
  'reflex:sshPublicKey': '',
  'reflex:appDomain': '',
  'reflex:hostedZoneName': '',
  'reflex:githubOidcProviderArn': '',
};

/** Every key RawConfig has, so the Pulumi.yaml check notices a key added on one side only. */
function allKeys(): Required<RawConfig> {
  return {
    'aws:region': '',
    'reflex:instanceType': '',
    'reflex:sshAllowedCidrs': '',
    'reflex:allowSshFromAnywhere': '',
    'reflex:sshPublicKey': '',
    'reflex:appDomain': '',
    'reflex:hostedZoneName': '',
    'reflex:githubRepository': '',
    'reflex:githubOidcProviderArn': '',
    'reflex:imageRetention': '',
    'reflex:deployBranch': '',
    'reflex:tlsPolicy': '',
    'reflex:enableSsm': '',
    'reflex:ecrForceDelete': '',
  };
}
