import { Network, VPC_CIDR, chooseZones, publicSubnetCidr } from './network';
import { OFFERED_ZONES, mockStack, resolve, settle } from './testing/mocks';

const tags = { project: 'reflex', environment: 'dev', 'managed-by': 'pulumi' };

describe('network (Pulumi mocks: nothing reaches AWS)', () => {
  async function build() {
    const stack = await mockStack('dev');
    const network = new Network('network', { instanceType: 't3.small', tags });
    await settle();
    return { stack, network };
  }

  it('makes a VPC with public subnets in two zones that offer the instance type', async () => {
    const { stack, network } = await build();
    expect(stack.one('aws:ec2/vpc:Vpc').inputs).toEqual({
      cidrBlock: VPC_CIDR,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags,
    });
    const subnets = stack.ofType('aws:ec2/subnet:Subnet').map((s) => s.inputs);
    expect(subnets).toEqual([
      {
        vpcId: 'network-vpc-id',
        cidrBlock: '10.0.0.0/24',
        availabilityZone: 'eu-west-1b',
        mapPublicIpOnLaunch: false,
        tags,
      },
      {
        vpcId: 'network-vpc-id',
        cidrBlock: '10.0.1.0/24',
        availabilityZone: 'eu-west-1c',
        mapPublicIpOnLaunch: false,
        tags,
      },
    ]);
    expect(await resolve(network.zones)).toEqual([...OFFERED_ZONES].sort());
    expect(await Promise.all(network.publicSubnetIds.map((id) => resolve(id)))).toEqual([
      'network-public-0-id',
      'network-public-1-id',
    ]);
    const offerings = stack.calls.find((c) => c.token.endsWith('getInstanceTypeOfferings'));
    expect(offerings?.inputs).toEqual({
      locationType: 'availability-zone',
      filters: [{ name: 'instance-type', values: ['t3.small'] }],
    });
  });

  it('routes the public subnets to an internet gateway, and has no NAT gateway', async () => {
    const { stack } = await build();
    expect(stack.one('aws:ec2/route:Route').inputs).toEqual({
      routeTableId: 'network-public-rt-id',
      destinationCidrBlock: '0.0.0.0/0',
      gatewayId: 'network-igw-id',
    });
    expect(
      stack.ofType('aws:ec2/routeTableAssociation:RouteTableAssociation').map((a) => a.inputs),
    ).toEqual([
      { subnetId: 'network-public-0-id', routeTableId: 'network-public-rt-id' },
      { subnetId: 'network-public-1-id', routeTableId: 'network-public-rt-id' },
    ]);
    expect(stack.resources.map((r) => r.type).sort()).toEqual([
      'aws:ec2/defaultSecurityGroup:DefaultSecurityGroup',
      'aws:ec2/internetGateway:InternetGateway',
      'aws:ec2/route:Route',
      'aws:ec2/routeTable:RouteTable',
      'aws:ec2/routeTableAssociation:RouteTableAssociation',
      'aws:ec2/routeTableAssociation:RouteTableAssociation',
      'aws:ec2/subnet:Subnet',
      'aws:ec2/subnet:Subnet',
      'aws:ec2/vpc:Vpc',
    ]);
  });

  it("strips the VPC's default security group of every rule", async () => {
    const { stack } = await build();
    expect(stack.one('aws:ec2/defaultSecurityGroup:DefaultSecurityGroup').inputs).toEqual({
      vpcId: 'network-vpc-id',
      tags,
    });
  });

  it('chooses zones that are available and offer the type, in name order', () => {
    expect(chooseZones(['a-1c', 'a-1a', 'a-1b'], ['a-1c', 'a-1a', 'x-9z'], 2, 't3.small')).toEqual([
      'a-1a',
      'a-1c',
    ]);
    expect(() => chooseZones(['a-1a', 'a-1b'], ['a-1b'], 2, 'm7g.large')).toThrow(
      'only 1 availability zone(s) here offer m7g.large (a-1b); 2 are needed',
    );
  });

  it.each([
    [0, '10.0.0.0/24'],
    [1, '10.0.1.0/24'],
    [255, '10.0.255.0/24'],
  ])('public subnet %i is %s', (index, cidr) => {
    expect(publicSubnetCidr(index)).toBe(cidr);
  });

  it('refuses a subnet index outside the VPC', () => {
    expect(() => publicSubnetCidr(256)).toThrow('no subnet 256');
  });
});
