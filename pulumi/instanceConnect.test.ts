import { InstanceConnect, openTunnelPolicy } from './instanceConnect';
import { mockStack, resolve, settle } from './testing/mocks';
import { tags, EGRESS, INGRESS } from './testing/fixtures';

const ENDPOINT_ARN = 'arn:aws:ec2:eu-west-1:123456789012:instance-connect-endpoint/eice-0abc';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string;
  Condition?: Record<string, Record<string, unknown>>;
}

describe('EC2 Instance Connect Endpoint (Pulumi mocks: nothing reaches AWS)', () => {
  async function build() {
    const stack = await mockStack('dev');
    const eic = new InstanceConnect('eic', {
      vpcId: 'vpc-1',
      subnetId: 'subnet-host',
      hostSecurityGroupId: 'sg-host',
      tags,
    });
    await settle();
    return { stack, eic };
  }

  it("sits in the host's subnet with a group of its own, and the host sees its address", async () => {
    const { stack, eic } = await build();
    expect(
      stack.one('aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint').inputs,
    ).toEqual({
      subnetId: 'subnet-host',
      securityGroupIds: ['eic-sg-id'],
      preserveClientIp: false,
      tags,
    });
    expect(await resolve(eic.endpointId)).toBe('eic-endpoint-id');
  });

  it("opens the host's port 22 to the endpoint's group, and the endpoint reaches nothing else", async () => {
    const { stack } = await build();
    expect(stack.ofType(INGRESS).map((r) => r.inputs)).toEqual([
      expect.objectContaining({
        securityGroupId: 'sg-host',
        ipProtocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        referencedSecurityGroupId: 'eic-sg-id',
      }),
    ]);
    expect(stack.ofType(EGRESS).map((r) => r.inputs)).toEqual([
      expect.objectContaining({
        securityGroupId: 'eic-sg-id',
        ipProtocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        referencedSecurityGroupId: 'sg-host',
      }),
    ]);
    for (const rule of stack.ofType(INGRESS)) {
      expect(rule.inputs.cidrIpv4 ?? rule.inputs.cidrIpv6).toBeUndefined();
    }
  });

  it('lets a tunnel be opened through this endpoint only, to the host address, on port 22', () => {
    const statements = (
      JSON.parse(openTunnelPolicy(ENDPOINT_ARN, '10.0.0.57')) as {
        Statement: Statement[];
      }
    ).Statement;
    const tunnel = statements.filter((s) =>
      [s.Action].flat().includes('ec2-instance-connect:OpenTunnel'),
    );
    expect(tunnel).toEqual([
      {
        Sid: 'OpenTunnelToTheHost',
        Effect: 'Allow',
        Action: 'ec2-instance-connect:OpenTunnel',
        Resource: ENDPOINT_ARN,
        Condition: {
          NumericEquals: { 'ec2-instance-connect:remotePort': 22 },
          IpAddress: { 'ec2-instance-connect:privateIpAddress': '10.0.0.57/32' },
          NumericLessThanEquals: { 'ec2-instance-connect:maxTunnelDuration': 3600 },
        },
      },
    ]);
    // Everything else it grants only reads (the Describe calls open-tunnel makes first).
    const others = statements.filter((s) => !tunnel.includes(s)).flatMap((s) => [s.Action].flat());
    expect(others.filter((a) => !/^ec2:Describe[A-Za-z]+$/.test(a))).toEqual([]);
  });
});
