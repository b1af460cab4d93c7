import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import * as pulumi from '@pulumi/pulumi';

import type { HostArgs } from './host';
import {
  CANONICAL_ACCOUNT,
  Host,
  architectureOf,
  cidrSlug,
  creditSpecificationFor,
  sshRulesFor,
  ubuntuAmiNamePattern,
} from './host';
import type { MockedStack } from './testing/mocks';
import { REQUIRED_HOST_FILES } from './userData';
import { AMI_ID, HOST_PUBLIC_IP, isSecret, mockStack, resolve, settle } from './testing/mocks';

const tags = { project: 'reflex', environment: 'dev', 'managed-by': 'pulumi' };
const REPOSITORY_ARN = 'arn:aws:ecr:eu-west-1:123456789012:repository/reflex-dev';
const REPOSITORY_URL = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/reflex-dev';
const INGRESS = 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

describe('host (Pulumi mocks: nothing reaches AWS)', () => {
  let repo: string;
  beforeAll(() => {
    repo = mkdtempSync(path.join(tmpdir(), 'reflex-host-'));
    mkdirSync(path.join(repo, 'deploy-scripts'));
    mkdirSync(path.join(repo, 'pulumi'));
    for (const file of REQUIRED_HOST_FILES) {
      writeFileSync(path.join(repo, file), `# fixture ${file}\n`);
    }
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  async function build(
    overrides: Partial<HostArgs> = {},
  ): Promise<{ stack: MockedStack; host: Host }> {
    const stack = await mockStack('dev');
    const host = new Host('host', {
      vpcId: 'vpc-1',
      subnetId: 'subnet-1',
      instanceType: 't3.small',
      sshAllowedCidrs: ['203.0.113.7/32', '2001:db8::/48'],
      allowSshFromAnywhere: false,
      repositoryUrl: REPOSITORY_URL,
      repositoryArn: REPOSITORY_ARN,
      enableSsm: false,
      repoRoot: repo,
      deployBranch: 'main',
      githubRepository: 'octo-org/reflex',
      region: 'eu-west-1',
      environment: 'dev',
      tags,
      ...overrides,
    });
    await settle();
    return { stack, host };
  }

  function sshRules(stack: MockedStack) {
    return stack
      .ofType(INGRESS)
      .map((rule) => rule.inputs)
      .map(({ fromPort, toPort, ipProtocol, cidrIpv4, cidrIpv6, securityGroupId }) => ({
        securityGroupId,
        ipProtocol,
        fromPort,
        toPort,
        cidr: cidrIpv4 ?? cidrIpv6,
      }));
  }

  it('lets SSH in from the configured CIDRs only, one rule each', async () => {
    const { stack } = await build();
    expect(stack.ofType(INGRESS).map((r) => r.name)).toEqual([
      'host-ssh-203-0-113-7-32',
      'host-ssh-2001-db8-48',
    ]);
    expect(sshRules(stack)).toEqual([
      {
        securityGroupId: 'host-sg-id',
        ipProtocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        cidr: '203.0.113.7/32',
      },
      {
        securityGroupId: 'host-sg-id',
        ipProtocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        cidr: '2001:db8::/48',
      },
    ]);
    const group = stack.one('aws:ec2/securityGroup:SecurityGroup').inputs;
    expect(group).toEqual({
      vpcId: 'vpc-1',
      description: 'Reflex host: SSH from the allowed CIDRs, HTTP from the ALB only',
      tags,
    });
    expect(
      stack.one('aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule').inputs,
    ).toMatchObject({
      securityGroupId: 'host-sg-id',
      ipProtocol: '-1',
      cidrIpv4: '0.0.0.0/0',
    });
  });

  it('opens SSH to 0.0.0.0/0 and ::/0 only when allowSshFromAnywhere is set', async () => {
    const { stack } = await build({ allowSshFromAnywhere: true });
    expect(sshRules(stack).map((r) => [r.fromPort, r.toPort, r.cidr])).toEqual([
      [22, 22, '203.0.113.7/32'],
      [22, 22, '2001:db8::/48'],
      [22, 22, '0.0.0.0/0'],
      [22, 22, '::/0'],
    ]);
  });

  it('runs the looked-up Ubuntu AMI with IMDSv2 required and an encrypted gp3 root volume', async () => {
    const { stack } = await build();
    const instance = stack.one('aws:ec2/instance:Instance').inputs;
    expect(instance).toMatchObject({
      ami: AMI_ID,
      instanceType: 't3.small',
      creditSpecification: { cpuCredits: 'standard' },
      iamInstanceProfile: 'host-profile-5d6e7f8',
      keyName: 'host-key-9a8b7c6',
      primaryNetworkInterface: { networkInterfaceId: 'host-eni-id' },
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpTokens: 'required',
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: 'disabled',
      },
      rootBlockDevice: {
        volumeType: 'gp3',
        volumeSize: 20,
        encrypted: true,
        deleteOnTermination: true,
        tags,
      },
      tags,
    });
    expect(instance.userData).toBeUndefined();
    const lookup = stack.calls.find((c) => c.token === 'aws:ec2/getAmi:getAmi');
    expect(lookup?.inputs).toEqual({
      mostRecent: true,
      owners: [CANONICAL_ACCOUNT],
      filters: [
        { name: 'name', values: ['ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*'] },
        { name: 'virtualization-type', values: ['hvm'] },
      ],
    });
  });

  it('keeps its address on an Elastic IP bound to its network interface before it boots', async () => {
    const { stack, host } = await build();
    expect(stack.one('aws:ec2/networkInterface:NetworkInterface').inputs).toEqual({
      subnetId: 'subnet-1',
      securityGroups: ['host-sg-id'],
      description: 'Reflex host',
      tags,
    });
    expect(stack.one('aws:ec2/eip:Eip').inputs).toEqual({
      domain: 'vpc',
      networkInterface: 'host-eni-id',
      tags,
    });
    expect(await resolve(host.publicIp)).toBe(HOST_PUBLIC_IP);
  });

  it('has a role that may pull from its repository and nothing else', async () => {
    const { stack } = await build();
    const role = stack.one('aws:iam/role:Role').inputs;
    expect(JSON.parse(role.assumeRolePolicy as string)).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    const policy = stack.one('aws:iam/rolePolicy:RolePolicy').inputs;
    expect(policy.role).toBe('host-role-id');
    const statements = (JSON.parse(policy.policy as string) as { Statement: Statement[] })
      .Statement;
    expect(
      statements.map(({ Effect, Action, Resource }) => ({ Effect, Action, Resource })),
    ).toEqual([
      { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:BatchGetImage',
          'ecr:GetDownloadUrlForLayer',
        ],
        Resource: REPOSITORY_ARN,
      },
    ]);
    expect(stack.ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment')).toEqual([]);
    expect(stack.one('aws:iam/instanceProfile:InstanceProfile').inputs).toEqual({
      role: 'host-role-1a2b3c4',
      tags,
    });
  });

  it('adds Session Manager access only when enableSsm is set', async () => {
    const { stack } = await build({ enableSsm: true });
    expect(stack.one('aws:iam/rolePolicyAttachment:RolePolicyAttachment').inputs).toEqual({
      role: 'host-role-1a2b3c4',
      policyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
  });

  it('generates the deploy key pair when none is configured, and keeps the private key secret', async () => {
    const { stack, host } = await build();
    const keys = stack.ofType('tls:index/privateKey:PrivateKey');
    expect(keys.map((k) => [k.name, k.inputs])).toEqual([
      ['host-deploy-key', { algorithm: 'ED25519' }],
      ['host-host-key', { algorithm: 'ED25519' }],
    ]);
    expect(host.sshPrivateKey).toBeDefined();
    expect(await isSecret(host.sshPrivateKey!)).toBe(true);
    expect(await resolve(host.sshPrivateKey!)).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const keyPair = stack.one('aws:ec2/keyPair:KeyPair').inputs;
    expect(keyPair.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
  });

  it('uses a configured public key as is, and then exports no private key', async () => {
    const publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperator ops@example';
    const { stack, host } = await build({ sshPublicKey: publicKey });
    expect(stack.ofType('tls:index/privateKey:PrivateKey').map((k) => k.name)).toEqual([
      'host-host-key',
    ]);
    expect(host.sshPrivateKey).toBeUndefined();
    expect(stack.one('aws:ec2/keyPair:KeyPair').inputs).toEqual({ publicKey, tags });
    const cloudConfig = userDataOf(stack);
    expect(cloudConfig.users[0]!.ssh_authorized_keys).toEqual([publicKey]);
  });

  it('publishes a known_hosts line for its address and the host key given to cloud-init', async () => {
    const { stack, host } = await build();
    const knownHosts = await resolve(host.sshKnownHosts);
    const cloudConfig = userDataOf(stack);
    expect(knownHosts).toBe(`${HOST_PUBLIC_IP} ${cloudConfig.ssh_keys.ed25519_public}`);
    expect(knownHosts).toMatch(/^198\.51\.100\.23 ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    expect(await resolve(host.sshUser)).toBe('deploy');
  });

  it('boots from user data rendered from the repository, with the stack values in deploy.env', async () => {
    const { stack } = await build({ deployBranch: 'release' });
    const cloudConfig = userDataOf(stack);
    const paths = cloudConfig.write_files.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/opt/reflex/deploy-scripts/install-bundle.sh',
        '/opt/reflex/bootstrap.sh',
        '/etc/reflex/deploy.env',
      ]),
    );
    const deployEnv = cloudConfig.write_files.find((f) => f.path === '/etc/reflex/deploy.env')!;
    expect(deployEnv.content).toContain(`\nREFLEX_IMAGE_REPOSITORY=${REPOSITORY_URL}\n`);
    expect(deployEnv.content).toContain('\nREFLEX_DEPLOY_BRANCH=release\n');
    const dockerConfig = cloudConfig.write_files.find(
      (f) => f.path === '/etc/reflex/docker-config.json',
    )!;
    expect(JSON.parse(dockerConfig.content)).toEqual({
      credHelpers: { '123456789012.dkr.ecr.eu-west-1.amazonaws.com': 'ecr-login' },
    });
  });

  it.each([
    ['t3.small', 'amd64', { cpuCredits: 'standard' }],
    ['t3a.medium', 'amd64', { cpuCredits: 'standard' }],
    ['t4g.small', 'arm64', { cpuCredits: 'standard' }],
    ['m7g.large', 'arm64', undefined],
    ['m7i.large', 'amd64', undefined],
    ['c6gn.xlarge', 'arm64', undefined],
  ])('%s runs %s with credits %j', (type, arch, credits) => {
    expect(architectureOf(type)).toBe(arch);
    expect(ubuntuAmiNamePattern(type)).toBe(
      `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${arch}-server-*`,
    );
    expect(creditSpecificationFor(type)).toEqual(credits);
  });

  it.each([
    ['203.0.113.7/32', '203-0-113-7-32'],
    ['2001:DB8::/48', '2001-db8-48'],
    ['::/0', '-0'],
  ])('names the SSH rule of %s after it: %s', (cidr, slug) => {
    expect(cidrSlug(cidr)).toBe(slug);
  });

  it('adds the internet to the SSH sources only on request, without duplicates', () => {
    expect(sshRulesFor(['10.0.0.0/8', '10.0.0.0/8'], false)).toEqual(['10.0.0.0/8']);
    expect(sshRulesFor(['0.0.0.0/0'], true)).toEqual(['0.0.0.0/0', '::/0']);
  });

  it('warns at `pulumi up` when the repository lacks a file the first boot needs', async () => {
    rmSync(path.join(repo, 'deploy-scripts/install-bundle.sh'));
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      await build();
      const warnings = warn.mock.calls.map((call) => String(call[0]));
      expect(warnings).toEqual([
        expect.stringContaining(
          "the host's first boot needs deploy-scripts/install-bundle.sh, missing under",
        ),
      ]);
    } finally {
      warn.mockRestore();
      writeFileSync(path.join(repo, 'deploy-scripts/install-bundle.sh'), '# fixture\n');
    }
  });

  it('is a component that registers its outputs', async () => {
    const { host } = await build();
    expect(host).toBeInstanceOf(pulumi.ComponentResource);
    expect(await resolve(host.instanceId)).toBe('host-instance-id');
    expect(await resolve(host.securityGroupId)).toBe('host-sg-id');
  });
});

interface CloudConfig {
  users: { ssh_authorized_keys: string[] }[];
  ssh_keys: { ed25519_public: string };
  write_files: { path: string; content: string }[];
}

/** The instance's user data: base64 of gzip of `#cloud-config` + JSON. */
function userDataOf(stack: MockedStack): CloudConfig {
  const encoded = stack.one('aws:ec2/instance:Instance').inputs.userDataBase64 as string;
  const text = gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8');
  expect(text.startsWith('#cloud-config\n')).toBe(true);
  return JSON.parse(text.slice('#cloud-config\n'.length)) as CloudConfig;
}
