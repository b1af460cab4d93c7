// The `ecs` runtime: the same image as a host runs, as two Fargate services behind the ALB. The
// platform (editor, API, git, accounts) shares its state through EFS and takes its session
// secret from Secrets Manager; the site runs apart, as an unprivileged user with a read-only
// file system, no secret, no AWS role and its own security group. The ALB routes by host name,
// as nginx does on a host. Prometheus and Grafana run beside them (ecsMonitoring.ts) and find
// every task through Cloud Map.
import { randomBytes } from 'node:crypto';

import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { EcsConfig, OperatorSecret } from './configSchema';
import { EcsMonitoring } from './ecsMonitoring';
import type { Edge, RouteSpec, TargetSpec } from './edge';
import { FargateService } from './fargateService';
import { generatedSecret } from './generatedSecret';
import { TASK_METRICS_SIDECAR } from './monitoringDiscovery';
import { SharedState, clientPolicy } from './sharedState';
import type { AppUrls } from './userData';
import { platformSettings } from './userData';
import { policyDocument } from './policyDocument';

export interface EcsRuntimeArgs {
  /** `<project>-<stack>`: names the cluster, task families, log groups and the secret. */
  stackName: string;
  vpcId: pulumi.Input<string>;
  /** The public subnets, one per zone (a plain list: a mount target goes in each). */
  subnetIds: readonly pulumi.Input<string>[];
  repositoryUrl: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  region: pulumi.Input<string>;
  deployBranch: pulumi.Input<string>;
  githubRepository: pulumi.Input<string>;
  urls: pulumi.Input<AppUrls>;
  edge: Edge;
  settings: EcsConfig;
  /** The repository: the monitoring task runs its prometheus/, grafana/ and compose.yaml. */
  repoRoot: string;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const APP_PORT = 3000;
/** Long enough for a save or a page to finish; event streams reconnect on their own. */
export const DEREGISTRATION_DELAY = 30;
export const SHARED_STATE_PATH = '/data';
/** The site's process: Node's permission model, reads of its own files only (docs/ARCHITECTURE.md). */
export const SITE_COMMAND = [
  'node',
  '--permission',
  '--allow-fs-read=/app/webapp/site',
  '--allow-fs-read=/app/webapp/dist',
  'webapp/dist/site.js',
];
/** nobody:nogroup: the site owns no file in the image. */
export const SITE_USER = '65534:65534';

/** The ALB's targets in the ecs runtime: the site takes what no rule claims. */
export const ECS_TARGETS: TargetSpec[] = [
  { name: 'site', targetType: 'ip', port: APP_PORT, deregistrationDelay: DEREGISTRATION_DELAY },
  { name: 'platform', targetType: 'ip', port: APP_PORT, deregistrationDelay: DEREGISTRATION_DELAY },
];

/**
 * The host-name routing nginx does on a host, as ALB rules: the editor's origin goes to the
 * platform (but /metrics); on any other name /healthz and /version go to the platform,
 * /metrics and /api never reach anything, /editor moves to the editor's origin, and the rest
 * is the site.
 */
export function ecsRoutes(editorHost: string | undefined): RouteSpec[] {
  const notFound = {
    fixedResponse: { statusCode: '404', contentType: 'text/plain', messageBody: 'not found\n' },
  };
  const apiNotFound = {
    fixedResponse: {
      statusCode: '404',
      contentType: 'application/json',
      messageBody: '{"error":"not found"}',
    },
  };
  const editorOrigin: RouteSpec[] =
    editorHost === undefined
      ? []
      : [
          { priority: 10, hosts: [editorHost], paths: ['/metrics'], action: notFound },
          { priority: 20, hosts: [editorHost], action: { forward: 'platform' } },
        ];
  return [
    ...editorOrigin,
    { priority: 30, paths: ['/metrics'], action: notFound },
    { priority: 40, paths: ['/healthz', '/version'], action: { forward: 'platform' } },
    { priority: 50, paths: ['/api', '/api/*'], action: apiNotFound },
    {
      priority: 60,
      paths: ['/editor', '/editor/*'],
      action: editorHost === undefined ? notFound : { redirectToHost: editorHost },
    },
  ];
}

/** The platform's environment: the host's settings, plus what the operator's secrets turn on. */
export function platformEnvironment(
  settings: Record<string, string>,
  operatorSecrets: readonly OperatorSecret[],
): Record<string, string> {
  const repository = settings.REFLEX_GITHUB_REPOSITORY ?? '';
  return {
    ...settings,
    HOST: '0.0.0.0',
    PORT: String(APP_PORT),
    ...(operatorSecrets.includes('REFLEX_GIT_TOKEN')
      ? { REFLEX_REPO_URL: `https://github.com/${repository}.git` }
      : {}),
    ...(operatorSecrets.includes('REFLEX_GITHUB_TOKEN') ? { REFLEX_PIPELINE: 'github' } : {}),
  };
}

/** What the deploy workflow may do: register revisions, and roll these services onto them. */
export function deployServicesPolicy(
  clusterArn: string,
  serviceArns: readonly string[],
  roleArns: readonly string[],
): string {
  return policyDocument(
    {
      Sid: 'RegisterRevisions',
      Effect: 'Allow',
      // ECS offers no resource for these two.
      Action: ['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition'],
      Resource: '*',
    },
    {
      Sid: 'UpdateTheseServices',
      Effect: 'Allow',
      Action: ['ecs:DescribeServices', 'ecs:UpdateService'],
      Resource: [...serviceArns],
      Condition: { ArnEquals: { 'ecs:cluster': clusterArn } },
    },
    {
      Sid: 'PassTheirRoles',
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: [...roleArns],
      Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    },
  );
}

export class EcsRuntime extends pulumi.ComponentResource {
  readonly clusterName: pulumi.Output<string>;
  readonly platformService: FargateService;
  readonly siteService: FargateService;
  readonly fileSystemId: pulumi.Output<string>;
  readonly secretArn: pulumi.Output<string>;
  readonly monitoring: EcsMonitoring;
  /** The deploy workflow's access: roll these two services onto new revisions. */
  readonly deployPolicies: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: EcsRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:EcsRuntime', name, {}, opts);

    const cluster = new aws.ecs.Cluster(
      `${name}-cluster`,
      { name: args.stackName, tags: args.tags },
      { parent: this },
    );
    const secret = this.platformSecret(name, args);
    const platformGroup = this.securityGroup(`${name}-platform`, 'platform', args);
    const siteGroup = this.securityGroup(`${name}-site`, 'site', args);
    this.monitoring = new EcsMonitoring(
      `${name}-monitoring`,
      {
        stackName: args.stackName,
        vpcId: args.vpcId,
        subnetIds: args.subnetIds,
        cluster: { arn: cluster.arn },
        targets: [
          { service: 'platform', securityGroupId: platformGroup.id, appPort: APP_PORT },
          { service: 'site', securityGroupId: siteGroup.id, appPort: APP_PORT },
        ],
        repoRoot: args.repoRoot,
        logRetentionDays: args.settings.logRetentionDays,
        region: args.region,
        tags: args.tags,
      },
      { parent: this },
    );
    const watched = (service: string) => ({
      sidecars: [TASK_METRICS_SIDECAR],
      discovery: { registryArn: this.monitoring.registryArns[service]! },
    });
    const state = new SharedState(
      `${name}-state`,
      { ...args, clientSecurityGroupId: platformGroup.id },
      { parent: this },
    );
    const common = this.serviceCommon(args, cluster);
    this.platformService = new FargateService(
      `${name}-platform`,
      {
        ...common,
        ...watched('platform'),
        serviceName: 'platform',
        securityGroupId: platformGroup.id,
        alb: { ...common.alb, targetGroup: args.edge.targetGroups.platform! },
        container: {
          name: 'platform',
          readonlyRootFilesystem: false,
          port: APP_PORT,
          environment: pulumi
            .all([args.deployBranch, args.githubRepository, args.urls])
            .apply(([branch, repository, urls]) =>
              platformEnvironment(
                platformSettings({ branch, repository, urls }),
                args.settings.operatorSecrets,
              ),
            ),
          secrets: secret.arn.apply((arn) =>
            Object.fromEntries(
              ['REFLEX_SESSION_SECRET', ...args.settings.operatorSecrets].map((key) => [
                key,
                `${arn}:${key}::`,
              ]),
            ),
          ),
          sharedState: {
            fileSystemId: state.fileSystemId,
            accessPointId: state.accessPointId,
            path: SHARED_STATE_PATH,
          },
        },
        secretArns: [secret.arn],
        taskPolicy: pulumi
          .all([state.fileSystemArn, state.accessPointArn])
          .apply(([fs, ap]) => clientPolicy(fs, ap)),
      },
      { parent: this },
    );
    this.siteService = new FargateService(
      `${name}-site`,
      {
        ...common,
        ...watched('site'),
        serviceName: 'site',
        securityGroupId: siteGroup.id,
        alb: { ...common.alb, targetGroup: args.edge.targetGroups.site! },
        container: {
          name: 'site',
          command: SITE_COMMAND,
          user: SITE_USER,
          readonlyRootFilesystem: true,
          port: APP_PORT,
          environment: {
            HOST: '0.0.0.0',
            PORT: String(APP_PORT),
            NODE_ENV: 'production',
            REFLEX_LOG_LEVEL: 'info',
          },
          secrets: {},
        },
        secretArns: [],
      },
      { parent: this },
    );

    this.clusterName = cluster.name;
    this.fileSystemId = state.fileSystemId;
    this.secretArn = secret.arn;
    const services = [this.platformService, this.siteService];
    this.deployPolicies = {
      'deploy-services': pulumi
        .all([
          cluster.arn,
          pulumi.all(services.map((s) => s.serviceArn)),
          pulumi.all(services.flatMap((s) => s.roleArns)),
        ])
        .apply(([clusterArn, serviceArns, roleArns]) =>
          deployServicesPolicy(clusterArn, serviceArns, roleArns),
        ),
    };
    this.registerOutputs({
      clusterName: this.clusterName,
      fileSystemId: this.fileSystemId,
      secretArn: this.secretArn,
    });
  }

  /**
   * The platform's secret: a JSON object whose REFLEX_SESSION_SECRET is generated once, here;
   * the operator adds the OPERATOR_SECRETS keys (docs/AWS.md). Later runs leave its value alone.
   */
  private platformSecret(name: string, args: EcsRuntimeArgs): aws.secretsmanager.Secret {
    const secret = generatedSecret(
      `${name}-secret`,
      {
        secretName: `${args.stackName}/platform`,
        description: 'Reflex platform: session secret, and the tokens the operator adds',
        initial: { REFLEX_SESSION_SECRET: randomBytes(32).toString('hex') },
        tags: args.tags,
      },
      this,
    );
    return secret;
  }

  /** A service's own group; its rules come with the service (the ALB) and the monitoring. */
  private securityGroup(
    name: string,
    service: string,
    args: EcsRuntimeArgs,
  ): aws.ec2.SecurityGroup {
    return new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: `Reflex ${service} tasks: from the ALB, and scrapes from the monitoring task`,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /** What both services share: cluster, network, ALB, image, sizes, logs. */
  private serviceCommon(args: EcsRuntimeArgs, cluster: aws.ecs.Cluster) {
    return {
      cluster: { arn: cluster.arn, name: cluster.name },
      stackName: args.stackName,
      // Each deploy registers a revision with the digest it deploys; until the first one the
      // services have nothing to run (docs/AWS.md, "The ecs runtime").
      image: pulumi.interpolate`${args.repositoryUrl}:first-deploy-pending`,
      cpu: args.settings.cpu,
      memory: args.settings.memory,
      desiredCount: args.settings.desiredCount,
      maxCount: args.settings.maxCount,
      requestsPerTask: args.settings.requestsPerTask,
      subnetIds: [...args.subnetIds],
      alb: {
        securityGroupId: args.edge.securityGroupId,
        loadBalancerArnSuffix: args.edge.loadBalancerArnSuffix,
        dependsOn: [args.edge],
      },
      repositoryArn: args.repositoryArn,
      logRetentionDays: args.settings.logRetentionDays,
      region: args.region,
      tags: args.tags,
    };
  }
}
