import path from 'node:path';

import type { EcsConfig } from './configSchema';
import {
  ECS_TARGETS,
  EcsRuntime,
  SITE_COMMAND,
  ecsRoutes,
  platformEnvironment,
} from './ecsRuntime';
import { Edge } from './edge';
import type { MockedStack, RecordedResource } from './testing/mocks';
import { ACCOUNT, REGION, mockStack, resolve, settle, unsecret } from './testing/mocks';
import { tags, ECS_SETTINGS, INGRESS } from './testing/fixtures';

const REPOSITORY_ARN = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/reflex-dev`;
const SERVICE = 'aws:ecs/service:Service';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}
interface Container {
  name: string;
  image: string;
  user?: string;
  command?: string[];
  readonlyRootFilesystem: boolean;
  environment: { name: string; value: string }[];
  secrets: { name: string; valueFrom: string }[];
  mountPoints: { sourceVolume: string; containerPath: string }[];
  linuxParameters: { capabilities: { drop: string[] } };
  logConfiguration: { logDriver: string; options: Record<string, string> };
}

const statements = (policy: unknown) =>
  (JSON.parse(policy as string) as { Statement: Statement[] }).Statement;

describe('the ecs runtime (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(settings: Partial<EcsConfig> = {}) {
    const stack = await mockStack('dev');
    const edge = new Edge('edge', {
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      domain: { appDomain: 'reflex.example.com', hostedZoneName: 'example.com' },
      tlsPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      targets: ECS_TARGETS,
      routes: ecsRoutes('editor.reflex.example.com'),
      tags,
    });
    const ecs = new EcsRuntime('ecs', {
      stackName: 'reflex-dev',
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/reflex-dev`,
      repositoryArn: REPOSITORY_ARN,
      region: REGION,
      deployBranch: 'main',
      githubRepository: 'octo-org/reflex',
      urls: {
        publicUrl: 'https://reflex.example.com',
        editorUrl: 'https://editor.reflex.example.com',
      },
      edge,
      settings: { ...ECS_SETTINGS, ...settings },
      repoRoot: path.resolve(__dirname, '..'),
      tags,
    });
    await settle();
    return { stack, ecs };
  }

  let shared: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    shared = await build();
  });

  const service = (stack: MockedStack, name: string) => stack.named(SERVICE, `ecs-${name}-service`);
  const containerOf = (stack: MockedStack, name: string): Container => {
    const task = stack.named('aws:ecs/taskDefinition:TaskDefinition', `ecs-${name}-task`);
    return (JSON.parse(task.inputs.containerDefinitions as string) as Container[])[0]!;
  };
  const env = (container: Container) =>
    Object.fromEntries(container.environment.map((e) => [e.name, e.value]));

  it.each(['platform', 'site'])(
    'runs the %s on Fargate in both subnets, rolling with 100 %% healthy and the circuit breaker',
    (name) => {
      const { stack } = shared;
      expect(service(stack, name).inputs).toMatchObject({
        name,
        cluster: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/reflex-dev`,
        launchType: 'FARGATE',
        desiredCount: 2,
        deploymentMinimumHealthyPercent: 100,
        deploymentMaximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        availabilityZoneRebalancing: 'ENABLED',
        networkConfiguration: { subnets: ['subnet-a', 'subnet-b'] },
        loadBalancers: [
          {
            targetGroupArn: expect.stringContaining(`targetgroup/edge-${name}/`),
            containerName: name,
            containerPort: 3000,
          },
        ],
      });
    },
  );

  it('leaves the running revision to the deploy workflow and the count to the autoscaler, nothing else', () => {
    const { stack } = shared;
    for (const name of ['platform', 'site']) {
      expect(service(stack, name).options.ignoreChanges.sort()).toEqual([
        'desiredCount',
        'taskDefinition',
      ]);
    }
  });

  it('gives tasks a public address for egress only (no NAT gateway): only the ALB and the monitoring task may connect', () => {
    const { stack } = shared;
    for (const name of ['platform', 'site']) {
      const group = service(stack, name).inputs.networkConfiguration as {
        securityGroups: string[];
        assignPublicIp: boolean;
      };
      expect(group.assignPublicIp).toBe(true);
      const inbound = stack
        .ofType(INGRESS)
        .filter((r) => group.securityGroups.includes(r.inputs.securityGroupId as string));
      expect(
        inbound.map((r) => [
          r.inputs.fromPort,
          r.inputs.toPort,
          r.inputs.referencedSecurityGroupId,
          r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6,
        ]),
      ).toEqual([
        [3000, 3000, 'edge-sg-id', undefined],
        [3000, 3000, 'ecs-monitoring-sg-id', undefined],
        [9779, 9779, 'ecs-monitoring-sg-id', undefined],
      ]);
    }
  });

  it('scales each service on ALB requests per task, between desiredCount and maxCount', async () => {
    const { stack } = await build({ desiredCount: 3, maxCount: 8, requestsPerTask: 600 });
    const targets = stack
      .ofType('aws:appautoscaling/target:Target')
      .map((t) => [t.inputs.resourceId, t.inputs.minCapacity, t.inputs.maxCapacity])
      .sort();
    expect(targets).toEqual([
      ['service/reflex-dev/platform', 3, 8],
      ['service/reflex-dev/site', 3, 8],
    ]);
    for (const policy of stack.ofType('aws:appautoscaling/policy:Policy')) {
      expect(policy.inputs).toMatchObject({
        policyType: 'TargetTrackingScaling',
        targetTrackingScalingPolicyConfiguration: {
          targetValue: 600,
          predefinedMetricSpecification: {
            predefinedMetricType: 'ALBRequestCountPerTarget',
            resourceLabel: expect.stringMatching(
              /^app\/edge-alb\/\w+\/targetgroup\/edge-(platform|site)\/\w+$/,
            ),
          },
        },
      });
    }
  });

  it('drains a target for 30 s before ECS stops it, and gives the app 35 s more to finish', () => {
    const { stack } = shared;
    for (const group of stack.ofType('aws:lb/targetGroup:TargetGroup')) {
      expect(group.inputs).toMatchObject({ targetType: 'ip', port: 3000, deregistrationDelay: 30 });
    }
    expect(
      (
        JSON.parse(
          stack.named('aws:ecs/taskDefinition:TaskDefinition', 'ecs-platform-task').inputs
            .containerDefinitions as string,
        ) as { stopTimeout: number }[]
      )[0]!.stopTimeout,
    ).toBeGreaterThan(30);
  });

  it('mounts the shared state over TLS with IAM, and only the platform does', () => {
    const { stack } = shared;
    const platform = stack.named(
      'aws:ecs/taskDefinition:TaskDefinition',
      'ecs-platform-task',
    ).inputs;
    expect(platform.volumes).toEqual([
      {
        name: 'shared-state',
        efsVolumeConfiguration: {
          fileSystemId: 'ecs-state-fs-id',
          transitEncryption: 'ENABLED',
          authorizationConfig: { accessPointId: 'ecs-state-ap-id', iam: 'ENABLED' },
        },
      },
    ]);
    expect(containerOf(stack, 'platform').mountPoints).toEqual([
      { sourceVolume: 'shared-state', containerPath: '/data', readOnly: false },
    ]);
    expect(
      stack.named('aws:ecs/taskDefinition:TaskDefinition', 'ecs-site-task').inputs.volumes,
    ).toEqual([]);
    expect(stack.named('aws:efs/fileSystem:FileSystem', 'ecs-state-fs').inputs.encrypted).toBe(
      true,
    );
  });

  it('starts the platform with its session secret from Secrets Manager, never in the task definition', async () => {
    const { stack, ecs } = await build({ operatorSecrets: ['REFLEX_GIT_TOKEN'] });
    const container = containerOf(stack, 'platform');
    const secretArn = await resolve(ecs.secretArn);
    expect(container.secrets).toEqual([
      { name: 'REFLEX_SESSION_SECRET', valueFrom: `${secretArn}:REFLEX_SESSION_SECRET::` },
      { name: 'REFLEX_GIT_TOKEN', valueFrom: `${secretArn}:REFLEX_GIT_TOKEN::` },
    ]);
    expect(JSON.stringify(container.environment)).not.toMatch(/SECRET|TOKEN|PASSWORD/);
    const version = stack.named('aws:secretsmanager/secretVersion:SecretVersion', 'ecs-secret');
    expect(
      Object.keys(JSON.parse(unsecret(version.inputs.secretString) as string) as object),
    ).toEqual(['REFLEX_SESSION_SECRET']);
    // Made once; later runs leave it (and the keys the operator added) alone.
    expect(version.options.ignoreChanges).toEqual(['secretString']);
  });

  it('runs the site apart: nobody, read-only, no capability, no secret, no role, Node permissions', () => {
    const { stack } = shared;
    const site = containerOf(stack, 'site');
    expect(site).toMatchObject({
      user: '65534:65534',
      readonlyRootFilesystem: true,
      command: SITE_COMMAND,
      secrets: [],
      mountPoints: [],
      linuxParameters: { capabilities: { drop: ['ALL'] } },
    });
    expect(Object.keys(env(site)).sort()).toEqual(['HOST', 'NODE_ENV', 'PORT', 'REFLEX_LOG_LEVEL']);
    expect(SITE_COMMAND).toEqual(expect.arrayContaining(['--permission']));
    expect(
      stack.named('aws:ecs/taskDefinition:TaskDefinition', 'ecs-site-task').inputs.taskRoleArn,
    ).toBeUndefined();
  });

  it('gives the platform the URLs of both origins', () => {
    const { stack } = shared;
    expect(env(containerOf(stack, 'platform'))).toMatchObject({
      REFLEX_PUBLIC_URL: 'https://reflex.example.com',
      REFLEX_EDITOR_URL: 'https://editor.reflex.example.com',
      REFLEX_STATE_DIR: '/data',
    });
  });

  it('scopes every role: pull from its repository, write its logs, read its secret, mount its file system', () => {
    const { stack } = shared;
    const grants = (role: string) =>
      stack
        .ofType('aws:iam/rolePolicy:RolePolicy')
        .filter((p) => p.name === role)
        .flatMap((p) => statements(p.inputs.policy))
        .flatMap((s) => [s.Action].flat().map((a) => `${a} on ${[s.Resource].flat().join(',')}`))
        .sort();
    expect(grants('ecs-platform-execution')).toEqual([
      `ecr:BatchCheckLayerAvailability on ${REPOSITORY_ARN}`,
      `ecr:BatchGetImage on ${REPOSITORY_ARN}`,
      'ecr:GetAuthorizationToken on *',
      `ecr:GetDownloadUrlForLayer on ${REPOSITORY_ARN}`,
      `logs:CreateLogStream on arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/reflex-dev/platform:*`,
      `logs:PutLogEvents on arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/reflex-dev/platform:*`,
      `secretsmanager:GetSecretValue on arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:reflex-dev/platform-AbCdEf`,
    ]);
    expect(grants('ecs-site-execution').filter((g) => g.startsWith('secretsmanager'))).toEqual([]);
    expect(grants('ecs-platform-task')).toEqual([
      `elasticfilesystem:ClientMount on arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/fs-ecs-state-fs`,
      `elasticfilesystem:ClientWrite on arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/fs-ecs-state-fs`,
    ]);
  });

  it('keeps logs in CloudWatch for the configured retention', async () => {
    const { stack } = await build({ logRetentionDays: 90 });
    expect(stack.ofType('aws:cloudwatch/logGroup:LogGroup').map((g) => g.inputs)).toEqual([
      { name: '/reflex-dev/monitoring', retentionInDays: 90, tags },
      { name: '/reflex-dev/platform', retentionInDays: 90, tags },
      { name: '/reflex-dev/site', retentionInDays: 90, tags },
    ]);
    expect(containerOf(stack, 'site').logConfiguration).toEqual({
      logDriver: 'awslogs',
      options: {
        'awslogs-group': '/reflex-dev/site',
        'awslogs-region': REGION,
        'awslogs-stream-prefix': 'site',
      },
    });
  });

  it('lets the deploy workflow update these two services in this cluster, and pass only their roles', async () => {
    const { stack, ecs } = shared;
    const policy = statements(await resolve(ecs.deployPolicies['deploy-services']!));
    // The app's two services; the monitoring service is Pulumi's alone.
    const app = (name: string) => /^ecs-(platform|site)-/.test(name);
    const services = stack
      .ofType(SERVICE)
      .filter((s) => app(s.name))
      .map(
        (s: RecordedResource) =>
          `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${s.name}-cluster/${String(s.inputs.name)}`,
      );
    expect(policy.find((s) => [s.Action].flat().includes('ecs:UpdateService'))).toEqual({
      Sid: 'UpdateTheseServices',
      Effect: 'Allow',
      Action: ['ecs:DescribeServices', 'ecs:UpdateService'],
      Resource: expect.arrayContaining(services),
      Condition: {
        ArnEquals: { 'ecs:cluster': `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/reflex-dev` },
      },
    });
    const update = policy.find((s) => [s.Action].flat().includes('ecs:UpdateService'))!;
    expect([update.Resource].flat()).toHaveLength(services.length);
    const pass = policy.find((s) => s.Action === 'iam:PassRole')!;
    expect([pass.Resource].flat().sort()).toEqual(
      stack
        .ofType('aws:iam/role:Role')
        .filter((r) => app(r.name))
        .map((r) => `arn:aws:iam::${ACCOUNT}:role/${r.name}-1a2b3c4`)
        .sort(),
    );
    expect(pass.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    });
    // The only actions on * are the two ECS offers no resource for.
    expect(policy.filter((s) => s.Resource === '*').flatMap((s) => s.Action)).toEqual([
      'ecs:DescribeTaskDefinition',
      'ecs:RegisterTaskDefinition',
    ]);
  });

  it('routes by host name as nginx does on a host', () => {
    const routes = ecsRoutes('editor.example.com');
    const where = (host: string, path: string) =>
      routes
        .filter((r) => (r.hosts ?? [host]).includes(host))
        .filter((r) =>
          (r.paths ?? [path]).some((p) =>
            p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : p === path,
          ),
        )
        .sort((a, b) => a.priority - b.priority)[0]?.action ?? { forward: 'site' };
    expect(where('editor.example.com', '/api/files')).toEqual({ forward: 'platform' });
    expect(where('editor.example.com', '/metrics')).toMatchObject({
      fixedResponse: { statusCode: '404' },
    });
    expect(where('example.com', '/healthz')).toEqual({ forward: 'platform' });
    expect(where('example.com', '/version')).toEqual({ forward: 'platform' });
    expect(where('example.com', '/metrics')).toMatchObject({
      fixedResponse: { statusCode: '404' },
    });
    expect(where('example.com', '/api/files')).toMatchObject({
      fixedResponse: { statusCode: '404', contentType: 'application/json' },
    });
    expect(where('example.com', '/editor/x')).toEqual({ redirectToHost: 'editor.example.com' });
    expect(where('pr-7.preview.example.com', '/about')).toEqual({ forward: 'site' });
    expect(where('example.com', '/')).toEqual({ forward: 'site' });
  });

  it('turns on what the operator has stored secrets for', () => {
    const settings = { REFLEX_GITHUB_REPOSITORY: 'octo-org/reflex' };
    expect(platformEnvironment(settings, [])).not.toHaveProperty('REFLEX_REPO_URL');
    expect(
      platformEnvironment(settings, ['REFLEX_GIT_TOKEN', 'REFLEX_GITHUB_TOKEN']),
    ).toMatchObject({
      REFLEX_REPO_URL: 'https://github.com/octo-org/reflex.git',
      REFLEX_PIPELINE: 'github',
    });
  });
});
