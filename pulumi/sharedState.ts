// The state every platform task shares in the ecs runtime: an encrypted EFS file system, mounted
// with TLS through one access point as the image's `node` user. The platform keeps its accounts,
// sessions, revocations, audit log and release history as files (REFLEX_STATE_DIR), so a shared
// POSIX file system serves them unchanged (docs/AWS.md, "Shared state").
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface SharedStateArgs {
  vpcId: pulumi.Input<string>;
  /** One mount target per subnet, so that a task in either zone mounts locally. */
  subnetIds: readonly pulumi.Input<string>[];
  /** The platform tasks' security group: the only source allowed to the NFS port. */
  clientSecurityGroupId: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const NFS_PORT = 2049;
/** The uid/gid of `node` in the official Node image the app's image is built on. */
export const APP_UID = 1000;

/**
 * Refuses every NFS request that does not come over TLS. With a policy in place, a client that
 * does not authorise with IAM (an anonymous mount) gets no access either: nothing allows it.
 */
export function fileSystemPolicy(fileSystemArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'RefuseUnencryptedTransport',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: '*',
        Resource: fileSystemArn,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  });
}

/** What a platform task's role may do with the file system: mount and write through the access point. */
export function clientPolicy(fileSystemArn: string, accessPointArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'MountThroughTheAccessPoint',
        Effect: 'Allow',
        Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
        Resource: fileSystemArn,
        Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': accessPointArn } },
      },
    ],
  });
}

export class SharedState extends pulumi.ComponentResource {
  readonly fileSystemId: pulumi.Output<string>;
  readonly fileSystemArn: pulumi.Output<string>;
  readonly accessPointId: pulumi.Output<string>;
  readonly accessPointArn: pulumi.Output<string>;

  constructor(name: string, args: SharedStateArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:SharedState', name, {}, opts);

    const fileSystem = new aws.efs.FileSystem(
      `${name}-fs`,
      {
        encrypted: true,
        performanceMode: 'generalPurpose',
        throughputMode: 'elastic',
        tags: args.tags,
      },
      // Accounts and history live here: nothing replaces or deletes it unnoticed.
      { parent: this, protect: true },
    );
    new aws.efs.FileSystemPolicy(
      `${name}-policy`,
      { fileSystemId: fileSystem.id, policy: fileSystem.arn.apply(fileSystemPolicy) },
      { parent: this },
    );
    new aws.efs.BackupPolicy(
      `${name}-backup`,
      { fileSystemId: fileSystem.id, backupPolicy: { status: 'ENABLED' } },
      { parent: this },
    );
    const accessPoint = new aws.efs.AccessPoint(
      `${name}-ap`,
      {
        fileSystemId: fileSystem.id,
        posixUser: { uid: APP_UID, gid: APP_UID },
        rootDirectory: {
          path: '/reflex',
          creationInfo: { ownerUid: APP_UID, ownerGid: APP_UID, permissions: '0750' },
        },
        tags: args.tags,
      },
      { parent: this },
    );
    this.mountTargets(name, args, fileSystem.id);

    this.fileSystemId = fileSystem.id;
    this.fileSystemArn = fileSystem.arn;
    this.accessPointId = accessPoint.id;
    this.accessPointArn = accessPoint.arn;
    this.registerOutputs({
      fileSystemId: this.fileSystemId,
      accessPointId: this.accessPointId,
    });
  }

  /** A mount target in each subnet, reachable on the NFS port from the platform tasks only. */
  private mountTargets(
    name: string,
    args: SharedStateArgs,
    fileSystemId: pulumi.Output<string>,
  ): void {
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: 'Reflex shared state (EFS): NFS from the platform tasks only',
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-nfs`,
      {
        securityGroupId: securityGroup.id,
        description: 'NFS from the platform tasks',
        ipProtocol: 'tcp',
        fromPort: NFS_PORT,
        toPort: NFS_PORT,
        referencedSecurityGroupId: args.clientSecurityGroupId,
        tags: args.tags,
      },
      { parent: this },
    );
    args.subnetIds.forEach((subnetId, index) => {
      new aws.efs.MountTarget(
        `${name}-mount-${index}`,
        { fileSystemId, subnetId, securityGroups: [securityGroup.id] },
        { parent: this },
      );
    });
  }
}
