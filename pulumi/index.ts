// Reflex on AWS, one stack per environment: wires the components and exports what the deploy
// workflow consumes (scripts/github-secrets.sh copies these outputs into GitHub).
import path from 'node:path';

import * as pulumi from '@pulumi/pulumi';

import { CiAccess } from './ciAccess';
import { loadConfig } from './config';
import { Edge } from './edge';
import { Host } from './host';
import { Network } from './network';
import { Registry } from './registry';

const config = loadConfig();
const tags = config.tags;

const network = new Network('network', { instanceType: config.instanceType, tags });

const registry = new Registry('registry', {
  // ECR wants lower case; stack names may have capitals.
  repositoryName: `${config.project}-${config.stack}`.toLowerCase(),
  imageRetention: config.imageRetention,
  forceDelete: config.ecrForceDelete,
  tags,
});

const host = new Host('host', {
  vpcId: network.vpcId,
  subnetId: network.publicSubnetIds[0]!,
  instanceType: config.instanceType,
  sshAllowedCidrs: config.sshAllowedCidrs,
  allowSshFromAnywhere: config.allowSshFromAnywhere,
  ...(config.sshPublicKey === undefined ? {} : { sshPublicKey: config.sshPublicKey }),
  repositoryUrl: registry.repositoryUrl,
  repositoryArn: registry.repositoryArn,
  enableSsm: config.enableSsm,
  repoRoot: path.resolve(__dirname, '..'),
  deployBranch: config.deployBranch,
  githubRepository: config.githubRepository,
  region: config.region,
  environment: config.stack,
  tags,
});

const edge = new Edge('edge', {
  vpcId: network.vpcId,
  subnetIds: network.publicSubnetIds,
  hostInstanceId: host.instanceId,
  hostSecurityGroupId: host.securityGroupId,
  ...(config.domain === undefined ? {} : { domain: config.domain }),
  tlsPolicy: config.tlsPolicy,
  tags,
});

const ci = new CiAccess('ci', {
  githubRepository: config.githubRepository,
  deployBranch: config.deployBranch,
  environment: config.stack,
  ...(config.githubOidcProviderArn === undefined
    ? {}
    : { oidcProviderArn: config.githubOidcProviderArn }),
  repositoryArn: registry.repositoryArn,
  tags,
});

if (!edge.httpsEnabled) {
  void pulumi.log.warn(
    'reflex:appDomain is not set: the app is served over plain HTTP on the ALB DNS name (appUrl). ' +
      'Set reflex:appDomain and reflex:hostedZoneName for HTTPS.',
  );
}

export const ecrRepositoryUrl = registry.repositoryUrl;
export const awsRegion = config.region;
export const deployRoleArn = ci.deployRoleArn;
export const sshHost = host.publicIp;
export const sshUser = host.sshUser;
export const sshHostKey = host.sshKnownHosts;
export const sshPrivateKey = host.sshPrivateKey;
export const appUrl = edge.url;
/** False when the stack serves plain HTTP (no reflex:appDomain): then appUrl is http://. */
export const appHttps = edge.httpsEnabled;
