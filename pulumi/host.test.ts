import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import * as pulumi from '@pulumi/pulumi';

import { DEBIAN_ACCOUNT } from './configRules';
import type { HostArgs } from './host';
import { Host, cidrSlug, creditSpecificationFor } from './host';
import type { MockedStack, RecordedResource } from './testing/mocks';
import {
  AMI_ID,
  HOST_PRIVATE_IP,
  HOST_PUBLIC_IP,
  isSecret,
  mockStack,
  resolve,
  settle,
} from './testing/mocks';
import { REQUIRED_HOST_FILES } from './userData';
import { tags, INGRESS } from './testing/fixtures';

const REPOSITORY_ARN = 'arn:aws:ecr:eu-west-1:123456789012:repository/reflex-dev';
const REPOSITORY_URL = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/reflex-dev';
const INSTANCE = 'aws:ec2/instance:Instance';
const AMI = 'debian-13-amd64-20251117-2299';

interface CloudConfig {
  users: { name: string; ssh_authorized_keys: string[] }[];
  ssh_keys?: unknown;
  ssh_genkeytypes: string[];
  ssh_deletekeys: boolean;
  write_files: { path: string; content: string }[];
  runcmd: string[][];
}

/** The instance's user data as EC2 gets it, and as cloud-init reads it. */
function userDataOf(stack: MockedStack): { raw: string; config: CloudConfig } {
  const encoded = stack.one(INSTANCE).inputs.userDataBase64 as string;
  const raw = gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8');
  expect(raw.startsWith('#cloud-config\n')).toBe(true);
  return { raw, config: JSON.parse(raw.slice('#cloud-config\n'.length)) as CloudConfig };
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
      availabilityZone: 'eu-west-1b',
      instanceType: 't3.small',
      amiName: AMI,
      sshAllowedCidrs: [],
      repositoryUrl: REPOSITORY_URL,
      repositoryArn: REPOSITORY_ARN,
      enableSsm: false,
      repoRoot: repo,
      deployBranch: 'main',
      githubRepository: 'octo-org/reflex',
      region: 'eu-west-1',
      environment: 'dev',
      stackName: 'reflex-dev',
      urls: {
        publicUrl: 'https://reflex.example.com',
        editorUrl: 'https://editor.reflex.example.com',
      },
      edge: { targetGroupArn: 'arn:tg-host', securityGroupId: 'sg-alb' },
      dataVolumeGiB: 10,
      dataSnapshotRetention: 7,
      tags,
      ...overrides,
    });
    await settle();
    return { stack, host };
  }

  /** Every ingress rule on the host's group, as `port from source`. */
  const hostIngress = (stack: MockedStack) =>
    stack
      .ofType(INGRESS)
      .filter((r) => r.inputs.securityGroupId === 'host-sg-id')
      .map(
        (r) =>
          `${String(r.inputs.fromPort)}-${String(r.inputs.toPort)} from ${String(
            r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6 ?? r.inputs.referencedSecurityGroupId,
          )}`,
      );

  it('lets SSH in from the Instance Connect Endpoint only, and HTTP from the ALB only', async () => {
    const { stack } = await build();
    expect(hostIngress(stack).sort()).toEqual(['22-22 from host-eic-sg-id', '80-80 from sg-alb']);
    expect(
      stack.one('aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint').inputs
        .subnetId,
    ).toBe('subnet-1');
  });

  it('adds one SSH rule per CIDR people are given', async () => {
    const { stack } = await build({ sshAllowedCidrs: ['203.0.113.7/32', '2001:db8::/48'] });
    expect(hostIngress(stack).sort()).toEqual([
      '22-22 from 2001:db8::/48',
      '22-22 from 203.0.113.7/32',
      '22-22 from host-eic-sg-id',
      '80-80 from sg-alb',
    ]);
    expect(stack.ofType(INGRESS).map((r) => r.name)).toEqual(
      expect.arrayContaining(['host-ssh-203-0-113-7-32', 'host-ssh-2001-db8-48']),
    );
  });

  it('runs the pinned official Debian 13 AMI of its architecture, IMDSv2 only, encrypted root', async () => {
    const { stack } = await build();
    expect(stack.one(INSTANCE).inputs).toMatchObject({
      ami: AMI_ID,
      instanceType: 't3.small',
      creditSpecification: { cpuCredits: 'standard' },
      primaryNetworkInterface: { networkInterfaceId: 'host-eni-id' },
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpTokens: 'required',
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: 'disabled',
      },
      rootBlockDevice: { volumeType: 'gp3', encrypted: true, deleteOnTermination: true, tags },
      tags,
    });
    expect(stack.calls.find((c) => c.token === 'aws:ec2/getAmi:getAmi')?.inputs).toEqual({
      mostRecent: true,
      owners: [DEBIAN_ACCOUNT],
      filters: [
        { name: 'name', values: [AMI] },
        { name: 'architecture', values: ['x86_64'] },
        { name: 'virtualization-type', values: ['hvm'] },
        { name: 'root-device-type', values: ['ebs'] },
      ],
    });
  });

  it('asks for an arm64 image on a Graviton type', async () => {
    const { stack } = await build({
      instanceType: 't4g.small',
      amiName: 'debian-13-arm64-20251117-2299',
    });
    const filters = stack.calls.find((c) => c.token === 'aws:ec2/getAmi:getAmi')?.inputs
      .filters as { name: string; values: string[] }[];
    expect(filters.find((f) => f.name === 'architecture')?.values).toEqual(['arm64']);
  });

  it('is replaced, never left stale, when its AMI or user data change', async () => {
    const { stack } = await build();
    const instance = stack.one(INSTANCE);
    expect(instance.inputs.userDataReplaceOnChange).toBe(true);
    expect(instance.options.ignoreChanges).toEqual([]);
    // The replacement takes over the network interface (and so the address) the old one holds.
    expect(instance.options.deleteBeforeReplace).toBe(true);
  });

  it('holds no private key in its user data: the host makes its own host key', async () => {
    const { stack } = await build();
    const { raw, config } = userDataOf(stack);
    expect(raw).not.toMatch(/PRIVATE KEY|ed25519_private|ssh_keys/);
    expect(config.ssh_keys).toBeUndefined();
    expect(config.ssh_deletekeys).toBe(true);
    expect(config.ssh_genkeytypes).toEqual(['ed25519']);
    expect(config.runcmd).toContainEqual([
      'bash',
      '/opt/reflex/host-key.sh',
      '/reflex-dev/ssh-host-key',
      'eu-west-1',
    ]);
  });

  it("mounts its own data volume, by that volume's id, before bootstrap runs", async () => {
    const { stack } = await build();
    const volumeId = stack.one('aws:ebs/volume:Volume').id;
    const { config } = userDataOf(stack);
    expect(config.runcmd[0]).toEqual([
      'bash',
      '/opt/reflex/data-volume.sh',
      `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace('-', '')}`,
      '/var/lib/reflex',
    ]);
    expect(config.runcmd[1]).toEqual(['bash', '/opt/reflex/bootstrap.sh']);
    expect(stack.one('aws:ec2/volumeAttachment:VolumeAttachment').inputs).toEqual({
      instanceId: 'host-instance-id',
      volumeId,
      deviceName: '/dev/sdf',
      stopInstanceBeforeDetaching: true,
    });
  });

  it('keeps its data volume across an instance replacement (two runs: a new AMI and new user data)', async () => {
    const first = await build();
    writeFileSync(path.join(repo, 'pulumi/bootstrap.sh'), '# a changed first boot\n');
    const second = await build({ amiName: 'debian-13-amd64-20260110-2400' });
    writeFileSync(path.join(repo, 'pulumi/bootstrap.sh'), '# fixture pulumi/bootstrap.sh\n');

    const [before, after] = [first.stack, second.stack].map((stack) => stack.one(INSTANCE));
    // The engine replaces the instance: its AMI lookup and its user data both changed.
    const amiNames = [first.stack, second.stack].map(
      (stack) =>
        (
          stack.calls.find((c) => c.token === 'aws:ec2/getAmi:getAmi')!.inputs.filters as {
            name: string;
            values: string[];
          }[]
        )[0]!.values[0],
    );
    expect(amiNames).toEqual([AMI, 'debian-13-amd64-20260110-2400']);
    expect(after!.inputs.userDataBase64).not.toEqual(before!.inputs.userDataBase64);

    // The volume is the same resource with the same inputs: no diff, nothing replaced.
    const volumes = [first.stack, second.stack].map((s) => s.one('aws:ebs/volume:Volume'));
    const pick = (v: RecordedResource) => ({
      urn: v.urn,
      inputs: v.inputs,
      protect: v.options.protect,
    });
    expect(pick(volumes[1]!)).toEqual(pick(volumes[0]!));
    expect(volumes[1]!.options.protect).toBe(true);
    // Nothing ties its life to the instance's.
    expect(volumes[1]!.options.dependencies.filter((d) => d.includes('Instance'))).toEqual([]);
    expect(volumes[1]!.urn).not.toContain('aws:ec2/instance:Instance');
  });

  it('keeps its address on an Elastic IP bound to a network interface that outlives it', async () => {
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
    expect(await resolve(host.privateIp)).toBe(HOST_PRIVATE_IP);
  });

  it('registers in the ALB target group on port 80', async () => {
    const { stack } = await build();
    expect(stack.one('aws:lb/targetGroupAttachment:TargetGroupAttachment').inputs).toEqual({
      targetGroupArn: 'arn:tg-host',
      targetId: 'host-instance-id',
      port: 80,
    });
  });

  it('gives the deploy workflow a tunnel to its own address and a read of its host key', async () => {
    const { host } = await build();
    const policies = Object.fromEntries(
      await Promise.all(
        Object.entries(host.deployPolicies).map(async ([name, policy]) => [
          name,
          JSON.parse(await resolve(policy)) as {
            Statement: { Action: unknown; Resource: unknown; Condition?: unknown }[];
          },
        ]),
      ),
    ) as Record<
      string,
      { Statement: { Action: unknown; Resource: unknown; Condition?: unknown }[] }
    >;
    expect(Object.keys(policies).sort()).toEqual(['open-tunnel', 'read-host-key']);
    expect(policies['open-tunnel']!.Statement[0]).toMatchObject({
      Action: 'ec2-instance-connect:OpenTunnel',
      Resource: expect.stringContaining('instance-connect-endpoint/eice-host-eic-endpoint'),
      Condition: expect.objectContaining({
        IpAddress: { 'ec2-instance-connect:privateIpAddress': `${HOST_PRIVATE_IP}/32` },
      }),
    });
    expect(policies['read-host-key']!.Statement).toEqual([
      expect.objectContaining({
        Action: ['ssm:GetParameter'],
        Resource: 'arn:aws:ssm:eu-west-1:123456789012:parameter/reflex-dev/ssh-host-key',
      }),
    ]);
    expect(await resolve(host.hostKeyParameter)).toBe('/reflex-dev/ssh-host-key');
  });

  it('generates the deploy key pair when none is configured, and keeps the private key secret', async () => {
    const { stack, host } = await build();
    expect(stack.ofType('tls:index/privateKey:PrivateKey').map((k) => k.inputs)).toEqual([
      { algorithm: 'ED25519' },
    ]);
    expect(host.sshPrivateKey).toBeDefined();
    expect(await isSecret(host.sshPrivateKey!)).toBe(true);
    expect(userDataOf(stack).config.users[0]!.ssh_authorized_keys[0]).toMatch(
      /^ssh-ed25519 [A-Za-z0-9+/]+=*$/,
    );
  });

  it('uses a configured public key as is, and then exports no private key', async () => {
    const publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperator ops@example';
    const { stack, host } = await build({ sshPublicKey: publicKey });
    expect(stack.ofType('tls:index/privateKey:PrivateKey')).toEqual([]);
    expect(host.sshPrivateKey).toBeUndefined();
    expect(userDataOf(stack).config.users).toEqual([
      expect.objectContaining({ name: 'deploy', ssh_authorized_keys: [publicKey] }),
    ]);
  });

  it("writes the site's and the editor's URLs into the platform's app.env", async () => {
    const { stack } = await build();
    const appEnv = userDataOf(stack).config.write_files.find(
      (f) => f.path === '/etc/reflex/app.env',
    )!;
    expect(appEnv.content).toContain('\nREFLEX_PUBLIC_URL=https://reflex.example.com\n');
    expect(appEnv.content).toContain('\nREFLEX_EDITOR_URL=https://editor.reflex.example.com\n');
  });

  it.each([
    ['t3.small', { cpuCredits: 'standard' }],
    ['t4g.small', { cpuCredits: 'standard' }],
    ['m7g.large', undefined],
  ])('%s runs with credits %j', (type, credits) => {
    expect(creditSpecificationFor(type)).toEqual(credits);
  });

  it.each([
    ['203.0.113.7/32', '203-0-113-7-32'],
    ['2001:DB8::/48', '2001-db8-48'],
  ])('names the SSH rule of %s after it: %s', (cidr, slug) => {
    expect(cidrSlug(cidr)).toBe(slug);
  });

  it('warns at `pulumi up` when the repository lacks a file the first boot needs', async () => {
    rmSync(path.join(repo, 'deploy-scripts/install-bundle.sh'));
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      await build();
      expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([
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
    expect(await resolve(host.instanceConnectEndpointId)).toBe('host-eic-endpoint-id');
  });
});
