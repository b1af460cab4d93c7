import type { DomainConfig } from './config';
import { Edge, HEALTH_CHECK } from './edge';
import type { MockedStack } from './testing/mocks';
import { ALB_ZONE_ID, HOSTED_ZONE_ID, REGION, mockStack, resolve, settle } from './testing/mocks';

const tags = { project: 'reflex', environment: 'prod', 'managed-by': 'pulumi' };
const LISTENER = 'aws:lb/listener:Listener';
const INGRESS = 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule';
const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
const domain: DomainConfig = { appDomain: 'reflex.example.com', hostedZoneName: 'example.com' };

describe('edge (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(withDomain?: DomainConfig): Promise<{ stack: MockedStack; edge: Edge }> {
    const stack = await mockStack('prod');
    const edge = new Edge('edge', {
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      hostInstanceId: 'i-host',
      hostSecurityGroupId: 'sg-host',
      ...(withDomain ? { domain: withDomain } : {}),
      tlsPolicy: TLS_POLICY,
      tags,
    });
    await settle();
    return { stack, edge };
  }

  const listeners = (stack: MockedStack) =>
    Object.fromEntries(
      stack
        .ofType(LISTENER)
        .map((l) => [`${String(l.inputs.protocol)}:${String(l.inputs.port)}`, l.inputs]),
    );

  const ingress = (stack: MockedStack) =>
    stack.ofType(INGRESS).map(({ inputs }) => ({
      group: inputs.securityGroupId,
      ports: [inputs.fromPort, inputs.toPort],
      from: inputs.cidrIpv4 ?? inputs.cidrIpv6 ?? inputs.referencedSecurityGroupId,
    }));

  describe('with a domain', () => {
    it('opens 80 and 443 to anyone on its own group, and lets only itself reach the host', async () => {
      const { stack } = await build(domain);
      expect(ingress(stack)).toEqual([
        { group: 'edge-sg-id', ports: [80, 80], from: '0.0.0.0/0' },
        { group: 'edge-sg-id', ports: [443, 443], from: '0.0.0.0/0' },
        { group: 'sg-host', ports: [80, 80], from: 'edge-sg-id' },
      ]);
      expect(
        stack.one('aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule').inputs,
      ).toMatchObject({
        securityGroupId: 'edge-sg-id',
        ipProtocol: 'tcp',
        fromPort: 80,
        toPort: 80,
        referencedSecurityGroupId: 'sg-host',
      });
    });

    it('only redirects on HTTP, and serves HTTPS with the TLS policy and the validated certificate', async () => {
      const { stack, edge } = await build(domain);
      const byPort = listeners(stack);
      expect(Object.keys(byPort).sort()).toEqual(['HTTP:80', 'HTTPS:443']);
      expect(byPort['HTTP:80']!.defaultActions).toEqual([
        { type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } },
      ]);
      expect(byPort['HTTPS:443']).toMatchObject({
        loadBalancerArn: expect.stringContaining('loadbalancer/app/edge-alb'),
        sslPolicy: TLS_POLICY,
        certificateArn: `arn:aws:acm:${REGION}:123456789012:certificate/edge-cert`,
        defaultActions: [{ type: 'forward', targetGroupArn: expect.stringContaining('edge-tg') }],
      });
      expect(await resolve(edge.url)).toBe('https://reflex.example.com');
      expect(edge.httpsEnabled).toBe(true);
    });

    it('validates the certificate by DNS in the hosted zone, and aliases the domain to the ALB', async () => {
      const { stack } = await build(domain);
      expect(stack.one('aws:acm/certificate:Certificate').inputs).toEqual({
        domainName: 'reflex.example.com',
        validationMethod: 'DNS',
        tags,
      });
      const records = Object.fromEntries(
        stack.ofType('aws:route53/record:Record').map((r) => [r.name, r.inputs]),
      );
      expect(records['edge-cert-validation']).toEqual({
        zoneId: HOSTED_ZONE_ID,
        name: '_3a4b5c.reflex.example.com.',
        type: 'CNAME',
        records: ['_6d7e8f.acm-validations.aws.'],
        ttl: 60,
        allowOverwrite: true,
      });
      expect(stack.one('aws:acm/certificateValidation:CertificateValidation').inputs).toEqual({
        certificateArn: `arn:aws:acm:${REGION}:123456789012:certificate/edge-cert`,
        validationRecordFqdns: ['_3a4b5c.reflex.example.com'],
      });
      expect(records['edge-alias']).toEqual({
        zoneId: HOSTED_ZONE_ID,
        name: 'reflex.example.com',
        type: 'A',
        aliases: [
          {
            name: `edge-alb-1234567890.${REGION}.elb.amazonaws.com`,
            zoneId: ALB_ZONE_ID,
            evaluateTargetHealth: true,
          },
        ],
      });
      const zoneLookup = stack.calls.find((c) => c.token === 'aws:route53/getZone:getZone');
      expect(zoneLookup?.inputs).toEqual({ name: 'example.com', privateZone: false });
    });
  });

  describe('without a domain', () => {
    it('serves plain HTTP on the ALB name, says so, and opens only port 80', async () => {
      const { stack, edge } = await build();
      const byPort = listeners(stack);
      expect(Object.keys(byPort)).toEqual(['HTTP:80']);
      expect(byPort['HTTP:80']!.defaultActions).toEqual([
        { type: 'forward', targetGroupArn: expect.stringContaining('edge-tg') },
      ]);
      expect(ingress(stack).filter((r) => r.group === 'edge-sg-id')).toEqual([
        { group: 'edge-sg-id', ports: [80, 80], from: '0.0.0.0/0' },
      ]);
      expect(stack.ofType('aws:acm/certificate:Certificate')).toEqual([]);
      expect(stack.ofType('aws:route53/record:Record')).toEqual([]);
      expect(await resolve(edge.url)).toBe(
        `http://edge-alb-1234567890.${REGION}.elb.amazonaws.com`,
      );
      expect(edge.httpsEnabled).toBe(false);
    });
  });

  it('puts a public ALB in both public subnets, health-checking /healthz on the host', async () => {
    const { stack } = await build();
    expect(stack.one('aws:lb/loadBalancer:LoadBalancer').inputs).toEqual({
      loadBalancerType: 'application',
      internal: false,
      ipAddressType: 'ipv4',
      subnets: ['subnet-a', 'subnet-b'],
      securityGroups: ['edge-sg-id'],
      dropInvalidHeaderFields: true,
      tags,
    });
    expect(stack.one('aws:lb/targetGroup:TargetGroup').inputs).toEqual({
      vpcId: 'vpc-1',
      targetType: 'instance',
      protocol: 'HTTP',
      port: 80,
      deregistrationDelay: 30,
      healthCheck: HEALTH_CHECK,
      tags,
    });
    expect(HEALTH_CHECK).toMatchObject({ path: '/healthz', interval: 10, healthyThreshold: 2 });
    expect(stack.one('aws:lb/targetGroupAttachment:TargetGroupAttachment').inputs).toEqual({
      targetGroupArn: expect.stringContaining('edge-tg'),
      targetId: 'i-host',
      port: 80,
    });
  });
});
