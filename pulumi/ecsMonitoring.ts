// The ecs runtime's monitoring: Prometheus and Grafana as one small Fargate service of their
// own, and the Cloud Map namespace through which Prometheus finds every task of the app's
// services (ECS registers each task there, as an SRV record). Nothing reaches the monitoring
// task from outside: people come through ECS Exec's port forwarding (docs/MONITORING.md, "On
// ECS"), and only it reaches the tasks' metrics ports. Its history lives on an encrypted EFS
// file system of its own, written by one task at a time.
import { randomBytes } from 'node:crypto';

import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { SidecarSpec } from './taskDefinition';
import {
  CONFIG_OUT,
  CONFIG_VOLUMES,
  TASK_METRICS_CONTAINER,
  TASK_METRICS_IMAGE,
  TASK_METRICS_PORT,
  composeService,
  configContainerScript,
  monitoringFiles,
  type MonitoringFile,
} from './monitoringConfig';
import { NFS_PORT, fileSystemPolicy } from './sharedState';
import { serviceTrustPolicy } from './trust';

/** A service whose tasks Prometheus scrapes: its tasks' security group and app port. */
export interface ScrapeTarget {
  /** The ECS service's name (`platform`, `site`): the Cloud Map service and `component`. */
  service: string;
  securityGroupId: pulumi.Input<string>;
  appPort: number;
}

export interface EcsMonitoringArgs {
  /** `<project>-<stack>`: names the namespace, the task family, the log group and the secret. */
  stackName: string;
  vpcId: pulumi.Input<string>;
  /** One subnet per zone: the task runs in one of them, the file system is mounted in each. */
  subnetIds: readonly pulumi.Input<string>[];
  cluster: { arn: pulumi.Input<string> };
  targets: ScrapeTarget[];
  /** The repository, whose prometheus/, grafana/ and compose.yaml the task runs. */
  repoRoot: string;
  logRetentionDays: pulumi.Input<number>;
  region: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Seconds a DNS answer for the tasks may be kept: with Prometheus' refresh, under the 30 s drain. */
export const DISCOVERY_TTL = 5;
/** The monitoring task: Prometheus and Grafana for a handful of tasks. */
export const MONITORING_CPU = 512;
export const MONITORING_MEMORY = 1024;
/** The users the official images run as: Prometheus `nobody`, Grafana 472 (group root). */
export const PROMETHEUS_USER = { uid: 65534, gid: 65534 };
export const GRAFANA_USER = { uid: 472, gid: 0 };
/** Actions the SSM agent of ECS Exec needs; AWS offers no resource for them. */
export const EXEC_ACTIONS = [
  'ssmmessages:CreateControlChannel',
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
];

/** The task-metrics sidecar each app task runs (docs/METRICS.md, "The ECS task"). */
export const TASK_METRICS_SIDECAR: SidecarSpec = {
  name: TASK_METRICS_CONTAINER,
  image: TASK_METRICS_IMAGE,
  port: TASK_METRICS_PORT,
  // Its own Go runtime's metrics are not the task's.
  command: ['--web.disable-exporter-metrics'],
  user: '65534:65534',
  memoryReservation: 32,
};

/** What the monitoring task may do in AWS: open ECS Exec's channels, mount its own storage. */
export function monitoringTaskPolicy(fileSystemArn: string, accessPointArns: string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'EcsExecChannels', Effect: 'Allow', Action: EXEC_ACTIONS, Resource: '*' },
      {
        Sid: 'MountItsStorage',
        Effect: 'Allow',
        Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
        Resource: fileSystemArn,
        Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': accessPointArns } },
      },
    ],
  });
}

/** What ECS may do to start it: write its logs, read Grafana's password. Its images are public. */
export function monitoringExecutionPolicy(logGroupArn: string, secretArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'WriteItsLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: `${logGroupArn}:*`,
      },
      {
        Sid: 'ReadGrafanasPassword',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [secretArn],
      },
    ],
  });
}

/** The resolved inputs of the monitoring task's containers. */
export interface MonitoringContainersInput {
  files: readonly MonitoringFile[];
  prometheus: { image: string; command: string[] };
  grafana: { image: string; environment: Record<string, string> };
  grafanaSecretArn: string;
  logGroup: string;
  region: string;
}

/**
 * The monitoring task's containers, as ECS's JSON: `config` writes the files (compose.yaml's
 * bind mounts on the host) and exits; then Prometheus with the host's flags, and Grafana with
 * the host's settings. Both listen on the task's loopback only.
 */
export function monitoringContainerDefinitions(input: MonitoringContainersInput): string {
  const logs = (prefix: string) => ({
    logDriver: 'awslogs',
    options: {
      'awslogs-group': input.logGroup,
      'awslogs-region': input.region,
      'awslogs-stream-prefix': prefix,
    },
  });
  const mount = (volume: keyof typeof CONFIG_VOLUMES) => ({
    sourceVolume: volume,
    containerPath: CONFIG_VOLUMES[volume],
    readOnly: true,
  });
  const { script, environment } = configContainerScript(input.files);
  const afterConfig = [{ containerName: 'config', condition: 'SUCCESS' }];
  return JSON.stringify([
    {
      name: 'config',
      image: input.prometheus.image,
      essential: false,
      // Root, to write into the fresh task volumes; it reads nothing but its environment.
      user: '0',
      entryPoint: ['/bin/sh', '-c'],
      command: [script],
      environment: Object.entries(environment).map(([name, value]) => ({ name, value })),
      readonlyRootFilesystem: true,
      mountPoints: Object.keys(CONFIG_VOLUMES).map((volume) => ({
        sourceVolume: volume,
        containerPath: `${CONFIG_OUT}/${volume}`,
        readOnly: false,
      })),
      linuxParameters: { capabilities: { drop: ['ALL'] } },
      logConfiguration: logs('config'),
    },
    {
      name: 'prometheus',
      image: input.prometheus.image,
      essential: true,
      command: input.prometheus.command,
      user: `${PROMETHEUS_USER.uid}:${PROMETHEUS_USER.gid}`,
      readonlyRootFilesystem: true,
      mountPoints: [
        mount('prometheus-config'),
        { sourceVolume: 'prometheus-data', containerPath: '/prometheus', readOnly: false },
      ],
      dependsOn: afterConfig,
      linuxParameters: { capabilities: { drop: ['ALL'] }, initProcessEnabled: true },
      stopTimeout: 30,
      logConfiguration: logs('prometheus'),
    },
    {
      name: 'grafana',
      image: input.grafana.image,
      essential: true,
      user: `${GRAFANA_USER.uid}:${GRAFANA_USER.gid}`,
      environment: Object.entries(input.grafana.environment).map(([name, value]) => ({
        name,
        value,
      })),
      secrets: [
        {
          name: 'GF_SECURITY_ADMIN_PASSWORD',
          valueFrom: `${input.grafanaSecretArn}:GF_SECURITY_ADMIN_PASSWORD::`,
        },
      ],
      // ECS Exec, through which people reach Grafana, needs a writable root file system.
      readonlyRootFilesystem: false,
      mountPoints: [
        mount('grafana-provisioning'),
        mount('grafana-dashboards'),
        { sourceVolume: 'grafana-data', containerPath: '/var/lib/grafana', readOnly: false },
      ],
      dependsOn: afterConfig,
      linuxParameters: { capabilities: { drop: ['ALL'] }, initProcessEnabled: true },
      logConfiguration: logs('grafana'),
    },
  ]);
}

export class EcsMonitoring extends pulumi.ComponentResource {
  /** The Cloud Map service of each scrape target, by ECS service name, for its serviceRegistries. */
  readonly registryArns: Record<string, pulumi.Output<string>>;
  readonly namespaceName: pulumi.Output<string>;
  readonly serviceName: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly grafanaSecretArn: pulumi.Output<string>;

  constructor(name: string, args: EcsMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:EcsMonitoring', name, {}, opts);

    const namespace = new aws.servicediscovery.PrivateDnsNamespace(
      `${name}-namespace`,
      {
        name: `${args.stackName}.internal`,
        vpc: args.vpcId,
        description: 'Reflex tasks, for Prometheus: ECS registers each one',
        tags: args.tags,
      },
      { parent: this },
    );
    this.registryArns = Object.fromEntries(
      args.targets.map((target) => [
        target.service,
        this.discoveryService(name, target.service, namespace.id, args).arn,
      ]),
    );
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description:
          "Reflex monitoring task: no way in; out to the tasks' metrics, its storage, AWS",
        tags: args.tags,
      },
      { parent: this },
    );
    this.allowScrapes(name, securityGroup.id, args);
    const storage = this.storage(name, securityGroup.id, args);
    const secret = this.grafanaSecret(name, args);
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      {
        name: `/${args.stackName}/monitoring`,
        retentionInDays: args.logRetentionDays,
        tags: args.tags,
      },
      { parent: this },
    );
    const service = this.service(name, args, securityGroup.id, storage, secret, logGroup);

    this.namespaceName = namespace.name;
    this.serviceName = service.name;
    this.securityGroupId = securityGroup.id;
    this.grafanaSecretArn = secret.arn;
    this.registerOutputs({
      namespaceName: this.namespaceName,
      serviceName: this.serviceName,
      grafanaSecretArn: this.grafanaSecretArn,
    });
  }

  /**
   * A Cloud Map service answering one SRV record per task. No health check of its own: a task
   * that runs but fails must stay listed, so that Prometheus sees it down.
   */
  private discoveryService(
    name: string,
    service: string,
    namespaceId: pulumi.Output<string>,
    args: EcsMonitoringArgs,
  ): aws.servicediscovery.Service {
    return new aws.servicediscovery.Service(
      `${name}-${service}`,
      {
        name: service,
        description: `Reflex ${service} tasks, registered by ECS`,
        dnsConfig: {
          namespaceId,
          routingPolicy: 'MULTIVALUE',
          dnsRecords: [{ type: 'SRV', ttl: DISCOVERY_TTL }],
        },
        // Tasks ECS has not yet deregistered must not block a `pulumi destroy`.
        forceDestroy: true,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /** The app port (for /metrics) and the sidecar's port of each target, from this task only. */
  private allowScrapes(
    name: string,
    monitoringGroupId: pulumi.Output<string>,
    args: EcsMonitoringArgs,
  ): void {
    for (const target of args.targets) {
      for (const [what, port] of [
        ['metrics', target.appPort],
        ['task-metrics', TASK_METRICS_PORT],
      ] as const) {
        const common = { ipProtocol: 'tcp', fromPort: port, toPort: port, tags: args.tags };
        new aws.vpc.SecurityGroupIngressRule(
          `${name}-${target.service}-${what}`,
          {
            ...common,
            securityGroupId: target.securityGroupId,
            description: `Prometheus scrapes the ${target.service} tasks`,
            referencedSecurityGroupId: monitoringGroupId,
          },
          { parent: this },
        );
        new aws.vpc.SecurityGroupEgressRule(
          `${name}-to-${target.service}-${what}`,
          {
            ...common,
            securityGroupId: monitoringGroupId,
            description: `Scrapes of the ${target.service} tasks`,
            referencedSecurityGroupId: target.securityGroupId,
          },
          { parent: this },
        );
      }
    }
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-https`,
      {
        securityGroupId: monitoringGroupId,
        description: 'Image pulls, ECS Exec, CloudWatch Logs, Secrets Manager',
        ipProtocol: 'tcp',
        fromPort: 443,
        toPort: 443,
        cidrIpv4: '0.0.0.0/0',
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /**
   * Prometheus' and Grafana's data: an encrypted file system of their own (not the platform's),
   * mounted over TLS with IAM through one access point each, as each image's user. Monitoring
   * history only: no backup, no protection.
   */
  private storage(name: string, monitoringGroupId: pulumi.Output<string>, args: EcsMonitoringArgs) {
    const fileSystem = new aws.efs.FileSystem(
      `${name}-fs`,
      {
        encrypted: true,
        performanceMode: 'generalPurpose',
        throughputMode: 'elastic',
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.efs.FileSystemPolicy(
      `${name}-fs-policy`,
      { fileSystemId: fileSystem.id, policy: fileSystem.arn.apply(fileSystemPolicy) },
      { parent: this },
    );
    const accessPoint = (what: string, user: { uid: number; gid: number }) =>
      new aws.efs.AccessPoint(
        `${name}-${what}`,
        {
          fileSystemId: fileSystem.id,
          posixUser: user,
          rootDirectory: {
            path: `/${what}`,
            creationInfo: { ownerUid: user.uid, ownerGid: user.gid, permissions: '0750' },
          },
          tags: args.tags,
        },
        { parent: this },
      );
    const prometheus = accessPoint('prometheus', PROMETHEUS_USER);
    const grafana = accessPoint('grafana', GRAFANA_USER);
    const mountGroup = new aws.ec2.SecurityGroup(
      `${name}-fs-sg`,
      {
        vpcId: args.vpcId,
        description: 'Reflex monitoring storage (EFS): NFS from the monitoring task only',
        tags: args.tags,
      },
      { parent: this },
    );
    const nfs = { ipProtocol: 'tcp', fromPort: NFS_PORT, toPort: NFS_PORT, tags: args.tags };
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-nfs`,
      {
        ...nfs,
        securityGroupId: mountGroup.id,
        description: 'NFS from the monitoring task',
        referencedSecurityGroupId: monitoringGroupId,
      },
      { parent: this },
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-to-nfs`,
      {
        ...nfs,
        securityGroupId: monitoringGroupId,
        description: 'Its storage (EFS)',
        referencedSecurityGroupId: mountGroup.id,
      },
      { parent: this },
    );
    args.subnetIds.forEach((subnetId, index) => {
      new aws.efs.MountTarget(
        `${name}-mount-${index}`,
        { fileSystemId: fileSystem.id, subnetId, securityGroups: [mountGroup.id] },
        { parent: this },
      );
    });
    return { fileSystem, prometheus, grafana };
  }

  /** Grafana's admin password, generated once; later runs leave it alone (docs/MONITORING.md). */
  private grafanaSecret(name: string, args: EcsMonitoringArgs): aws.secretsmanager.Secret {
    const secret = new aws.secretsmanager.Secret(
      `${name}-grafana`,
      {
        name: `${args.stackName}/grafana`,
        description: "Reflex monitoring: Grafana's admin password",
        recoveryWindowInDays: 7,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-grafana`,
      {
        secretId: secret.id,
        secretString: pulumi.secret(
          JSON.stringify({ GF_SECURITY_ADMIN_PASSWORD: randomBytes(24).toString('base64url') }),
        ),
      },
      { parent: this, ignoreChanges: ['secretString'] },
    );
    return secret;
  }

  private service(
    name: string,
    args: EcsMonitoringArgs,
    securityGroupId: pulumi.Output<string>,
    storage: ReturnType<EcsMonitoring['storage']>,
    secret: aws.secretsmanager.Secret,
    logGroup: aws.cloudwatch.LogGroup,
  ): aws.ecs.Service {
    const trust = serviceTrustPolicy('ecs-tasks.amazonaws.com');
    const role = (what: string, description: string, policy: pulumi.Input<string>) => {
      const created = new aws.iam.Role(
        `${name}-${what}`,
        { description, assumeRolePolicy: trust, tags: args.tags },
        { parent: this },
      );
      new aws.iam.RolePolicy(`${name}-${what}`, { role: created.id, policy }, { parent: this });
      return created;
    };
    const execution = role(
      'execution',
      'Reflex monitoring: ECS writes its logs and reads its secret',
      pulumi
        .all([logGroup.arn, secret.arn])
        .apply(([logs, s]) => monitoringExecutionPolicy(logs, s)),
    );
    const task = role(
      'task',
      'Reflex monitoring: ECS Exec channels and its own storage, nothing else',
      pulumi
        .all([storage.fileSystem.arn, storage.prometheus.arn, storage.grafana.arn])
        .apply(([fs, p, g]) => monitoringTaskPolicy(fs, [p, g])),
    );
    const prometheus = composeService(args.repoRoot, 'prometheus');
    const grafana = composeService(args.repoRoot, 'grafana');
    const namespace = `${args.stackName}.internal`;
    const files = monitoringFiles(args.repoRoot, {
      namespace,
      services: args.targets.map((target) => target.service),
    });
    const efsVolume = (volume: string, accessPoint: aws.efs.AccessPoint) => ({
      name: volume,
      efsVolumeConfiguration: {
        fileSystemId: storage.fileSystem.id,
        transitEncryption: 'ENABLED',
        authorizationConfig: { accessPointId: accessPoint.id, iam: 'ENABLED' },
      },
    });
    const taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task`,
      {
        family: `${args.stackName}-monitoring`,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
        cpu: String(MONITORING_CPU),
        memory: String(MONITORING_MEMORY),
        executionRoleArn: execution.arn,
        taskRoleArn: task.arn,
        containerDefinitions: pulumi
          .all([secret.arn, logGroup.name, args.region])
          .apply(([grafanaSecretArn, logs, region]) =>
            monitoringContainerDefinitions({
              files,
              prometheus: { image: prometheus.image, command: prometheus.command ?? [] },
              grafana: { image: grafana.image, environment: grafana.environment ?? {} },
              grafanaSecretArn,
              logGroup: logs,
              region,
            }),
          ),
        volumes: [
          ...Object.keys(CONFIG_VOLUMES).map((volume) => ({ name: volume })),
          efsVolume('prometheus-data', storage.prometheus),
          efsVolume('grafana-data', storage.grafana),
        ],
        tags: args.tags,
      },
      { parent: this },
    );
    return new aws.ecs.Service(
      `${name}-service`,
      {
        name: 'monitoring',
        cluster: args.cluster.arn,
        taskDefinition: taskDefinition.arn,
        launchType: 'FARGATE',
        platformVersion: 'LATEST',
        desiredCount: 1,
        // One Prometheus writes the TSDB at a time: the old task stops before the new starts.
        deploymentMinimumHealthyPercent: 0,
        deploymentMaximumPercent: 100,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        enableExecuteCommand: true,
        networkConfiguration: {
          subnets: [...args.subnetIds],
          securityGroups: [securityGroupId],
          // As the app's tasks: no NAT gateway, so image pulls, ECS Exec and CloudWatch Logs go
          // out through a public address. Its group lets nothing in.
          assignPublicIp: true,
        },
        propagateTags: 'SERVICE',
        enableEcsManagedTags: true,
        waitForSteadyState: false,
        tags: args.tags,
      },
      { parent: this },
    );
  }
}
