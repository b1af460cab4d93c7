// The ecs runtime's monitoring: Prometheus and Grafana as one small Fargate service of their
// own, and the Cloud Map namespace through which Prometheus finds every task of the app's
// services (ECS registers each task there, as an SRV record). Nothing reaches the monitoring
// task from outside: people come through ECS Exec's port forwarding (docs/MONITORING.md, "On
// ECS"), and only it reaches the tasks' metrics ports. Its history lives on an encrypted EFS
// file system of its own, written by one task at a time. The task's containers and policies are
// in monitoringTask.ts, the discovery of the app's tasks in monitoringDiscovery.ts.
import { randomBytes } from 'node:crypto';

import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { NFS_PORT, accessPoint, encryptedFileSystem, mountTargets } from './efs';
import { FARGATE_SERVICE } from './fargateService';
import { generatedSecret } from './generatedSecret';
import { CONFIG_VOLUMES, composeService, monitoringFiles } from './monitoringConfig';
import type { ScrapeTarget } from './monitoringDiscovery';
import { allowScrapes, discoveryService } from './monitoringDiscovery';
import {
  GRAFANA_USER,
  MONITORING_CPU,
  MONITORING_MEMORY,
  PROMETHEUS_USER,
  monitoringContainerDefinitions,
  monitoringExecutionPolicy,
  monitoringTaskPolicy,
} from './monitoringTask';
import { FARGATE_TASK, efsVolume } from './taskDefinition';
import { taskRole } from './taskRoles';

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

/** The monitoring task's group: its rules are the scrapes and the storage it reaches. */
const MONITORING_GROUP =
  "Reflex monitoring task: no way in; out to the tasks' metrics, its storage, AWS";

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
        discoveryService(
          `${name}-${target.service}`,
          { service: target.service, namespaceId: namespace.id, tags: args.tags },
          this,
        ).arn,
      ]),
    );
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      { vpcId: args.vpcId, description: MONITORING_GROUP, tags: args.tags },
      { parent: this },
    );
    allowScrapes(
      name,
      { monitoringGroupId: securityGroup.id, targets: args.targets, tags: args.tags },
      this,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-https`,
      {
        securityGroupId: securityGroup.id,
        description: 'Image pulls, ECS Exec, CloudWatch Logs, Secrets Manager',
        ipProtocol: 'tcp',
        fromPort: 443,
        toPort: 443,
        cidrIpv4: '0.0.0.0/0',
        tags: args.tags,
      },
      { parent: this },
    );
    const storage = this.storage(name, securityGroup.id, args);
    // Grafana's admin password, generated once; later runs leave it alone (docs/MONITORING.md).
    const secret = generatedSecret(
      `${name}-grafana`,
      {
        secretName: `${args.stackName}/grafana`,
        description: "Reflex monitoring: Grafana's admin password",
        initial: { GF_SECURITY_ADMIN_PASSWORD: randomBytes(24).toString('base64url') },
        tags: args.tags,
      },
      this,
    );
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
   * Prometheus' and Grafana's data: an encrypted file system of their own (not the platform's),
   * mounted over TLS with IAM through one access point each, as each image's user. Monitoring
   * history only: no backup, no protection.
   */
  private storage(name: string, monitoringGroupId: pulumi.Output<string>, args: EcsMonitoringArgs) {
    const fileSystem = encryptedFileSystem(
      `${name}-fs`,
      { policyName: `${name}-fs-policy`, tags: args.tags },
      { parent: this },
    );
    const access = (what: string, user: { uid: number; gid: number }) =>
      accessPoint(
        `${name}-${what}`,
        { fileSystemId: fileSystem.id, user, path: `/${what}`, tags: args.tags },
        this,
      );
    const prometheus = access('prometheus', PROMETHEUS_USER);
    const grafana = access('grafana', GRAFANA_USER);
    const mountGroup = mountTargets(
      name,
      {
        groupName: `${name}-fs-sg`,
        vpcId: args.vpcId,
        subnetIds: args.subnetIds,
        fileSystemId: fileSystem.id,
        description: 'Reflex monitoring storage (EFS): NFS from the monitoring task only',
        clientGroupId: monitoringGroupId,
        clientDescription: 'NFS from the monitoring task',
        tags: args.tags,
      },
      this,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-to-nfs`,
      {
        securityGroupId: monitoringGroupId,
        description: 'Its storage (EFS)',
        ipProtocol: 'tcp',
        fromPort: NFS_PORT,
        toPort: NFS_PORT,
        referencedSecurityGroupId: mountGroup.id,
        tags: args.tags,
      },
      { parent: this },
    );
    return { fileSystem, prometheus, grafana };
  }

  private service(
    name: string,
    args: EcsMonitoringArgs,
    securityGroupId: pulumi.Output<string>,
    storage: ReturnType<EcsMonitoring['storage']>,
    secret: aws.secretsmanager.Secret,
    logGroup: aws.cloudwatch.LogGroup,
  ): aws.ecs.Service {
    const execution = taskRole(
      `${name}-execution`,
      {
        description: 'Reflex monitoring: ECS writes its logs and reads its secret',
        policy: pulumi
          .all([logGroup.arn, secret.arn])
          .apply(([logs, s]) => monitoringExecutionPolicy(logs, s)),
        tags: args.tags,
      },
      this,
    );
    const task = taskRole(
      `${name}-task`,
      {
        description: 'Reflex monitoring: ECS Exec channels and its own storage, nothing else',
        policy: pulumi
          .all([storage.fileSystem.arn, storage.prometheus.arn, storage.grafana.arn])
          .apply(([fs, p, g]) => monitoringTaskPolicy(fs, [p, g])),
        tags: args.tags,
      },
      this,
    );
    const prometheus = composeService(args.repoRoot, 'prometheus');
    const grafana = composeService(args.repoRoot, 'grafana');
    const namespace = `${args.stackName}.internal`;
    const files = monitoringFiles(args.repoRoot, {
      namespace,
      services: args.targets.map((target) => target.service),
    });
    const efsData = (volume: string, access: aws.efs.AccessPoint) =>
      efsVolume(volume, storage.fileSystem.id, access.id);
    const taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task`,
      {
        family: `${args.stackName}-monitoring`,
        ...FARGATE_TASK,
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
          efsData('prometheus-data', storage.prometheus),
          efsData('grafana-data', storage.grafana),
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
        ...FARGATE_SERVICE,
        desiredCount: 1,
        // One Prometheus writes the TSDB at a time: the old task stops before the new starts.
        deploymentMinimumHealthyPercent: 0,
        deploymentMaximumPercent: 100,
        enableExecuteCommand: true,
        networkConfiguration: {
          subnets: [...args.subnetIds],
          securityGroups: [securityGroupId],
          // As the app's tasks: no NAT gateway, so image pulls, ECS Exec and CloudWatch Logs go
          // out through a public address. Its group lets nothing in.
          assignPublicIp: true,
        },
        tags: args.tags,
      },
      { parent: this },
    );
  }
}
