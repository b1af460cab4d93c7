// The VPC: public subnets in two availability zones, an internet gateway, no NAT gateway.
//
// Written with @pulumi/aws rather than awsx.ec2.Vpc: awsx's VPC is a remote component whose
// subnets, routes and tags are invisible to unit tests, and this one is small enough to own.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface NetworkArgs {
  /** Subnets are placed only in zones that offer this instance type, so the host fits any of them. */
  instanceType: pulumi.Input<string>;
  /** How many zones (and public subnets); an ALB needs two. */
  zoneCount?: number;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const VPC_CIDR = '10.0.0.0/16';

/** The /24 of the i-th public subnet inside VPC_CIDR. */
export function publicSubnetCidr(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 255) throw new Error(`no subnet ${index}`);
  return `10.0.${index}.0/24`;
}

/** The first `count` zones, in name order, that are both available and offer the instance type. */
export function chooseZones(
  available: readonly string[],
  offering: readonly string[],
  count: number,
  instanceType: string,
): string[] {
  const offered = new Set(offering);
  const zones = [...available].filter((zone) => offered.has(zone)).sort();
  if (zones.length < count) {
    throw new Error(
      `only ${zones.length} availability zone(s) here offer ${instanceType} (${zones.join(', ') || 'none'}); ` +
        `${count} are needed: choose another reflex:instanceType or aws:region`,
    );
  }
  return zones.slice(0, count);
}

export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  /**
   * The public subnets' ids, resolved only once they route to the internet: an Elastic IP or an
   * internet-facing ALB placed in them needs the VPC's internet gateway first.
   */
  readonly publicSubnetIds: pulumi.Output<string>[];
  readonly zones: pulumi.Output<string[]>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:Network', name, {}, opts);
    const child = pulumi.mergeOptions(opts, { parent: this });
    const zoneCount = args.zoneCount ?? 2;

    const available = aws.getAvailabilityZonesOutput(
      {
        state: 'available',
        filters: [{ name: 'opt-in-status', values: ['opt-in-not-required'] }],
      },
      { parent: this },
    );
    const offering = aws.ec2.getInstanceTypeOfferingsOutput(
      {
        locationType: 'availability-zone',
        filters: [{ name: 'instance-type', values: [args.instanceType] }],
      },
      { parent: this },
    );
    this.zones = pulumi
      .all([available.names, offering.locations, args.instanceType])
      .apply(([names, locations, type]) => chooseZones(names, locations, zoneCount, type));

    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      { cidrBlock: VPC_CIDR, enableDnsSupport: true, enableDnsHostnames: true, tags: args.tags },
      child,
    );
    this.vpcId = vpc.id;

    // Take over the VPC's default security group and leave it without rules, so nothing that
    // lands in it by accident can talk to anything.
    new aws.ec2.DefaultSecurityGroup(
      `${name}-default-sg`,
      { vpcId: vpc.id, tags: args.tags },
      child,
    );

    const gateway = new aws.ec2.InternetGateway(
      `${name}-igw`,
      { vpcId: vpc.id, tags: args.tags },
      child,
    );
    const routes = new aws.ec2.RouteTable(
      `${name}-public-rt`,
      { vpcId: vpc.id, tags: args.tags },
      child,
    );
    const internetRoute = new aws.ec2.Route(
      `${name}-internet`,
      { routeTableId: routes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: gateway.id },
      child,
    );

    this.publicSubnetIds = Array.from({ length: zoneCount }, (_, index) => {
      const subnet = new aws.ec2.Subnet(
        `${name}-public-${index}`,
        {
          vpcId: vpc.id,
          cidrBlock: publicSubnetCidr(index),
          availabilityZone: this.zones.apply((zones) => zones[index]!),
          // The host's address is an Elastic IP and the ALB brings its own: nothing needs one
          // handed out automatically.
          mapPublicIpOnLaunch: false,
          tags: args.tags,
        },
        child,
      );
      const association = new aws.ec2.RouteTableAssociation(
        `${name}-public-${index}`,
        { subnetId: subnet.id, routeTableId: routes.id },
        child,
      );
      return pulumi.all([subnet.id, association.id, internetRoute.id]).apply(([id]) => id);
    });

    this.registerOutputs({
      vpcId: this.vpcId,
      publicSubnetIds: this.publicSubnetIds,
      zones: this.zones,
    });
  }
}
