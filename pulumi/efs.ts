// The EFS building blocks of the ecs runtime, for the platform's shared state and the monitoring
// task's history alike: an encrypted file system that refuses NFS without TLS, access points that
// pin a POSIX user and a root folder, and mount targets in every subnet behind a group that lets
// in only the named clients. Plain aws.efs resources, made under the caller's component.
import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';
import { policyDocument } from './policyDocument';

export const NFS_PORT = 2049;

type Tags = pulumi.Input<Record<string, pulumi.Input<string>>>;

/**
 * Refuses every NFS request that does not come over TLS. With a policy in place, a client that
 * does not authorise with IAM (an anonymous mount) gets no access either: nothing allows it.
 */
export function fileSystemPolicy(fileSystemArn: string): string {
  return policyDocument({
    Sid: 'RefuseUnencryptedTransport',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: '*',
    Resource: fileSystemArn,
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  });
}

/** An encrypted, elastic file system and its TLS-only policy (named `policyName`). */
export function encryptedFileSystem(
  name: string,
  args: { policyName: string; tags: Tags },
  opts: { parent: pulumi.Resource; protect?: boolean },
): aws.efs.FileSystem {
  const fileSystem = new aws.efs.FileSystem(
    name,
    {
      encrypted: true,
      performanceMode: 'generalPurpose',
      throughputMode: 'elastic',
      tags: args.tags,
    },
    opts,
  );
  new aws.efs.FileSystemPolicy(
    args.policyName,
    { fileSystemId: fileSystem.id, policy: fileSystem.arn.apply(fileSystemPolicy) },
    { parent: opts.parent },
  );
  return fileSystem;
}

/** An access point that acts as `user` and roots its clients in `path`, made for that user. */
export function accessPoint(
  name: string,
  args: {
    fileSystemId: pulumi.Input<string>;
    user: { uid: number; gid: number };
    path: string;
    tags: Tags;
  },
  parent: pulumi.Resource,
): aws.efs.AccessPoint {
  const { user } = args;
  return new aws.efs.AccessPoint(
    name,
    {
      fileSystemId: args.fileSystemId,
      posixUser: user,
      rootDirectory: {
        path: args.path,
        creationInfo: { ownerUid: user.uid, ownerGid: user.gid, permissions: '0750' },
      },
      tags: args.tags,
    },
    { parent },
  );
}

/**
 * The mount targets' group (`<name>-sg` unless named otherwise), NFS from `clientGroupId` only,
 * and one mount target per subnet (`<name>-mount-<index>`), so a client in any zone mounts locally.
 */
export function mountTargets(
  name: string,
  args: {
    groupName?: string;
    vpcId: pulumi.Input<string>;
    subnetIds: readonly pulumi.Input<string>[];
    fileSystemId: pulumi.Input<string>;
    description: string;
    clientGroupId: pulumi.Input<string>;
    clientDescription: string;
    tags: Tags;
  },
  parent: pulumi.Resource,
): aws.ec2.SecurityGroup {
  const securityGroup = new aws.ec2.SecurityGroup(
    args.groupName ?? `${name}-sg`,
    { vpcId: args.vpcId, description: args.description, tags: args.tags },
    { parent },
  );
  new aws.vpc.SecurityGroupIngressRule(
    `${name}-nfs`,
    {
      securityGroupId: securityGroup.id,
      description: args.clientDescription,
      ipProtocol: 'tcp',
      fromPort: NFS_PORT,
      toPort: NFS_PORT,
      referencedSecurityGroupId: args.clientGroupId,
      tags: args.tags,
    },
    { parent },
  );
  args.subnetIds.forEach((subnetId, index) => {
    new aws.efs.MountTarget(
      `${name}-mount-${index}`,
      { fileSystemId: args.fileSystemId, subnetId, securityGroups: [securityGroup.id] },
      { parent },
    );
  });
  return securityGroup;
}
