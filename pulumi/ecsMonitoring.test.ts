import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import YAML from 'yaml';

import { ECS_TARGETS, EcsRuntime, ecsRoutes } from './ecsRuntime';
import { Edge } from './edge';
import { TASK_METRICS_IMAGE, composeService, monitoringFiles } from './monitoringConfig';
import { EXEC_ACTIONS, monitoringContainerDefinitions } from './monitoringTask';
import type { MockedStack } from './testing/mocks';
import { ACCOUNT, REGION, mockStack, settle, unsecret } from './testing/mocks';
import { tags, ECS_SETTINGS, EGRESS, INGRESS } from './testing/fixtures';

const ROOT = path.resolve(__dirname, '..');
const TASK_DEFINITION = 'aws:ecs/taskDefinition:TaskDefinition';

interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}
interface Container {
  name: string;
  image: string;
  essential: boolean;
  user?: string;
  command?: string[];
  entryPoint?: string[];
  readonlyRootFilesystem: boolean;
  environment?: { name: string; value: string }[];
  secrets?: { name: string; valueFrom: string }[];
  portMappings?: { containerPort: number }[];
  mountPoints?: { sourceVolume: string; containerPath: string; readOnly: boolean }[];
  dependsOn?: { containerName: string; condition: string }[];
  linuxParameters?: { capabilities: { drop: string[] } };
}

const statements = (policy: unknown) =>
  (JSON.parse(policy as string) as { Statement: Statement[] }).Statement;

describe('the ecs runtime monitoring (Pulumi mocks: nothing reaches AWS)', () => {
  let stack: MockedStack;
  beforeAll(async () => {
    stack = await mockStack('dev');
    const edge = new Edge('edge', {
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      domain: { appDomain: 'reflex.example.com', hostedZoneName: 'example.com' },
      tlsPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      targets: ECS_TARGETS,
      routes: ecsRoutes('editor.reflex.example.com'),
      tags,
    });
    new EcsRuntime('ecs', {
      stackName: 'reflex-dev',
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/reflex-dev`,
      repositoryArn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/reflex-dev`,
      region: REGION,
      deployBranch: 'main',
      githubRepository: 'octo-org/reflex',
      urls: {
        publicUrl: 'https://reflex.example.com',
        editorUrl: 'https://editor.reflex.example.com',
      },
      edge,
      settings: ECS_SETTINGS,
      repoRoot: ROOT,
      tags,
    });
    await settle();
  });

  const containers = (family: string): Container[] =>
    JSON.parse(
      stack.named(TASK_DEFINITION, `ecs-${family}-task`).inputs.containerDefinitions as string,
    ) as Container[];
  const monitoring = () => containers('monitoring');
  const container = (list: Container[], name: string) => list.find((c) => c.name === name)!;
  const taskGroup = (service: string) =>
    (
      stack.named('aws:ecs/service:Service', `ecs-${service}-service`).inputs
        .networkConfiguration as { securityGroups: string[] }
    ).securityGroups[0]!;
  const grants = (role: string) =>
    stack.named('aws:iam/rolePolicy:RolePolicy', role).inputs.policy as string;

  it('finds the tasks through a private DNS namespace of the VPC: one SRV record per task of each service', () => {
    expect(
      stack.one('aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace').inputs,
    ).toMatchObject({ name: 'reflex-dev.internal', vpc: 'vpc-1' });
    const services = stack.ofType('aws:servicediscovery/service:Service');
    expect(services.map((s) => s.inputs.name).sort()).toEqual(['platform', 'site']);
    for (const service of services) {
      expect(service.inputs).toMatchObject({
        dnsConfig: {
          namespaceId: 'ecs-monitoring-namespace-id',
          routingPolicy: 'MULTIVALUE',
          dnsRecords: [{ type: 'SRV', ttl: 5 }],
        },
      });
      // A task that runs but fails stays listed, so that Prometheus sees it down.
      expect(service.inputs.healthCheckConfig).toBeUndefined();
      expect(service.inputs.healthCheckCustomConfig).toBeUndefined();
    }
    for (const name of ['platform', 'site']) {
      expect(
        stack.named('aws:ecs/service:Service', `ecs-${name}-service`).inputs.serviceRegistries,
      ).toEqual({
        registryArn: expect.stringContaining(`ecs-monitoring-${name}`),
        containerName: name,
        containerPort: 3000,
      });
    }
  });

  it("opens the tasks' metrics to the monitoring task only: the sidecar's port to nothing else, the ALB to the app port", () => {
    for (const service of ['platform', 'site']) {
      const inbound = stack
        .ofType(INGRESS)
        .filter((r) => r.inputs.securityGroupId === taskGroup(service))
        .map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.referencedSecurityGroupId])
        .sort();
      expect(inbound).toEqual([
        [3000, 3000, 'ecs-monitoring-sg-id'],
        [3000, 3000, 'edge-sg-id'],
        [9779, 9779, 'ecs-monitoring-sg-id'],
      ]);
    }
    const fromAnywhere = stack
      .ofType(INGRESS)
      .filter((r) => r.inputs.cidrIpv4 !== undefined || r.inputs.cidrIpv6 !== undefined)
      .map((r) => `${String(r.inputs.securityGroupId)}:${String(r.inputs.fromPort)}`);
    expect(fromAnywhere.every((rule) => /^edge-sg-id:(80|443)$/.test(rule))).toBe(true);
    // The ALB reaches the app's port of each service and nothing else of the tasks.
    const albOut = stack
      .ofType(EGRESS)
      .filter((r) => r.inputs.securityGroupId === 'edge-sg-id')
      .map((r) => r.inputs.toPort);
    expect(albOut).toEqual([3000, 3000]);
  });

  it('never forwards /metrics through the ALB, on any host name, before any other rule', () => {
    const routes = ecsRoutes('editor.reflex.example.com');
    for (const host of ['editor.reflex.example.com', 'reflex.example.com', 'pr-7.preview.x']) {
      const first = routes
        .filter((r) => (r.hosts ?? [host]).includes(host))
        .filter((r) => (r.paths ?? ['/metrics']).includes('/metrics'))
        .sort((a, b) => a.priority - b.priority)[0];
      expect({ host, action: first?.action }).toEqual({
        host,
        action: { fixedResponse: expect.objectContaining({ statusCode: '404' }) },
      });
    }
  });

  it('lets nothing into the monitoring task; out only to the metrics ports, its storage and HTTPS', () => {
    expect(
      stack.ofType(INGRESS).filter((r) => r.inputs.securityGroupId === 'ecs-monitoring-sg-id'),
    ).toEqual([]);
    const out = stack
      .ofType(EGRESS)
      .filter((r) => r.inputs.securityGroupId === 'ecs-monitoring-sg-id')
      .map((r) =>
        [r.inputs.toPort, r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4].join(' '),
      )
      .sort();
    expect(out).toEqual(
      [
        `3000 ${taskGroup('platform')}`,
        `9779 ${taskGroup('platform')}`,
        `3000 ${taskGroup('site')}`,
        `9779 ${taskGroup('site')}`,
        '2049 ecs-monitoring-fs-sg-id',
        '443 0.0.0.0/0',
      ].sort(),
    );
    expect(
      stack.named('aws:ecs/service:Service', 'ecs-monitoring-service').inputs.loadBalancers,
    ).toBeUndefined();
  });

  it('scopes its roles: ECS Exec and its own storage for the task; its logs and secret for ECS', () => {
    const task = statements(grants('ecs-monitoring-task'));
    expect(task).toEqual([
      { Sid: 'EcsExecChannels', Effect: 'Allow', Action: EXEC_ACTIONS, Resource: '*' },
      {
        Sid: 'MountItsStorage',
        Effect: 'Allow',
        Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
        Resource: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/fs-ecs-monitoring-fs`,
        Condition: {
          StringEquals: {
            'elasticfilesystem:AccessPointArn': [
              `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:access-point/fsap-ecs-monitoring-prometheus`,
              `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:access-point/fsap-ecs-monitoring-grafana`,
            ],
          },
        },
      },
    ]);
    expect(statements(grants('ecs-monitoring-execution'))).toEqual([
      expect.objectContaining({
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/reflex-dev/monitoring:*`,
      }),
      expect.objectContaining({
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [`arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:reflex-dev/grafana-AbCdEf`],
      }),
    ]);
  });

  it('runs one Prometheus at a time on its storage, reachable by ECS Exec, outside the ALB', () => {
    expect(stack.named('aws:ecs/service:Service', 'ecs-monitoring-service').inputs).toMatchObject({
      name: 'monitoring',
      desiredCount: 1,
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      enableExecuteCommand: true,
      networkConfiguration: {
        subnets: ['subnet-a', 'subnet-b'],
        securityGroups: ['ecs-monitoring-sg-id'],
      },
    });
  });

  it("keeps its history on an encrypted file system of its own, TLS only, one access point per image's user", () => {
    const fileSystem = stack.named('aws:efs/fileSystem:FileSystem', 'ecs-monitoring-fs');
    expect(fileSystem.inputs.encrypted).toBe(true);
    const policy = statements(
      stack.named('aws:efs/fileSystemPolicy:FileSystemPolicy', 'ecs-monitoring-fs-policy').inputs
        .policy,
    );
    expect(policy).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    ]);
    const points = stack
      .ofType('aws:efs/accessPoint:AccessPoint')
      .filter((p) => p.name.startsWith('ecs-monitoring-'))
      .map((p) => [
        p.inputs.fileSystemId,
        p.inputs.posixUser,
        (p.inputs.rootDirectory as { path: string }).path,
      ]);
    expect(points).toEqual([
      ['ecs-monitoring-fs-id', { uid: 65534, gid: 65534 }, '/prometheus'],
      ['ecs-monitoring-fs-id', { uid: 472, gid: 0 }, '/grafana'],
    ]);
    expect(
      stack
        .ofType(INGRESS)
        .filter((r) => r.inputs.securityGroupId === 'ecs-monitoring-fs-sg-id')
        .map((r) => [r.inputs.fromPort, r.inputs.referencedSecurityGroupId]),
    ).toEqual([[2049, 'ecs-monitoring-sg-id']]);
    const volumes = stack.named(TASK_DEFINITION, 'ecs-monitoring-task').inputs.volumes as {
      name: string;
      efsVolumeConfiguration?: { transitEncryption: string; authorizationConfig: { iam: string } };
    }[];
    const efs = volumes.filter((v) => v.efsVolumeConfiguration);
    expect(
      efs.map((v) => [
        v.name,
        v.efsVolumeConfiguration!.transitEncryption,
        v.efsVolumeConfiguration!.authorizationConfig.iam,
      ]),
    ).toEqual([
      ['prometheus-data', 'ENABLED', 'ENABLED'],
      ['grafana-data', 'ENABLED', 'ENABLED'],
    ]);
  });

  it("runs the host's Prometheus and Grafana: compose.yaml's images, flags and settings, both on loopback", () => {
    const list = monitoring();
    const prometheus = container(list, 'prometheus');
    const grafana = container(list, 'grafana');
    expect(prometheus.image).toBe(composeService(ROOT, 'prometheus').image);
    expect(prometheus.command).toEqual(composeService(ROOT, 'prometheus').command);
    expect(prometheus.command).toContain('--web.listen-address=127.0.0.1:9090');
    expect(grafana.image).toBe(composeService(ROOT, 'grafana').image);
    expect(Object.fromEntries(grafana.environment!.map((e) => [e.name, e.value]))).toEqual(
      composeService(ROOT, 'grafana').environment,
    );
    expect(grafana.environment).toEqual(
      expect.arrayContaining([{ name: 'GF_SERVER_HTTP_ADDR', value: '127.0.0.1' }]),
    );
    expect(grafana.secrets).toEqual([
      {
        name: 'GF_SECURITY_ADMIN_PASSWORD',
        valueFrom: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:reflex-dev/grafana-AbCdEf:GF_SECURITY_ADMIN_PASSWORD::`,
      },
    ]);
    expect(JSON.stringify(grafana.environment)).not.toMatch(/PASSWORD/);
    const version = stack.named(
      'aws:secretsmanager/secretVersion:SecretVersion',
      'ecs-monitoring-grafana',
    );
    expect(version.options.ignoreChanges).toEqual(['secretString']);
    expect(
      Object.keys(JSON.parse(unsecret(version.inputs.secretString) as string) as object),
    ).toEqual(['GF_SECURITY_ADMIN_PASSWORD']);
    for (const c of list)
      expect({ c: c.name, drop: c.linuxParameters?.capabilities.drop }).toEqual({
        c: c.name,
        drop: ['ALL'],
      });
    expect(prometheus.readonlyRootFilesystem).toBe(true);
  });

  it('hands Prometheus and Grafana their files through a config container that runs first', () => {
    const list = monitoring();
    const config = container(list, 'config');
    expect(config).toMatchObject({ essential: false, entryPoint: ['/bin/sh', '-c'] });
    for (const name of ['prometheus', 'grafana']) {
      expect(container(list, name).dependsOn).toEqual([
        { containerName: 'config', condition: 'SUCCESS' },
      ]);
      expect(
        container(list, name)
          .mountPoints!.filter((m) => !m.sourceVolume.endsWith('-data'))
          .every((m) => m.readOnly),
      ).toBe(true);
    }
    const written = Object.fromEntries(
      config.environment!.map(({ name, value }) => [
        name,
        gunzipSync(Buffer.from(value, 'base64')).toString('utf8'),
      ]),
    );
    const prometheusYml = YAML.parse(written.REFLEX_FILE_0!) as { rule_files: string[] };
    expect(prometheusYml.rule_files).toEqual(['rules/reflex.yml', 'rules/ecs.yml']);
    expect(Object.values(written)).toEqual(
      monitoringFiles(ROOT, {
        namespace: 'reflex-dev.internal',
        services: ['platform', 'site'],
      }).map((file) => file.content),
    );
  });

  it("fits ECS's 64 KiB for a task definition, with room for the dashboards to grow", () => {
    const definitions = stack.named(TASK_DEFINITION, 'ecs-monitoring-task').inputs
      .containerDefinitions as string;
    expect(Buffer.byteLength(definitions)).toBeLessThan(32 * 1024);
  });

  it('refuses a monitoring file whose path a shell could misread', () => {
    expect(() =>
      monitoringContainerDefinitions({
        files: [{ volume: 'grafana-dashboards', path: 'a b.json', content: '{}' }],
        prometheus: { image: 'p', command: [] },
        grafana: { image: 'g', environment: {} },
        grafanaSecretArn: 'arn',
        logGroup: 'l',
        region: REGION,
      }),
    ).toThrow(/monitoring file "\/out\/grafana-dashboards\/a b.json"/);
  });

  it.each(['platform', 'site'])(
    'runs the task-metrics sidecar in each %s task: not essential, read-only, nobody, no capability',
    (service) => {
      const sidecar = container(containers(service), 'task-metrics');
      expect(sidecar).toMatchObject({
        image: TASK_METRICS_IMAGE,
        essential: false,
        user: '65534:65534',
        readonlyRootFilesystem: true,
        command: ['--web.disable-exporter-metrics'],
        portMappings: [{ containerPort: 9779, protocol: 'tcp' }],
        linuxParameters: { capabilities: { drop: ['ALL'] } },
      });
      // The deploy workflow sets the image of the container named after the service.
      expect(containers(service)[0]!.name).toBe(service);
    },
  );
});
