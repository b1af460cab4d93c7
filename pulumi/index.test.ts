// The whole program, per stack, under Pulumi mocks (nothing reaches AWS): the committed
// Pulumi.<stack>.yaml plus the values docs/AWS.md tells a user to set.
import { gunzipSync } from 'node:zlib';

import type * as Mocks from './testing/mocks';
import type { Run } from './testing/program';
import { resolved, runProgram, stackConfig } from './testing/program';
import { INGRESS } from './testing/fixtures';

const ANYWHERE = ['0.0.0.0/0', '::/0'];

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
const statementsOf = (json: unknown) =>
  (JSON.parse(json as string) as { Statement: Statement[] }).Statement;
const asList = (value: string | string[] | undefined) =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Every ingress rule that admits port 22 from the whole internet, as `group:from-to`. */
function sshFromTheInternet(stack: Mocks.MockedStack): string[] {
  return stack
    .ofType(INGRESS)
    .filter((r) => ANYWHERE.includes(String(r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6)))
    .filter(
      (r) =>
        r.inputs.ipProtocol === '-1' ||
        (Number(r.inputs.fromPort) <= 22 && Number(r.inputs.toPort) >= 22),
    )
    .map((r) => `${String(r.inputs.securityGroupId)}:${String(r.inputs.fromPort)}`);
}

/** Actions AWS offers no resource for, which a policy may grant on `*`. */
const RESOURCELESS = [
  'ecr:GetAuthorizationToken',
  'ec2:DescribeInstances',
  'ec2:DescribeInstanceConnectEndpoints',
  'ecs:DescribeTaskDefinition',
  'ecs:RegisterTaskDefinition',
  // ECS Exec's agent in the monitoring task (ecsMonitoring.ts).
  'ssmmessages:CreateControlChannel',
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
];

const HOST_OUTPUTS = [
  'dataVolumeId',
  'hostInstanceId',
  'hostPrivateIp',
  'hostPublicIp',
  'instanceConnectEndpointDnsName',
  'instanceConnectEndpointId',
  'sshHostKeyParameter',
  'sshUser',
];
const ECS_OUTPUTS = [
  'ecsCluster',
  'ecsMonitoringService',
  'ecsPlatformSecretArn',
  'ecsPlatformService',
  'ecsPlatformTaskFamily',
  'ecsSiteService',
  'ecsSiteTaskFamily',
  'grafanaPasswordSecretArn',
  'sharedStateFileSystemId',
];
const COMMON_OUTPUTS = [
  'appHttps',
  'appUrl',
  'awsRegion',
  'deployBranch',
  'deployRoleArn',
  'ecrRepositoryUrl',
  'imagePlatform',
  'runtime',
];

/** The configurations the SSH property must hold for: every runtime, with and without extras. */
const CONFIGS: [string, string, Record<string, unknown>, Mocks.MockAccount][] = [
  ['dev as committed', 'dev', {}, {}],
  ['prod as committed', 'prod', {}, { githubOidcProvider: true }],
  [
    'dev with SSH for people',
    'dev',
    { 'reflex:sshAllowedCidrs': ['203.0.113.7/32', '2001:db8:1::/48'] },
    {},
  ],
  [
    'dev on a Graviton host',
    'dev',
    { 'reflex:instanceType': 't4g.small', 'reflex:hostAmi': 'debian-13-arm64-20251117-2299' },
    {},
  ],
  ['prod on ecs', 'prod', { 'reflex:runtime': 'ecs' }, { githubOidcProvider: true }],
  ['dev on ecs without a domain', 'dev', { 'reflex:runtime': 'ecs' }, {}],
];

describe('the program (Pulumi mocks: nothing reaches AWS)', () => {
  const runs = new Map<string, Run>();
  beforeAll(async () => {
    for (const [label, stack, extra, account] of CONFIGS) {
      runs.set(label, await runProgram(stack, stackConfig(stack, extra), account));
    }
  }, 240_000);
  const run = (label: string) => runs.get(label)!;

  describe.each(CONFIGS.map(([label]) => label))('%s', (label) => {
    it('opens no port 22 to 0.0.0.0/0 or ::/0, in any security group', () => {
      expect(sshFromTheInternet(run(label).stack)).toEqual([]);
      for (const group of run(label).stack.ofType('aws:ec2/securityGroup:SecurityGroup')) {
        expect(group.inputs.ingress).toBeUndefined();
      }
    });

    it('opens only 80/443 on the ALB to the internet', () => {
      const open = run(label)
        .stack.ofType(INGRESS)
        .filter((r) => ANYWHERE.includes(String(r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6)))
        .map((r) => `${String(r.inputs.securityGroupId)}:${String(r.inputs.fromPort)}`)
        .sort();
      expect(open.every((rule) => /^edge-sg-id:(80|443)$/.test(rule))).toBe(true);
    });

    it('tags every taggable resource with project, environment and managed-by', () => {
      const stack = run(label).stack;
      const environment = label.startsWith('prod') ? 'prod' : 'dev';
      const standard = { project: 'reflex', environment, 'managed-by': 'pulumi' };
      for (const resource of stack.resources) {
        if (!run(label).mocks.isTaggable(resource.type)) continue;
        expect({ resource: resource.name, tags: resource.inputs.tags }).toEqual({
          resource: resource.name,
          // The data volume carries one more: its snapshot policy's selector.
          tags:
            resource.type === 'aws:ebs/volume:Volume'
              ? expect.objectContaining(standard)
              : standard,
        });
      }
    });

    it('grants no wildcard action, and on * only what AWS offers no resource for', () => {
      const statements = run(label)
        .stack.ofType('aws:iam/rolePolicy:RolePolicy')
        .flatMap((p) => statementsOf(p.inputs.policy));
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        const actions = asList(statement.Action);
        expect(actions.filter((a) => a.includes('*'))).toEqual([]);
        if (asList(statement.Resource).includes('*')) {
          expect(actions.filter((a) => !RESOURCELESS.includes(a))).toEqual([]);
        }
      }
    });

    it("lets only jobs in the stack's GitHub environment assume the deploy role", () => {
      const environment = label.startsWith('prod') ? 'prod' : 'dev';
      const deployRole = run(label)
        .stack.ofType('aws:iam/role:Role')
        .find((r) => String(r.inputs.assumeRolePolicy).includes('AssumeRoleWithWebIdentity'))!;
      const [trust] = statementsOf(deployRole.inputs.assumeRolePolicy);
      expect(trust!.Condition).toEqual({
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          'token.actions.githubusercontent.com:sub': `repo:octo-org/reflex:environment:${environment}`,
        },
      });
    });

    it('has no NAT gateway, and spreads over two zones', () => {
      const vpc = run(label).stack.one('awsx:ec2:Vpc').inputs;
      expect(vpc.natGateways).toEqual({ strategy: 'None' });
      const zones = vpc.availabilityZoneNames as string[];
      expect(new Set(zones).size).toBe(2);
    });
  });

  it('exports what the deploy workflow needs for each runtime, and the host path only on a host', async () => {
    const dev = await resolved(run('dev as committed'));
    expect(Object.keys(dev).sort()).toEqual(
      [...COMMON_OUTPUTS, ...HOST_OUTPUTS, 'sshPrivateKey'].sort(),
    );
    expect(dev).toMatchObject({
      runtime: 'host',
      imagePlatform: 'linux/amd64',
      deployBranch: 'main',
      sshUser: 'deploy',
      sshHostKeyParameter: '/reflex-dev/ssh-host-key',
      instanceConnectEndpointId: 'host-eic-endpoint-id',
      appHttps: false,
    });
    const ecs = await resolved(run('prod on ecs'));
    expect(Object.keys(ecs).sort()).toEqual(
      [...COMMON_OUTPUTS, ...ECS_OUTPUTS, 'editorUrl', 'promotionSourceRepositoryUrl'].sort(),
    );
    expect(ecs).toMatchObject({
      runtime: 'ecs',
      ecsCluster: 'reflex-prod',
      imagePlatform: 'linux/amd64',
    });
  });

  it('tells the workflow to build arm64 images for a Graviton host', async () => {
    expect((await resolved(run('dev on a Graviton host'))).imagePlatform).toBe('linux/arm64');
  });

  it('keeps the generated deploy key secret, and exports none when a key is configured', async () => {
    const { outputs, mocks } = run('dev as committed');
    expect(await mocks.isSecret(outputs.sshPrivateKey as never)).toBe(true);
    expect(run('prod as committed').outputs.sshPrivateKey).toBeUndefined();
  });

  it("creates GitHub's OIDC provider where the account has none, reuses it where it has one", () => {
    const provider = 'aws:iam/openIdConnectProvider:OpenIdConnectProvider';
    expect(run('dev as committed').stack.ofType(provider)).toHaveLength(1);
    expect(run('prod as committed').stack.ofType(provider)).toEqual([]);
  });

  it("lets prod read dev's repository, to deploy the digest that passed there", async () => {
    const prod = run('prod as committed');
    const read = prod.stack.named('aws:iam/rolePolicy:RolePolicy', 'ci-read-promotion-source');
    const onDev = statementsOf(read.inputs.policy).filter(
      (s) => s.Resource === `arn:aws:ecr:us-east-1:${prod.mocks.ACCOUNT}:repository/reflex-dev`,
    );
    expect(onDev.flatMap((s) => asList(s.Action))).toEqual(
      expect.arrayContaining(['ecr:BatchGetImage', 'ecr:DescribeImages']),
    );
    expect((await resolved(prod)).promotionSourceRepositoryUrl).toBe(
      `${prod.mocks.ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/reflex-dev`,
    );
    expect(run('dev as committed').outputs.promotionSourceRepositoryUrl).toBeUndefined();
  });

  it('serves the editor on its own origin with a domain, and tells the platform both URLs', async () => {
    const prod = run('prod as committed');
    expect(await prod.mocks.resolve(prod.outputs.editorUrl as never)).toBe(
      'https://editor.reflex.example.com',
    );
    const encoded = prod.stack.one('aws:ec2/instance:Instance').inputs.userDataBase64 as string;
    const cloudConfig = gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8');
    expect(cloudConfig).toContain('REFLEX_EDITOR_URL=https://editor.reflex.example.com\\n');
    expect(cloudConfig).toContain('REFLEX_PUBLIC_URL=https://reflex.example.com\\n');
    expect(prod.warnings.filter((w) => w.includes('appDomain'))).toEqual([]);
  });

  it('warns without a domain that the site is plain HTTP and the editor is not served', () => {
    expect(run('dev as committed').warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/plain HTTP[\s\S]*editor[\s\S]*not served/)]),
    );
  });

  it('keeps the ECS services behind the ALB with routing rules, their monitoring beside them, and no host at all', () => {
    const ecs = run('prod on ecs').stack;
    expect(ecs.ofType('aws:ec2/instance:Instance')).toEqual([]);
    expect(
      ecs
        .ofType('aws:ecs/service:Service')
        .map((s) => s.inputs.name)
        .sort(),
    ).toEqual(['monitoring', 'platform', 'site']);
    expect(ecs.ofType('aws:lb/listenerRule:ListenerRule').length).toBeGreaterThan(0);
  });

  it.each([
    ['reflex:sshAllowedCidrs', ['203.0.113.7/32', '0.0.0.0/0']],
    ['reflex:allowSshFromAnywhere', true],
    ['reflex:githubRepository', 'octo-org/reflex/extra'],
  ])(
    'an invalid or retired %s stops the program with an error naming the key',
    async (key, value) => {
      await expect(runProgram('dev', stackConfig('dev', { [key]: value }))).rejects.toThrow(
        new RegExp(`invalid stack configuration:\\n {2}${key}: `),
      );
    },
  );
});
