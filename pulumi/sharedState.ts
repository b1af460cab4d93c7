// The state every platform task shares in the ecs runtime: an encrypted EFS file system, mounted
// with TLS through one access point as the image's `node` user. The platform keeps its accounts,
// sessions, revocations, audit log and release history as files (REFLEX_STATE_DIR), so a shared
// POSIX file system serves them unchanged (docs/AWS.md, "Shared state").
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { accessPoint, encryptedFileSystem, mountTargets } from './efs';
import { policyDocument } from './policyDocument';

export interface SharedStateArgs {
  vpcId: pulumi.Input<string>;
  /** One mount target per subnet, so that a task in either zone mounts locally. */
  subnetIds: readonly pulumi.Input<string>[];
  /** The platform tasks' security group: the only source allowed to the NFS port. */
  clientSecurityGroupId: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The uid/gid of `node` in the official Node image the app's image is built on. */
export const APP_UID = 1000;

/** What a platform task's role may do with the file system: mount and write through the access point. */
export function clientPolicy(fileSystemArn: string, accessPointArn: string): string {
  return policyDocument({
    Sid: 'MountThroughTheAccessPoint',
    Effect: 'Allow',
    Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
    Resource: fileSystemArn,
    Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': accessPointArn } },
  });
}

export class SharedState extends pulumi.ComponentResource {
  readonly fileSystemId: pulumi.Output<string>;
  readonly fileSystemArn: pulumi.Output<string>;
  readonly accessPointId: pulumi.Output<string>;
  readonly accessPointArn: pulumi.Output<string>;

  constructor(name: string, args: SharedStateArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:SharedState', name, {}, opts);

    const fileSystem = encryptedFileSystem(
      `${name}-fs`,
      { policyName: `${name}-policy`, tags: args.tags },
      // Accounts and history live here: nothing replaces or deletes it unnoticed.
      { parent: this, protect: true },
    );
    new aws.efs.BackupPolicy(
      `${name}-backup`,
      { fileSystemId: fileSystem.id, backupPolicy: { status: 'ENABLED' } },
      { parent: this },
    );
    const appAccess = accessPoint(
      `${name}-ap`,
      {
        fileSystemId: fileSystem.id,
        user: { uid: APP_UID, gid: APP_UID },
        path: '/reflex',
        tags: args.tags,
      },
      this,
    );
    // A mount target in each subnet, reachable on the NFS port from the platform tasks only.
    mountTargets(
      name,
      {
        vpcId: args.vpcId,
        subnetIds: args.subnetIds,
        fileSystemId: fileSystem.id,
        description: 'Reflex shared state (EFS): NFS from the platform tasks only',
        clientGroupId: args.clientSecurityGroupId,
        clientDescription: 'NFS from the platform tasks',
        tags: args.tags,
      },
      this,
    );

    this.fileSystemId = fileSystem.id;
    this.fileSystemArn = fileSystem.arn;
    this.accessPointId = appAccess.id;
    this.accessPointArn = appAccess.arn;
    this.registerOutputs({
      fileSystemId: this.fileSystemId,
      accessPointId: this.accessPointId,
    });
  }
}
