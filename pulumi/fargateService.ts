// One service of the ecs runtime (the platform, or the site): a Fargate task definition from the
// app's image, a service behind its ALB target group in both zones with the deployment circuit
// breaker and rollback, autoscaling on requests per target, its own security group (the ALB
// only), its own roles and its own log group. The containers' JSON is written in
// taskDefinition.ts, the roles' policies in taskRoles.ts.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { allowAlbTo } from './edge';
import type { SidecarSpec } from './taskDefinition';
import { FARGATE_TASK, containerDefinitions, efsVolume } from './taskDefinition';
import { executionPolicy, taskRole } from './taskRoles';

/** A ContainerSpec whose values may still be outputs of other resources. */
export interface ContainerArgs {
  name: string;
  port: number;
  command?: string[];
  user?: string;
  readonlyRootFilesystem: boolean;
  environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
  secrets: pulumi.Input<Record<string, pulumi.Input<string>>>;
  sharedState?: {
    fileSystemId: pulumi.Input<string>;
    accessPointId: pulumi.Input<string>;
    path: string;
  };
}

export interface FargateServiceArgs {
  cluster: { arn: pulumi.Input<string>; name: pulumi.Input<string> };
  /** The ECS service's name, also the task family's suffix (`platform`, `site`). */
  serviceName: string;
  /** `<project>-<stack>`. */
  stackName: pulumi.Input<string>;
  /** The image the task definition starts with; each deploy registers a revision by digest. */
  image: pulumi.Input<string>;
  container: ContainerArgs;
  cpu: pulumi.Input<number>;
  memory: pulumi.Input<number>;
  desiredCount: pulumi.Input<number>;
  maxCount: pulumi.Input<number>;
  /** Target of the autoscaling policy: ALB requests per task per minute. */
  requestsPerTask: pulumi.Input<number>;
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The tasks' own security group (made by the caller, so that others can name it first). */
  securityGroupId: pulumi.Input<string>;
  alb: {
    securityGroupId: pulumi.Input<string>;
    loadBalancerArnSuffix: pulumi.Input<string>;
    targetGroup: aws.lb.TargetGroup;
    /** The listener (and rules) the target group is reached through: ECS wants them first. */
    dependsOn: pulumi.Resource[];
  };
  repositoryArn: pulumi.Input<string>;
  /** Secrets the task starts with (the execution role may read these, and only these). */
  secretArns: pulumi.Input<string>[];
  /** The task role's policy: what the container may do in AWS. Absent: no role, no credentials. */
  taskPolicy?: pulumi.Input<string>;
  /** Containers beside the app in each task. */
  sidecars?: SidecarSpec[];
  /** The Cloud Map service ECS registers each task in (an SRV record: the app's port). */
  discovery?: { registryArn: pulumi.Input<string> };
  logRetentionDays: pulumi.Input<number>;
  region: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** What every ECS service of the stack is: Fargate, rolled back by the circuit breaker, tagged. */
export const FARGATE_SERVICE = {
  launchType: 'FARGATE',
  platformVersion: 'LATEST',
  deploymentCircuitBreaker: { enable: true, rollback: true },
  propagateTags: 'SERVICE',
  enableEcsManagedTags: true,
  waitForSteadyState: false,
} as const;

export class FargateService extends pulumi.ComponentResource {
  readonly serviceName: pulumi.Output<string>;
  readonly serviceArn: pulumi.Output<string>;
  readonly taskFamily: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  /** The roles a task definition of this service passes to ECS (for the deploy role's PassRole). */
  readonly roleArns: pulumi.Output<string>[];

  constructor(name: string, args: FargateServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:FargateService', name, {}, opts);

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      {
        name: pulumi.interpolate`/${args.stackName}/${args.serviceName}`,
        retentionInDays: args.logRetentionDays,
        tags: args.tags,
      },
      { parent: this },
    );
    const roles = this.roles(name, args, logGroup.arn);
    const taskDefinition = this.taskDefinition(name, args, logGroup.name, roles);
    this.allowTraffic(name, args);
    const service = this.service(name, args, taskDefinition);
    this.autoscale(name, args, service);

    this.serviceName = service.name;
    this.serviceArn = service.arn;
    this.taskFamily = taskDefinition.family;
    this.securityGroupId = pulumi.output(args.securityGroupId);
    this.roleArns = [roles.execution.arn, ...(roles.task ? [roles.task.arn] : [])];
    this.registerOutputs({
      serviceName: this.serviceName,
      serviceArn: this.serviceArn,
      taskFamily: this.taskFamily,
      securityGroupId: this.securityGroupId,
    });
  }

  /** The execution role (ECS's, to start the task) and, when the app needs AWS, the task role. */
  private roles(
    name: string,
    args: FargateServiceArgs,
    logGroupArn: pulumi.Output<string>,
  ): { execution: aws.iam.Role; task?: aws.iam.Role } {
    const execution = taskRole(
      `${name}-execution`,
      {
        description: `Reflex ${args.serviceName}: ECS pulls its image, writes its logs, reads its secrets`,
        policy: pulumi
          .all([args.repositoryArn, logGroupArn, pulumi.all(args.secretArns)])
          .apply(([repository, logs, secrets]) => executionPolicy(repository, logs, secrets)),
        tags: args.tags,
      },
      this,
    );
    if (args.taskPolicy === undefined) return { execution };
    const task = taskRole(
      `${name}-task`,
      {
        description: `Reflex ${args.serviceName}: what the app itself may do in AWS`,
        policy: args.taskPolicy,
        tags: args.tags,
      },
      this,
    );
    return { execution, task };
  }

  private taskDefinition(
    name: string,
    args: FargateServiceArgs,
    logGroupName: pulumi.Output<string>,
    roles: { execution: aws.iam.Role; task?: aws.iam.Role },
  ): aws.ecs.TaskDefinition {
    const container = pulumi.output(args.container);
    return new aws.ecs.TaskDefinition(
      `${name}-task`,
      {
        family: pulumi.interpolate`${args.stackName}-${args.serviceName}`,
        ...FARGATE_TASK,
        cpu: pulumi.output(args.cpu).apply(String),
        memory: pulumi.output(args.memory).apply(String),
        executionRoleArn: roles.execution.arn,
        ...(roles.task ? { taskRoleArn: roles.task.arn } : {}),
        containerDefinitions: pulumi
          .all([container, args.image, logGroupName, args.region])
          .apply(([spec, image, logs, region]) =>
            containerDefinitions(spec, image, logs, region, args.sidecars),
          ),
        volumes: container.apply((spec) =>
          spec.sharedState
            ? [
                efsVolume(
                  'shared-state',
                  spec.sharedState.fileSystemId,
                  spec.sharedState.accessPointId,
                ),
              ]
            : [],
        ),
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /** The tasks' group: the container port from the ALB only; out to ECR, AWS and GitHub. */
  private allowTraffic(name: string, args: FargateServiceArgs): void {
    allowAlbTo(
      `${name}-app`,
      {
        albSecurityGroupId: args.alb.securityGroupId,
        targetSecurityGroupId: args.securityGroupId,
        port: args.container.port,
        what: `the ${args.serviceName} tasks`,
        tags: args.tags,
      },
      this,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-egress`,
      {
        securityGroupId: args.securityGroupId,
        description: 'Image pulls, AWS APIs, GitHub',
        ipProtocol: '-1',
        cidrIpv4: '0.0.0.0/0',
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /**
   * The service. Pulumi owns its shape; the deploy workflow owns which revision runs (it
   * registers one per image digest) and the autoscaler owns how many: both are left to them.
   */
  private service(
    name: string,
    args: FargateServiceArgs,
    taskDefinition: aws.ecs.TaskDefinition,
  ): aws.ecs.Service {
    return new aws.ecs.Service(
      `${name}-service`,
      {
        name: args.serviceName,
        cluster: args.cluster.arn,
        taskDefinition: taskDefinition.arn,
        ...FARGATE_SERVICE,
        desiredCount: args.desiredCount,
        // A new revision starts beside the old one; old tasks leave only once the new are
        // healthy in the target group, and a revision that never gets healthy is rolled back.
        deploymentMinimumHealthyPercent: 100,
        deploymentMaximumPercent: 200,
        availabilityZoneRebalancing: 'ENABLED',
        healthCheckGracePeriodSeconds: 60,
        networkConfiguration: {
          subnets: args.subnetIds,
          securityGroups: [args.securityGroupId],
          // No NAT gateway in the VPC: a task reaches ECR, Secrets Manager, CloudWatch Logs
          // (and the platform GitHub) through its public address. Nothing reaches the task
          // that way: its group admits the ALB only.
          assignPublicIp: true,
        },
        loadBalancers: [
          {
            targetGroupArn: args.alb.targetGroup.arn,
            containerName: args.container.name,
            containerPort: args.container.port,
          },
        ],
        ...(args.discovery === undefined
          ? {}
          : {
              serviceRegistries: {
                registryArn: args.discovery.registryArn,
                containerName: args.container.name,
                containerPort: args.container.port,
              },
            }),
        tags: args.tags,
      },
      {
        parent: this,
        dependsOn: args.alb.dependsOn,
        ignoreChanges: ['taskDefinition', 'desiredCount'],
      },
    );
  }

  /** Target tracking on ALB requests per task, between desiredCount and maxCount tasks. */
  private autoscale(name: string, args: FargateServiceArgs, service: aws.ecs.Service): void {
    const target = new aws.appautoscaling.Target(
      `${name}-scaling`,
      {
        serviceNamespace: 'ecs',
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId: pulumi.interpolate`service/${args.cluster.name}/${service.name}`,
        minCapacity: args.desiredCount,
        maxCapacity: args.maxCount,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.appautoscaling.Policy(
      `${name}-requests`,
      {
        policyType: 'TargetTrackingScaling',
        serviceNamespace: target.serviceNamespace,
        scalableDimension: target.scalableDimension,
        resourceId: target.resourceId,
        targetTrackingScalingPolicyConfiguration: {
          predefinedMetricSpecification: {
            predefinedMetricType: 'ALBRequestCountPerTarget',
            resourceLabel: pulumi.interpolate`${args.alb.loadBalancerArnSuffix}/${args.alb.targetGroup.arnSuffix}`,
          },
          targetValue: args.requestsPerTask,
          scaleOutCooldown: 60,
          scaleInCooldown: 300,
        },
      },
      { parent: this },
    );
  }
}
