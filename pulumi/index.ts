// Reflex on AWS, one stack per environment: wires the components and returns the stack outputs
// the deploy workflow consumes (scripts/github-secrets.sh copies them into the stack's GitHub
// environment). A few facts are looked up first, as plain values, because they decide what is
// declared: the zones, the account's GitHub OIDC provider, the account and partition.
import path from 'node:path';

import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { CiAccess, findGithubOidcProvider } from './ciAccess';
import type { ReflexConfig } from './configSchema';
import { loadConfig } from './config';
import { imagePlatformOf } from './configRules';
import { ECS_TARGETS, EcsRuntime, ecsRoutes } from './ecsRuntime';
import { Edge } from './edge';
import { HOST_TARGETS, Host } from './host';
import { Network, lookUpZones } from './network';
import { Registry, ecrRepositoryRef } from './registry';
import { previewDomain, siteHostnames } from './siteNames';
import type { AppUrls } from './userData';

export = async () => {
  const config = loadConfig();
  const { tags } = config;
  const onHost = config.runtime === 'host';
  // ECR and the other names want lower case; stack names may have capitals.
  const stackName = `${config.project}-${config.stack}`.toLowerCase();
  const zones = await lookUpZones(onHost ? config.host.instanceType : undefined);
  const existingOidcProviderArn = await findGithubOidcProvider();
  const here = {
    partition: (await aws.getPartition()).partition,
    region: config.region,
    accountId: (await aws.getCallerIdentity()).accountId,
  };
  const promotionSource =
    config.promoteFrom === undefined ? undefined : ecrRepositoryRef(config.promoteFrom, here);

  const network = new Network('network', { zones, tags });
  const subnetIds = zones.map((_, i) => network.publicSubnetIds.apply((ids) => ids[i]!));
  const registry = new Registry('registry', {
    repositoryName: stackName,
    imageRetention: config.imageRetention,
    forceDelete: config.ecrForceDelete,
    pullAccounts: config.imagePullAccounts,
    tags,
  });
  const editorHost = config.domain && siteHostnames(config.domain.appDomain).editor;
  // config.ts refuses previews without the host runtime and a domain.
  const previewsAt =
    config.previews && config.domain ? previewDomain(config.domain.appDomain) : undefined;
  const edge = new Edge('edge', {
    vpcId: network.vpcId,
    subnetIds: network.publicSubnetIds,
    ...(config.domain === undefined ? {} : { domain: config.domain }),
    tlsPolicy: config.tlsPolicy,
    targets: onHost ? HOST_TARGETS : ECS_TARGETS,
    routes: onHost ? [] : ecsRoutes(editorHost),
    tags,
  });
  const urls: pulumi.Output<AppUrls> = edge.url.apply((publicUrl) => ({
    publicUrl,
    ...(edge.editorUrl === undefined ? {} : { editorUrl: edge.editorUrl }),
  }));
  const common = {
    repositoryUrl: registry.repositoryUrl,
    repositoryArn: registry.repositoryArn,
    deployBranch: config.deployBranch,
    githubRepository: config.githubRepository,
    region: config.region,
    urls,
    tags,
  };
  const runtime = onHost
    ? new Host('host', {
        ...common,
        vpcId: network.vpcId,
        subnetId: subnetIds[0]!,
        availabilityZone: zones[0]!,
        instanceType: config.host.instanceType,
        amiName: config.host.amiName,
        sshAllowedCidrs: config.host.sshAllowedCidrs,
        ...(config.host.sshPublicKey === undefined
          ? {}
          : { sshPublicKey: config.host.sshPublicKey }),
        enableSsm: config.host.enableSsm,
        repoRoot: path.resolve(__dirname, '..'),
        environment: config.stack,
        ...(previewsAt === undefined ? {} : { previewDomain: previewsAt }),
        stackName,
        edge: {
          targetGroupArn: edge.targetGroups.host!.arn,
          securityGroupId: edge.securityGroupId,
        },
        dataVolumeGiB: config.host.dataVolumeGiB,
        dataSnapshotRetention: config.host.dataSnapshotRetention,
      })
    : new EcsRuntime('ecs', {
        ...common,
        stackName,
        vpcId: network.vpcId,
        subnetIds,
        edge,
        settings: config.ecs,
        repoRoot: path.resolve(__dirname, '..'),
      });
  const ci = new CiAccess('ci', {
    githubRepository: config.githubRepository,
    environment: config.stack,
    previews: previewsAt !== undefined,
    ...(existingOidcProviderArn === undefined ? {} : { existingOidcProviderArn }),
    repositoryArn: registry.repositoryArn,
    ...(promotionSource === undefined ? {} : { promotionSourceArn: promotionSource.arn }),
    runtimePolicies: runtime.deployPolicies,
    tags,
  });
  warnAbout(config, existingOidcProviderArn);

  return {
    runtime: config.runtime,
    awsRegion: config.region,
    deployBranch: config.deployBranch,
    ecrRepositoryUrl: registry.repositoryUrl,
    imagePlatform: onHost ? imagePlatformOf(config.host.instanceType) : 'linux/amd64',
    ...(promotionSource === undefined ? {} : { promotionSourceRepositoryUrl: promotionSource.url }),
    deployRoleArn: ci.deployRoleArn,
    appUrl: edge.url,
    /** False when the stack serves plain HTTP (no reflex:appDomain): then appUrl is http://. */
    appHttps: edge.httpsEnabled,
    ...(edge.editorUrl === undefined ? {} : { editorUrl: edge.editorUrl }),
    /** The `preview` GitHub environment's REFLEX_PREVIEW_DOMAIN (docs/DEPLOY.md, "preview.yml"). */
    ...(previewsAt === undefined ? {} : { previewDomain: previewsAt }),
    ...(runtime instanceof Host ? hostOutputs(runtime) : ecsOutputs(runtime)),
  };
};

/** What the deploy workflow needs to reach and pin the host. */
function hostOutputs(host: Host) {
  return {
    hostInstanceId: host.instanceId,
    hostPrivateIp: host.privateIp,
    hostPublicIp: host.publicIp,
    instanceConnectEndpointId: host.instanceConnectEndpointId,
    instanceConnectEndpointDnsName: host.instanceConnectEndpointDnsName,
    sshUser: host.sshUser,
    sshHostKeyParameter: host.hostKeyParameter,
    dataVolumeId: host.dataVolumeId,
    ...(host.sshPrivateKey === undefined ? {} : { sshPrivateKey: host.sshPrivateKey }),
  };
}

/** What the deploy workflow needs to roll the services onto a new revision. */
function ecsOutputs(ecs: EcsRuntime) {
  return {
    ecsCluster: ecs.clusterName,
    ecsPlatformService: ecs.platformService.serviceName,
    ecsPlatformTaskFamily: ecs.platformService.taskFamily,
    ecsSiteService: ecs.siteService.serviceName,
    ecsSiteTaskFamily: ecs.siteService.taskFamily,
    ecsPlatformSecretArn: ecs.secretArn,
    sharedStateFileSystemId: ecs.fileSystemId,
    ecsMonitoringService: ecs.monitoring.serviceName,
    grafanaPasswordSecretArn: ecs.monitoring.grafanaSecretArn,
  };
}

function warnAbout(config: ReflexConfig, existingOidcProviderArn: string | undefined): void {
  if (config.domain === undefined) {
    void pulumi.log.warn(
      'reflex:appDomain is not set: the site is served over plain HTTP on the ALB DNS name ' +
        '(appUrl), and the editor, which needs an origin of its own (editor.<appDomain>), is ' +
        'not served at all. Set reflex:appDomain and reflex:hostedZoneName for both.',
    );
  }
  if (existingOidcProviderArn !== undefined) {
    void pulumi.log.info(`reusing the account's GitHub OIDC provider ${existingOidcProviderArn}`);
  }
}
