// The whole program, per stack, under Pulumi mocks (nothing reaches AWS): the committed
// Pulumi.<stack>.yaml plus the values docs/AWS.md tells a user to set.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parse } from 'yaml';

import type * as Program from './index';
import type * as Mocks from './testing/mocks';

const ROOT = path.resolve(__dirname, '..');
const OPERATOR_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKey ops@example';
const EXISTING_PROVIDER =
  'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';

/** What a user sets with `pulumi config set` on each stack (docs/AWS.md). */
const USER_VALUES: Record<string, Record<string, unknown>> = {
  dev: {
    'reflex:githubRepository': 'octo-org/reflex',
    'reflex:sshAllowedCidrs': ['203.0.113.7/32'],
  },
  prod: {
    'reflex:githubRepository': 'octo-org/reflex',
    'reflex:sshAllowedCidrs': ['198.51.100.0/24', '2001:db8:1::/48'],
    'reflex:appDomain': 'reflex.example.com',
    'reflex:hostedZoneName': 'example.com',
    'reflex:sshPublicKey': OPERATOR_KEY,
    'reflex:githubOidcProviderArn': EXISTING_PROVIDER,
  },
};

/** The stack's config as the engine hands it to the program: strings, lists as JSON. */
function stackConfig(stack: string, extra: Record<string, unknown> = {}): Record<string, string> {
  const file = parse(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as {
    config: Record<string, unknown>;
  };
  const merged = { ...file.config, ...USER_VALUES[stack], ...extra };
  return Object.fromEntries(
    Object.entries(merged).map(([key, value]) => [
      key,
      typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );
}

interface Run {
  stack: Mocks.MockedStack;
  program: typeof Program;
  mocks: typeof Mocks;
  /** What the program told the user with pulumi.log.warn. */
  warnings: string[];
}

/** Runs pulumi/index.ts once in a fresh module registry (its own Pulumi runtime and mocks). */
async function runProgram(stack: string, config: Record<string, string>): Promise<Run> {
  let run: Run | undefined;
  // Without an engine, pulumi.log.warn writes to console.warn.
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    await jest.isolateModulesAsync(async () => {
      // A fresh registry is entered with require (jest's transform leaves import() alone).
      /* eslint-disable @typescript-eslint/no-require-imports */
      const mocks = require('./testing/mocks') as typeof Mocks;
      const mocked = await mocks.mockStack(stack, config);
      const program = require('./index') as typeof Program;
      /* eslint-enable @typescript-eslint/no-require-imports */
      await mocks.settle();
      const warnings = warn.mock.calls.map((call) => String(call[0]));
      run = { stack: mocked, program, mocks, warnings };
    });
  } finally {
    warn.mockRestore();
  }
  return run!;
}

const count = (types: string[]) =>
  types.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t]: (acc[t] ?? 0) + 1 }), {});

const EXPECTED_TYPES: Record<string, Record<string, number>> = {
  dev: {
    'aws:ec2/vpc:Vpc': 1,
    'aws:ec2/defaultSecurityGroup:DefaultSecurityGroup': 1,
    'aws:ec2/internetGateway:InternetGateway': 1,
    'aws:ec2/routeTable:RouteTable': 1,
    'aws:ec2/route:Route': 1,
    'aws:ec2/subnet:Subnet': 2,
    'aws:ec2/routeTableAssociation:RouteTableAssociation': 2,
    'aws:ecr/repository:Repository': 1,
    'aws:ecr/lifecyclePolicy:LifecyclePolicy': 1,
    'aws:ec2/securityGroup:SecurityGroup': 2,
    'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule': 3,
    'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule': 2,
    'aws:iam/role:Role': 2,
    'aws:iam/rolePolicy:RolePolicy': 2,
    'aws:iam/instanceProfile:InstanceProfile': 1,
    'tls:index/privateKey:PrivateKey': 2,
    'aws:ec2/keyPair:KeyPair': 1,
    'aws:ec2/networkInterface:NetworkInterface': 1,
    'aws:ec2/eip:Eip': 1,
    'aws:ec2/instance:Instance': 1,
    'aws:lb/loadBalancer:LoadBalancer': 1,
    'aws:lb/targetGroup:TargetGroup': 1,
    'aws:lb/targetGroupAttachment:TargetGroupAttachment': 1,
    'aws:lb/listener:Listener': 1,
    'aws:iam/openIdConnectProvider:OpenIdConnectProvider': 1,
  },
  prod: {
    'aws:ec2/vpc:Vpc': 1,
    'aws:ec2/defaultSecurityGroup:DefaultSecurityGroup': 1,
    'aws:ec2/internetGateway:InternetGateway': 1,
    'aws:ec2/routeTable:RouteTable': 1,
    'aws:ec2/route:Route': 1,
    'aws:ec2/subnet:Subnet': 2,
    'aws:ec2/routeTableAssociation:RouteTableAssociation': 2,
    'aws:ecr/repository:Repository': 1,
    'aws:ecr/lifecyclePolicy:LifecyclePolicy': 1,
    'aws:ec2/securityGroup:SecurityGroup': 2,
    // SSH from two CIDRs, 80 and 443 on the ALB, 80 on the host from the ALB.
    'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule': 5,
    'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule': 2,
    'aws:iam/role:Role': 2,
    'aws:iam/rolePolicy:RolePolicy': 2,
    'aws:iam/rolePolicyAttachment:RolePolicyAttachment': 1,
    'aws:iam/instanceProfile:InstanceProfile': 1,
    'tls:index/privateKey:PrivateKey': 1,
    'aws:ec2/keyPair:KeyPair': 1,
    'aws:ec2/networkInterface:NetworkInterface': 1,
    'aws:ec2/eip:Eip': 1,
    'aws:ec2/instance:Instance': 1,
    'aws:lb/loadBalancer:LoadBalancer': 1,
    'aws:lb/targetGroup:TargetGroup': 1,
    'aws:lb/targetGroupAttachment:TargetGroupAttachment': 1,
    'aws:lb/listener:Listener': 2,
    'aws:acm/certificate:Certificate': 1,
    'aws:acm/certificateValidation:CertificateValidation': 1,
    'aws:route53/record:Record': 2,
  },
};

/** The resource types that take no tags, checked against the provider's own declarations. */
const UNTAGGABLE: Record<string, string[]> = {
  dev: [
    'aws:ec2/route:Route',
    'aws:ec2/routeTableAssociation:RouteTableAssociation',
    'aws:ecr/lifecyclePolicy:LifecyclePolicy',
    'aws:iam/rolePolicy:RolePolicy',
    'aws:lb/targetGroupAttachment:TargetGroupAttachment',
    'tls:index/privateKey:PrivateKey',
  ],
  prod: [
    'aws:acm/certificateValidation:CertificateValidation',
    'aws:ec2/route:Route',
    'aws:ec2/routeTableAssociation:RouteTableAssociation',
    'aws:ecr/lifecyclePolicy:LifecyclePolicy',
    'aws:iam/rolePolicy:RolePolicy',
    'aws:iam/rolePolicyAttachment:RolePolicyAttachment',
    'aws:lb/targetGroupAttachment:TargetGroupAttachment',
    'aws:route53/record:Record',
    'tls:index/privateKey:PrivateKey',
  ],
};

const INGRESS = 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule';
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

/** Every ingress rule open to the whole internet, as `group:from-to`. */
function openToInternet(stack: Mocks.MockedStack): string[] {
  return stack
    .ofType(INGRESS)
    .filter((r) => ANYWHERE.includes(String(r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6)))
    .map(
      (r) =>
        `${String(r.inputs.securityGroupId)}:${String(r.inputs.fromPort)}-${String(r.inputs.toPort)}`,
    );
}

describe.each(['dev', 'prod'])('the %s stack (Pulumi mocks: nothing reaches AWS)', (name) => {
  let run: Run;
  beforeAll(async () => {
    run = await runProgram(name, stackConfig(name));
  });

  it('creates exactly the expected resources', () => {
    expect(count(run.stack.resources.map((r) => r.type))).toEqual(EXPECTED_TYPES[name]);
    expect(run.stack.resources.map((r) => r.type)).not.toContain('aws:ec2/natGateway:NatGateway');
  });

  it('tags every taggable resource with project, environment and managed-by', () => {
    const standard = { project: 'reflex', environment: name, 'managed-by': 'pulumi' };
    const untaggable = new Set<string>();
    for (const resource of run.stack.resources) {
      if (!run.mocks.isTaggable(resource.type)) {
        untaggable.add(resource.type);
        continue;
      }
      expect({ resource: resource.name, tags: resource.inputs.tags }).toEqual({
        resource: resource.name,
        tags: standard,
      });
    }
    expect([...untaggable].sort()).toEqual(UNTAGGABLE[name]);
    const instance = run.stack.one('aws:ec2/instance:Instance').inputs;
    expect((instance.rootBlockDevice as { tags: unknown }).tags).toEqual(standard);
  });

  it("opens nothing to the internet but 80/443 on the ALB's group; SSH only from the configured CIDRs", () => {
    const albGroup = run.stack.byId('edge-sg-id');
    expect(albGroup.type).toBe('aws:ec2/securityGroup:SecurityGroup');
    expect(openToInternet(run.stack).sort()).toEqual(
      name === 'prod' ? ['edge-sg-id:443-443', 'edge-sg-id:80-80'] : ['edge-sg-id:80-80'],
    );
    const ssh = run.stack
      .ofType(INGRESS)
      .filter((r) => r.inputs.fromPort === 22 || r.inputs.toPort === 22);
    expect(ssh.map((r) => r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6)).toEqual(
      USER_VALUES[name]!['reflex:sshAllowedCidrs'],
    );
    const hostRules = run.stack
      .ofType(INGRESS)
      .filter((r) => r.inputs.securityGroupId === 'host-sg-id');
    expect(
      hostRules.map((r) => [r.inputs.fromPort, r.inputs.referencedSecurityGroupId ?? 'cidr']),
    ).toEqual([...ssh.map(() => [22, 'cidr']), [80, 'edge-sg-id']]);
    for (const group of run.stack.ofType('aws:ec2/securityGroup:SecurityGroup')) {
      expect(group.inputs.ingress).toBeUndefined();
      expect(group.inputs.egress).toBeUndefined();
    }
  });

  it('requires IMDSv2 and encrypts the root volume', () => {
    const instance = run.stack.one('aws:ec2/instance:Instance').inputs;
    expect((instance.metadataOptions as { httpTokens: string }).httpTokens).toBe('required');
    expect((instance.rootBlockDevice as { encrypted: boolean }).encrypted).toBe(true);
    expect(instance.instanceType).toBe(name === 'prod' ? 't3.medium' : 't3.small');
  });

  it("keeps the stack's image retention in an immutable, scanned ECR repository", () => {
    const repository = run.stack.one('aws:ecr/repository:Repository').inputs;
    expect(repository).toMatchObject({
      name: `reflex-${name}`,
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      forceDelete: name === 'dev',
    });
    const policy = JSON.parse(
      run.stack.one('aws:ecr/lifecyclePolicy:LifecyclePolicy').inputs.policy as string,
    ) as { rules: { selection: { tagStatus: string; countNumber: number } }[] };
    expect(
      policy.rules.find((r) => r.selection.tagStatus === 'tagged')?.selection.countNumber,
    ).toBe(name === 'prod' ? 50 : 20);
  });

  it('grants no ECR action on * except ecr:GetAuthorizationToken, and no wildcard action', () => {
    const statements = run.stack
      .ofType('aws:iam/rolePolicy:RolePolicy')
      .flatMap((p) => statementsOf(p.inputs.policy));
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const actions = asList(statement.Action);
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
      if (asList(statement.Resource).includes('*')) {
        expect(actions).toEqual(['ecr:GetAuthorizationToken']);
      }
    }
  });

  it('lets only this repository deploy branch or environment assume the deploy role', () => {
    const deployRole = run.stack
      .ofType('aws:iam/role:Role')
      .find((r) => String(r.inputs.assumeRolePolicy).includes('AssumeRoleWithWebIdentity'))!;
    const [trust] = statementsOf(deployRole.inputs.assumeRolePolicy);
    expect(trust!.Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': [
          'repo:octo-org/reflex:ref:refs/heads/main',
          `repo:octo-org/reflex:environment:${name}`,
        ],
      },
    });
  });

  it('exports every output the deploy workflow consumes', async () => {
    const { program, mocks } = run;
    expect(Object.keys(program).sort()).toEqual([
      'appHttps',
      'appUrl',
      'awsRegion',
      'deployRoleArn',
      'ecrRepositoryUrl',
      'sshHost',
      'sshHostKey',
      'sshPrivateKey',
      'sshUser',
    ]);
    expect(await mocks.resolve(program.ecrRepositoryUrl)).toBe(
      `${mocks.ACCOUNT}.dkr.ecr.${mocks.REGION}.amazonaws.com/reflex-${name}`,
    );
    expect(program.awsRegion).toBe('us-east-1');
    expect(await mocks.resolve(program.deployRoleArn)).toMatch(
      /^arn:aws:iam::\d{12}:role\/ci-deploy-role-/,
    );
    expect(await mocks.resolve(program.sshHost)).toBe(mocks.HOST_PUBLIC_IP);
    expect(await mocks.resolve(program.sshUser)).toBe('deploy');
    expect(await mocks.resolve(program.sshHostKey)).toMatch(
      new RegExp(`^${mocks.HOST_PUBLIC_IP.replace(/\./g, '\\.')} ssh-ed25519 [A-Za-z0-9+/]+=*$`),
    );
    if (name === 'prod') {
      expect(await mocks.resolve(program.appUrl)).toBe('https://reflex.example.com');
      expect(program.appHttps).toBe(true);
      expect(run.warnings.filter((w) => w.includes('plain HTTP'))).toEqual([]);
    } else {
      expect(await mocks.resolve(program.appUrl)).toMatch(
        /^http:\/\/edge-alb-.*\.elb\.amazonaws\.com$/,
      );
      expect(program.appHttps).toBe(false);
      expect(run.warnings).toEqual(
        expect.arrayContaining([expect.stringContaining('the app is served over plain HTTP')]),
      );
    }
  });

  it(`exports sshPrivateKey ${name === 'dev' ? 'as a secret (generated key)' : 'not at all (configured key)'}`, async () => {
    const { program, mocks } = run;
    if (name === 'dev') {
      expect(program.sshPrivateKey).toBeDefined();
      expect(await mocks.isSecret(program.sshPrivateKey!)).toBe(true);
      expect(await mocks.resolve(program.sshPrivateKey!)).toContain('BEGIN OPENSSH PRIVATE KEY');
    } else {
      expect(program.sshPrivateKey).toBeUndefined();
      expect(run.stack.one('aws:ec2/keyPair:KeyPair').inputs.publicKey).toBe(OPERATOR_KEY);
    }
  });

  it(
    name === 'prod'
      ? 'only redirects on HTTP and serves HTTPS with tlsPolicy'
      : 'forwards plain HTTP',
    () => {
      const listeners = run.stack.ofType('aws:lb/listener:Listener').map((l) => l.inputs);
      const http = listeners.find((l) => l.port === 80)!;
      const actions = http.defaultActions as { type: string }[];
      expect(actions.map((a) => a.type)).toEqual([name === 'prod' ? 'redirect' : 'forward']);
      const https = listeners.find((l) => l.port === 443);
      if (name === 'prod') {
        expect(https).toMatchObject({
          protocol: 'HTTPS',
          sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        });
      } else {
        expect(https).toBeUndefined();
      }
    },
  );
});

describe('stack-wide switches and invalid configuration', () => {
  it('allowSshFromAnywhere: true opens port 22 to the internet, and nothing else more', async () => {
    const run = await runProgram(
      'dev',
      stackConfig('dev', { 'reflex:allowSshFromAnywhere': true }),
    );
    expect(openToInternet(run.stack).sort()).toEqual([
      'edge-sg-id:80-80',
      'host-sg-id:22-22',
      'host-sg-id:22-22',
    ]);
  });

  it.each([
    ['reflex:sshAllowedCidrs', ['203.0.113.7/32', 'office']],
    ['reflex:githubRepository', 'octo-org/reflex/extra'],
  ])('an invalid %s stops the program with an error naming the key', async (key, value) => {
    await expect(runProgram('dev', stackConfig('dev', { [key]: value }))).rejects.toThrow(
      new RegExp(`invalid stack configuration:\\n {2}${key}: `),
    );
  });
});
