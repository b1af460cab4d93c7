// SSH without an open port: an EC2 Instance Connect Endpoint in the host's subnet. The deploy
// workflow runs `aws ec2-instance-connect open-tunnel` as ssh's ProxyCommand; the endpoint
// reaches the host's port 22 from its own security group, the only source the host accepts
// for SSH besides the CIDRs people are given (reflex:sshAllowedCidrs).
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { policyDocument } from './policyDocument';

export interface InstanceConnectArgs {
  vpcId: pulumi.Input<string>;
  /** The host's subnet: a tunnel within one zone costs no cross-zone transfer. */
  subnetId: pulumi.Input<string>;
  /** The host's security group, which gets the one rule letting the endpoint in. */
  hostSecurityGroupId: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const SSH_PORT = 22;
/** AWS's longest tunnel; the deploy job's SSH sessions are far shorter. */
export const MAX_TUNNEL_SECONDS = 3600;

/**
 * What may open a tunnel: through this endpoint only, to that one address, on port 22, for at
 * most an hour. `open-tunnel --instance-id` first looks the instance and the endpoint up; those
 * Describe calls take no resource (AWS offers none for them) and reveal no secret.
 */
export function openTunnelPolicy(endpointArn: string, hostPrivateIp: string): string {
  return policyDocument(
    {
      Sid: 'OpenTunnelToTheHost',
      Effect: 'Allow',
      Action: 'ec2-instance-connect:OpenTunnel',
      Resource: endpointArn,
      Condition: {
        NumericEquals: { 'ec2-instance-connect:remotePort': SSH_PORT },
        IpAddress: { 'ec2-instance-connect:privateIpAddress': `${hostPrivateIp}/32` },
        NumericLessThanEquals: { 'ec2-instance-connect:maxTunnelDuration': MAX_TUNNEL_SECONDS },
      },
    },
    {
      Sid: 'FindTheHostAndEndpoint',
      Effect: 'Allow',
      Action: ['ec2:DescribeInstanceConnectEndpoints', 'ec2:DescribeInstances'],
      Resource: '*',
    },
  );
}

export class InstanceConnect extends pulumi.ComponentResource {
  readonly endpointId: pulumi.Output<string>;
  readonly endpointArn: pulumi.Output<string>;
  readonly endpointDnsName: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: InstanceConnectArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:InstanceConnect', name, {}, opts);

    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: 'Reflex EC2 Instance Connect Endpoint: SSH to the host only',
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-to-host`,
      {
        securityGroupId: securityGroup.id,
        description: 'SSH to the host',
        ipProtocol: 'tcp',
        fromPort: SSH_PORT,
        toPort: SSH_PORT,
        referencedSecurityGroupId: args.hostSecurityGroupId,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-host-ssh`,
      {
        securityGroupId: args.hostSecurityGroupId,
        description: 'SSH through the EC2 Instance Connect Endpoint (deploy workflow, operators)',
        ipProtocol: 'tcp',
        fromPort: SSH_PORT,
        toPort: SSH_PORT,
        referencedSecurityGroupId: securityGroup.id,
        tags: args.tags,
      },
      { parent: this },
    );
    const endpoint = new aws.ec2transitgateway.InstanceConnectEndpoint(
      `${name}-endpoint`,
      {
        subnetId: args.subnetId,
        securityGroupIds: [securityGroup.id],
        // The host sees the endpoint's address, so its rule can name the endpoint's group.
        preserveClientIp: false,
        tags: args.tags,
      },
      { parent: this },
    );

    this.endpointId = endpoint.id;
    this.endpointArn = endpoint.arn;
    this.endpointDnsName = endpoint.dnsName;
    this.securityGroupId = securityGroup.id;
    this.registerOutputs({
      endpointId: this.endpointId,
      endpointArn: this.endpointArn,
      endpointDnsName: this.endpointDnsName,
      securityGroupId: this.securityGroupId,
    });
  }
}
