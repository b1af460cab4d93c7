import type { DomainConfig } from './configSchema';
import type { RouteSpec, TargetSpec } from './edge';
import { Edge, HEALTH_CHECK, allowAlbTo } from './edge';
import type { MockedStack } from './testing/mocks';
import { REGION, mockStack, resolve, settle } from './testing/mocks';
import { INGRESS, tagsOf } from './testing/fixtures';

const tags = tagsOf('prod');
const LISTENER = 'aws:lb/listener:Listener';
const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
const domain: DomainConfig = { appDomain: 'reflex.example.com', hostedZoneName: 'example.com' };
const HOST: TargetSpec[] = [
  { name: 'host', targetType: 'instance', port: 80, deregistrationDelay: 30 },
];

describe('edge (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(
    options: { domain?: DomainConfig; targets?: TargetSpec[]; routes?: RouteSpec[] } = {},
  ): Promise<{ stack: MockedStack; edge: Edge }> {
    const stack = await mockStack('prod');
    const edge = new Edge('edge', {
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      ...(options.domain ? { domain: options.domain } : {}),
      tlsPolicy: TLS_POLICY,
      targets: options.targets ?? HOST,
      ...(options.routes ? { routes: options.routes } : {}),
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

  describe('with a domain', () => {
    it('opens 80 and 443 to anyone on its own group, and nothing else', async () => {
      const { stack } = await build({ domain });
      expect(
        stack
          .ofType(INGRESS)
          .map((r) => [r.inputs.securityGroupId, r.inputs.fromPort, r.inputs.cidrIpv4]),
      ).toEqual([
        ['edge-sg-id', 80, '0.0.0.0/0'],
        ['edge-sg-id', 443, '0.0.0.0/0'],
      ]);
    });

    it('only redirects on HTTP, and serves every name over HTTPS with the TLS policy', async () => {
      const { stack, edge } = await build({ domain });
      const byPort = listeners(stack);
      expect(Object.keys(byPort).sort()).toEqual(['HTTP:80', 'HTTPS:443']);
      expect(byPort['HTTP:80']!.defaultActions).toEqual([
        { type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } },
      ]);
      expect(byPort['HTTPS:443']).toMatchObject({
        sslPolicy: TLS_POLICY,
        certificateArn: `arn:aws:acm:${REGION}:123456789012:certificate/edge-names-cert`,
        // Every host name goes to the host; its nginx tells the editor's from the site's.
        defaultActions: [{ type: 'forward', targetGroupArn: expect.stringContaining('edge-host') }],
      });
      expect(await resolve(edge.url)).toBe('https://reflex.example.com');
      expect(edge.editorUrl).toBe('https://editor.reflex.example.com');
      expect(edge.httpsEnabled).toBe(true);
    });
  });

  describe('without a domain', () => {
    it('serves plain HTTP on the ALB name, opens only port 80, and has no editor origin', async () => {
      const { stack, edge } = await build();
      expect(Object.keys(listeners(stack))).toEqual(['HTTP:80']);
      expect(listeners(stack)['HTTP:80']!.defaultActions).toEqual([
        { type: 'forward', targetGroupArn: expect.stringContaining('edge-host') },
      ]);
      expect(stack.ofType(INGRESS).map((r) => r.inputs.fromPort)).toEqual([80]);
      expect(stack.ofType('aws:acm/certificate:Certificate')).toEqual([]);
      expect(await resolve(edge.url)).toBe(
        `http://edge-alb-1234567890.${REGION}.elb.amazonaws.com`,
      );
      expect(edge.editorUrl).toBeUndefined();
      expect(edge.httpsEnabled).toBe(false);
    });
  });

  it('puts a public ALB in both subnets that drops invalid headers, health-checking /healthz', async () => {
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
    expect(HEALTH_CHECK).toMatchObject({ path: '/healthz', matcher: '200' });
  });

  it('makes a target group per target; the first takes what no rule claims', async () => {
    const { stack } = await build({
      domain,
      targets: [
        { name: 'site', targetType: 'ip', port: 3000, deregistrationDelay: 30 },
        { name: 'platform', targetType: 'ip', port: 3000, deregistrationDelay: 30 },
      ],
      routes: [
        { priority: 20, hosts: ['editor.reflex.example.com'], action: { forward: 'platform' } },
        {
          priority: 50,
          paths: ['/api', '/api/*'],
          action: {
            fixedResponse: {
              statusCode: '404',
              contentType: 'application/json',
              messageBody: '{}',
            },
          },
        },
        {
          priority: 60,
          paths: ['/editor/*'],
          action: { redirectToHost: 'editor.reflex.example.com' },
        },
      ],
    });
    expect(
      stack.ofType('aws:lb/targetGroup:TargetGroup').map((t) => [t.name, t.inputs.targetType]),
    ).toEqual([
      ['edge-site', 'ip'],
      ['edge-platform', 'ip'],
    ]);
    expect(listeners(stack)['HTTPS:443']!.defaultActions).toEqual([
      { type: 'forward', targetGroupArn: expect.stringContaining('edge-site') },
    ]);
    const rules = Object.fromEntries(
      stack.ofType('aws:lb/listenerRule:ListenerRule').map((r) => [r.inputs.priority, r.inputs]),
    );
    expect(rules[20]).toMatchObject({
      listenerArn: expect.stringContaining('edge-https'),
      conditions: [{ hostHeader: { values: ['editor.reflex.example.com'] } }],
      actions: [{ type: 'forward', targetGroupArn: expect.stringContaining('edge-platform') }],
    });
    expect(rules[50]).toMatchObject({
      conditions: [{ pathPattern: { values: ['/api', '/api/*'] } }],
      actions: [{ type: 'fixed-response', fixedResponse: { statusCode: '404' } }],
    });
    expect(rules[60]!.actions).toEqual([
      {
        type: 'redirect',
        redirect: {
          host: 'editor.reflex.example.com',
          path: '/#{path}',
          query: '#{query}',
          protocol: 'HTTPS',
          port: '443',
          statusCode: 'HTTP_301',
        },
      },
    ]);
  });

  it('refuses a rule that names a target it does not have', async () => {
    await mockStack('prod');
    expect(
      () =>
        new Edge('edge', {
          vpcId: 'vpc-1',
          subnetIds: ['subnet-a', 'subnet-b'],
          tlsPolicy: TLS_POLICY,
          targets: HOST,
          routes: [{ priority: 1, paths: ['/x'], action: { forward: 'nowhere' } }],
          tags,
        }),
    ).toThrow('route to unknown target nowhere');
  });

  it("lets the ALB reach a target's port, and the target only from the ALB", async () => {
    const { stack, edge } = await build();
    allowAlbTo(
      'svc',
      {
        albSecurityGroupId: 'sg-alb',
        targetSecurityGroupId: 'sg-svc',
        port: 3000,
        what: 'svc',
        tags,
      },
      edge,
    );
    await settle();
    expect(stack.named(INGRESS, 'svc-from-alb').inputs).toMatchObject({
      securityGroupId: 'sg-svc',
      fromPort: 3000,
      toPort: 3000,
      referencedSecurityGroupId: 'sg-alb',
    });
    expect(
      stack.named('aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule', 'svc-alb-to').inputs,
    ).toMatchObject({
      securityGroupId: 'sg-alb',
      fromPort: 3000,
      referencedSecurityGroupId: 'sg-svc',
    });
  });
});
