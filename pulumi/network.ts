// The VPC: public subnets in two availability zones, an internet gateway, no NAT gateway.
//
// The VPC itself is awsx.ec2.Vpc: its subnet layout, routes and gateway are the convention and
// hold no security decision of ours. The one rule-bearing part, the VPC's default security
// group, is taken over with @pulumi/aws so that the tests see it has no rules.
import * as aws from '@pulumi/aws';
import * as awsx from '@pulumi/awsx';
import * as pulumi from '@pulumi/pulumi';

export interface NetworkArgs {
  /**
   * The availability zones of the public subnets, in order (a plain list: the subnets are laid
   * out from it; chooseZones picks zones that offer the host's instance type).
   */
  zones: readonly string[];
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const VPC_CIDR = '10.0.0.0/16';
/** An ALB needs subnets in two zones; so does an ECS service that survives a zone's loss. */
export const ZONE_COUNT = 2;

/** The first `count` zones, in name order, that are both available and offer the instance type. */
export function chooseZones(
  available: readonly string[],
  offering: readonly string[] | undefined,
  count: number,
  instanceType: string | undefined,
): string[] {
  const offered = offering === undefined ? undefined : new Set(offering);
  const zones = [...available].filter((zone) => offered?.has(zone) ?? true).sort();
  if (zones.length < count) {
    const what = instanceType === undefined ? '' : ` offer ${instanceType}`;
    throw new Error(
      `only ${zones.length} availability zone(s) here${what} (${zones.join(', ') || 'none'}); ` +
        `${count} are needed: choose another reflex:instanceType or aws:region`,
    );
  }
  return zones.slice(0, count);
}

/**
 * The zones the network uses, looked up once before anything is declared: with the `host`
 * runtime, only zones that offer its instance type, so that the host fits either subnet.
 */
export async function lookUpZones(instanceType: string | undefined): Promise<string[]> {
  const available = await aws.getAvailabilityZones({
    state: 'available',
    filters: [{ name: 'opt-in-status', values: ['opt-in-not-required'] }],
  });
  const offering =
    instanceType === undefined
      ? undefined
      : await aws.ec2.getInstanceTypeOfferings({
          locationType: 'availability-zone',
          filters: [{ name: 'instance-type', values: [instanceType] }],
        });
  return chooseZones(available.names, offering?.locations, ZONE_COUNT, instanceType);
}

export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  /** The public subnets' ids, one per zone in the zones' order. */
  readonly publicSubnetIds: pulumi.Output<string[]>;
  readonly zones: readonly string[];

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:Network', name, {}, opts);
    this.zones = args.zones;

    const vpc = new awsx.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: VPC_CIDR,
        availabilityZoneNames: [...args.zones],
        subnetStrategy: 'Auto',
        // The host's address is an Elastic IP and the ALB brings its own; the tasks of the ecs
        // runtime get theirs explicitly. No NAT gateway: about $33 a month per zone saved.
        subnetSpecs: [{ type: 'Public', cidrMask: 24 }],
        natGateways: { strategy: 'None' },
        enableDnsSupport: true,
        enableDnsHostnames: true,
        tags: args.tags,
      },
      { parent: this },
    );
    this.vpcId = vpc.vpcId;
    this.publicSubnetIds = vpc.publicSubnetIds;

    // Take over the VPC's default security group and leave it without rules, so nothing that
    // lands in it by accident can talk to anything.
    new aws.ec2.DefaultSecurityGroup(
      `${name}-default-sg`,
      { vpcId: vpc.vpcId, tags: args.tags },
      { parent: this },
    );

    this.registerOutputs({ vpcId: this.vpcId, publicSubnetIds: this.publicSubnetIds });
  }
}
