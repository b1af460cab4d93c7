import { APP_UID, SharedState, clientPolicy } from './sharedState';
import { mockStack, settle } from './testing/mocks';
import { tags } from './testing/fixtures';

describe('shared state on EFS (Pulumi mocks: nothing reaches AWS)', () => {
  async function build() {
    const stack = await mockStack('dev');
    new SharedState('state', {
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      clientSecurityGroupId: 'sg-platform',
      tags,
    });
    await settle();
    return stack;
  }

  it('is an encrypted file system, backed up, and protected from deletion', async () => {
    const stack = await build();
    const fileSystem = stack.one('aws:efs/fileSystem:FileSystem');
    expect(fileSystem.inputs).toMatchObject({ encrypted: true, tags });
    expect(fileSystem.options.protect).toBe(true);
    expect(stack.one('aws:efs/backupPolicy:BackupPolicy').inputs).toEqual({
      fileSystemId: 'state-fs-id',
      backupPolicy: { status: 'ENABLED' },
    });
  });

  it('refuses every NFS request that does not come over TLS', async () => {
    const stack = await build();
    const policy = JSON.parse(
      stack.one('aws:efs/fileSystemPolicy:FileSystemPolicy').inputs.policy as string,
    ) as { Statement: { Effect: string; Condition: unknown; Resource: string }[] };
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Resource: expect.stringContaining('file-system/fs-state-fs'),
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    ]);
  });

  it('is reached on the NFS port from the platform tasks only, in both subnets', async () => {
    const stack = await build();
    expect(
      stack
        .ofType('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')
        .map((r) => r.inputs),
    ).toEqual([
      expect.objectContaining({
        securityGroupId: 'state-sg-id',
        ipProtocol: 'tcp',
        fromPort: 2049,
        toPort: 2049,
        referencedSecurityGroupId: 'sg-platform',
      }),
    ]);
    expect(stack.ofType('aws:efs/mountTarget:MountTarget').map((m) => m.inputs)).toEqual([
      { fileSystemId: 'state-fs-id', subnetId: 'subnet-a', securityGroups: ['state-sg-id'] },
      { fileSystemId: 'state-fs-id', subnetId: 'subnet-b', securityGroups: ['state-sg-id'] },
    ]);
  });

  it("serves one folder through one access point, as the image's user", async () => {
    const stack = await build();
    expect(stack.one('aws:efs/accessPoint:AccessPoint').inputs).toMatchObject({
      posixUser: { uid: APP_UID, gid: APP_UID },
      rootDirectory: { path: '/reflex', creationInfo: { ownerUid: APP_UID, permissions: '0750' } },
    });
  });

  it('lets a client mount and write through that access point only', () => {
    expect(JSON.parse(clientPolicy('arn:fs', 'arn:ap'))).toEqual({
      Version: '2012-10-17',
      Statement: [
        expect.objectContaining({
          Effect: 'Allow',
          Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
          Resource: 'arn:fs',
          Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': 'arn:ap' } },
        }),
      ],
    });
  });
});
