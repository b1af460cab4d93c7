import { Network, VPC_CIDR, chooseZones, lookUpZones } from './network';
import { OFFERED_ZONES, ZONES, mockStack, resolve, settle } from './testing/mocks';
import { tags } from './testing/fixtures';

describe('network (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(zones = ['eu-west-1b', 'eu-west-1c']) {
    const stack = await mockStack('dev');
    const network = new Network('network', { zones, tags });
    await settle();
    return { stack, network };
  }

  it('asks awsx for public subnets only, in the given zones, and no NAT gateway', async () => {
    const { stack } = await build();
    expect(stack.one('awsx:ec2:Vpc').inputs).toEqual({
      cidrBlock: VPC_CIDR,
      availabilityZoneNames: ['eu-west-1b', 'eu-west-1c'],
      subnetStrategy: 'Auto',
      subnetSpecs: [{ type: 'Public', cidrMask: 24 }],
      natGateways: { strategy: 'None' },
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags,
    });
  });

  it("strips the VPC's default security group of every rule", async () => {
    const { stack } = await build();
    expect(stack.one('aws:ec2/defaultSecurityGroup:DefaultSecurityGroup').inputs).toEqual({
      vpcId: 'network-vpc-vpc-id',
      tags,
    });
    expect(stack.resources.map((r) => r.type).sort()).toEqual([
      'aws:ec2/defaultSecurityGroup:DefaultSecurityGroup',
      'awsx:ec2:Vpc',
    ]);
  });

  it("hands on the VPC's subnets in the zones' order", async () => {
    const { network } = await build();
    expect(await resolve(network.publicSubnetIds)).toEqual([
      'network-vpc-public-0-id',
      'network-vpc-public-1-id',
    ]);
    expect(network.zones).toEqual(['eu-west-1b', 'eu-west-1c']);
  });

  it('looks the zones up once: available ones that offer the host type, in name order', async () => {
    const stack = await mockStack('dev');
    expect(await lookUpZones('t3.small')).toEqual([...OFFERED_ZONES].sort());
    expect(stack.calls.find((c) => c.token.endsWith('getInstanceTypeOfferings'))?.inputs).toEqual({
      locationType: 'availability-zone',
      filters: [{ name: 'instance-type', values: ['t3.small'] }],
    });
  });

  it('takes the first two available zones when no host has to fit (ecs runtime)', async () => {
    const stack = await mockStack('dev');
    expect(await lookUpZones(undefined)).toEqual(ZONES.slice(0, 2));
    expect(stack.calls.map((c) => c.token)).toEqual([
      'aws:index/getAvailabilityZones:getAvailabilityZones',
    ]);
  });

  it('chooses zones that are available and offer the type, in name order', () => {
    expect(chooseZones(['a-1c', 'a-1a', 'a-1b'], ['a-1c', 'a-1a', 'x-9z'], 2, 't3.small')).toEqual([
      'a-1a',
      'a-1c',
    ]);
  });

  it('says why when fewer zones than needed fit', () => {
    expect(() => chooseZones(['a-1a', 'a-1b'], ['a-1b'], 2, 'm7g.large')).toThrow(
      'only 1 availability zone(s) here offer m7g.large (a-1b); 2 are needed',
    );
  });
});
