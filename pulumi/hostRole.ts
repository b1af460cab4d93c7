// The host's identity: its instance role (pull from its ECR repository, publish its own SSH host
// key, and, when asked, let Session Manager in; no secret is readable with it) and the one SSM
// parameter it writes, its public SSH host key, which the deploy workflow pins.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { ECR_PULL, ecrPolicy } from './registry';
import { policyDocument, serviceTrustPolicy } from './policyDocument';

export interface HostRoleArgs {
  repositoryArn: pulumi.Input<string>;
  /** `<project>-<stack>`: names the host-key parameter. */
  stackName: pulumi.Input<string>;
  /** Attach AmazonSSMManagedInstanceCore so that Session Manager can reach the host. */
  enableSsm: boolean;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The SSM parameter the host publishes its SSH host key to. */
export function hostKeyParameterName(stackName: string): string {
  return `/${stackName}/ssh-host-key`;
}

/** The host may write its own host-key parameter, and no other. */
export function publishHostKeyPolicy(parameterArn: string): string {
  return policyDocument({
    Sid: 'PublishItsHostKey',
    Effect: 'Allow',
    Action: ['ssm:PutParameter'],
    Resource: parameterArn,
  });
}

/** The deploy workflow may read that parameter, to pin the host key. */
export function readHostKeyPolicy(parameterArn: string): string {
  return policyDocument({
    Sid: 'PinTheHostKey',
    Effect: 'Allow',
    Action: ['ssm:GetParameter'],
    Resource: parameterArn,
  });
}

export class HostRole extends pulumi.ComponentResource {
  readonly roleArn: pulumi.Output<string>;
  /** What the instance is launched with: the role reaches the host only through it. */
  readonly instanceProfileName: pulumi.Output<string>;
  /** Where first boot publishes the SSH host key; the user data names it. */
  readonly hostKeyParameterName: pulumi.Output<string>;
  /** What the deploy role may read to pin the host key (`read-host-key`). */
  readonly hostKeyParameterArn: pulumi.Output<string>;

  constructor(name: string, args: HostRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:HostRole', name, {}, opts);

    // The host writes the value; the stack only creates the parameter (and removes it on
    // destroy), so later `pulumi up`s leave the published key alone.
    const hostKey = new aws.ssm.Parameter(
      `${name}-host-key`,
      {
        name: pulumi.output(args.stackName).apply(hostKeyParameterName),
        type: 'String',
        description: "The Reflex host's SSH host key (public), published by the host at first boot",
        value: 'none yet: the host publishes its key at first boot',
        tags: args.tags,
      },
      { parent: this, ignoreChanges: ['value'] },
    );

    const role = new aws.iam.Role(
      name,
      {
        description: 'Reflex host: pull images from its ECR repository, publish its host key',
        assumeRolePolicy: serviceTrustPolicy('ec2.amazonaws.com'),
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-pull`,
      {
        role: role.id,
        policy: pulumi.output(args.repositoryArn).apply((arn) => ecrPolicy(arn, ECR_PULL)),
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-publish-host-key`,
      { role: role.id, policy: hostKey.arn.apply(publishHostKeyPolicy) },
      { parent: this },
    );
    if (args.enableSsm) {
      const partition = aws.getPartitionOutput({}, { parent: this }).partition;
      new aws.iam.RolePolicyAttachment(
        `${name}-ssm`,
        {
          role: role.name,
          policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
        },
        { parent: this },
      );
    }
    const profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { role: role.name, tags: args.tags },
      { parent: this },
    );

    this.roleArn = role.arn;
    this.instanceProfileName = profile.name;
    this.hostKeyParameterName = hostKey.name;
    this.hostKeyParameterArn = hostKey.arn;
    this.registerOutputs({
      roleArn: this.roleArn,
      instanceProfileName: this.instanceProfileName,
      hostKeyParameterName: this.hostKeyParameterName,
      hostKeyParameterArn: this.hostKeyParameterArn,
    });
  }
}
