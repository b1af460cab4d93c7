// The public edge: an ALB in the public subnets. With a domain it serves HTTPS for the site, the
// editor's origin and the previews (siteNames.ts), and HTTP only redirects; without one it
// serves plain HTTP on the ALB's DNS name. Behind it, the runtime's target groups: the host's
// nginx (which routes by Host itself), or the ecs runtime's services with routing rules here.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { DomainConfig } from './configSchema';
import { SiteNames } from './siteNames';

/** A target group behind the ALB. The first one of EdgeArgs.targets takes every request no rule claims. */
export interface TargetSpec {
  name: string;
  targetType: 'instance' | 'ip';
  port: number;
  /** Seconds an outgoing target keeps serving its open requests. */
  deregistrationDelay: number;
}

/** A listener rule: requests matching every given condition go to a target or get an answer. */
export interface RouteSpec {
  priority: number;
  hosts?: string[];
  paths?: string[];
  action:
    | { forward: string }
    | { fixedResponse: { statusCode: string; contentType: string; messageBody: string } }
    | { redirectToHost: string };
}

export interface EdgeArgs {
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The HTTPS names; absent means plain HTTP on the ALB's DNS name. */
  domain?: DomainConfig;
  /** The ELB security policy of the HTTPS listener. */
  tlsPolicy: pulumi.Input<string>;
  targets: readonly TargetSpec[];
  routes?: readonly RouteSpec[];
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Every target group's health check: the app's /healthz (through nginx on the host). */
export const HEALTH_CHECK = {
  enabled: true,
  path: '/healthz',
  protocol: 'HTTP',
  port: 'traffic-port',
  matcher: '200',
  interval: 10,
  timeout: 5,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
} as const;

/** The listener-rule action of a route. */
export function ruleAction(
  action: RouteSpec['action'],
  targetGroupArn: (name: string) => pulumi.Input<string>,
): aws.types.input.lb.ListenerRuleAction {
  if ('forward' in action)
    return { type: 'forward', targetGroupArn: targetGroupArn(action.forward) };
  if ('fixedResponse' in action)
    return { type: 'fixed-response', fixedResponse: action.fixedResponse };
  return {
    type: 'redirect',
    redirect: {
      host: action.redirectToHost,
      path: '/#{path}',
      query: '#{query}',
      protocol: 'HTTPS',
      port: '443',
      // ALB redirects know 301 and 302 only; 301 keeps the path, and browsers follow it.
      statusCode: 'HTTP_301',
    },
  };
}

/**
 * Lets the ALB reach `port` on a target's security group, and nothing else of it: the ingress
 * rule on the target's group and the matching egress rule on the ALB's.
 */
export function allowAlbTo(
  name: string,
  rule: {
    albSecurityGroupId: pulumi.Input<string>;
    targetSecurityGroupId: pulumi.Input<string>;
    port: number;
    what: string;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
  },
  parent: pulumi.Resource,
): void {
  const common = { ipProtocol: 'tcp', fromPort: rule.port, toPort: rule.port, tags: rule.tags };
  new aws.vpc.SecurityGroupIngressRule(
    `${name}-from-alb`,
    {
      ...common,
      securityGroupId: rule.targetSecurityGroupId,
      description: 'From the ALB only',
      referencedSecurityGroupId: rule.albSecurityGroupId,
    },
    { parent },
  );
  new aws.vpc.SecurityGroupEgressRule(
    `${name}-alb-to`,
    {
      ...common,
      securityGroupId: rule.albSecurityGroupId,
      description: `To ${rule.what}`,
      referencedSecurityGroupId: rule.targetSecurityGroupId,
    },
    { parent },
  );
}

export class Edge extends pulumi.ComponentResource {
  readonly dnsName: pulumi.Output<string>;
  /** The site's public URL: `https://<appDomain>`, or `http://<ALB DNS name>`. */
  readonly url: pulumi.Output<string>;
  /** The editor's origin, `https://editor.<appDomain>`; none without a domain. */
  readonly editorUrl?: string;
  readonly httpsEnabled: boolean;
  readonly securityGroupId: pulumi.Output<string>;
  readonly loadBalancerArnSuffix: pulumi.Output<string>;
  /** The listener that serves (HTTPS with a domain, else HTTP); services wait for it. */
  readonly listener: aws.lb.Listener;
  readonly targetGroups: Record<string, aws.lb.TargetGroup>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:Edge', name, {}, opts);
    const domain = args.domain;
    this.httpsEnabled = domain !== undefined;

    const securityGroup = this.securityGroup(name, args);
    const loadBalancer = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: 'application',
        internal: false,
        ipAddressType: 'ipv4',
        subnets: args.subnetIds,
        securityGroups: [securityGroup.id],
        dropInvalidHeaderFields: true,
        tags: args.tags,
      },
      { parent: this },
    );
    this.targetGroups = this.targetGroupsFor(name, args);
    const defaultTarget = this.targetGroups[args.targets[0]!.name]!;
    const forward = [{ type: 'forward', targetGroupArn: defaultTarget.arn }];

    if (domain === undefined) {
      this.listener = this.httpListener(name, loadBalancer, forward, args.tags);
      this.url = pulumi.interpolate`http://${loadBalancer.dnsName}`;
    } else {
      const names = new SiteNames(
        `${name}-names`,
        {
          domain,
          loadBalancerDnsName: loadBalancer.dnsName,
          loadBalancerZoneId: loadBalancer.zoneId,
          tags: args.tags,
        },
        { parent: this },
      );
      this.listener = new aws.lb.Listener(
        `${name}-https`,
        {
          loadBalancerArn: loadBalancer.arn,
          protocol: 'HTTPS',
          port: 443,
          sslPolicy: args.tlsPolicy,
          certificateArn: names.certificateArn,
          defaultActions: forward,
          tags: args.tags,
        },
        { parent: this },
      );
      this.httpListener(
        name,
        loadBalancer,
        [
          {
            type: 'redirect',
            redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' },
          },
        ],
        args.tags,
      );
      this.url = pulumi.output(names.siteUrl);
      this.editorUrl = names.editorUrl;
    }
    this.routes(name, args);

    this.dnsName = loadBalancer.dnsName;
    this.securityGroupId = securityGroup.id;
    this.loadBalancerArnSuffix = loadBalancer.arnSuffix;
    this.registerOutputs({
      dnsName: this.dnsName,
      url: this.url,
      editorUrl: this.editorUrl,
      httpsEnabled: this.httpsEnabled,
      securityGroupId: this.securityGroupId,
    });
  }

  /** The ALB's group: 80 (and 443 with a domain) from anywhere; egress is added per target. */
  private securityGroup(name: string, args: EdgeArgs): aws.ec2.SecurityGroup {
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: args.domain
          ? 'Reflex ALB: HTTP and HTTPS from anywhere'
          : 'Reflex ALB: HTTP from anywhere',
        tags: args.tags,
      },
      { parent: this },
    );
    for (const port of args.domain ? [80, 443] : [80]) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-in-${port}`,
        {
          securityGroupId: securityGroup.id,
          description: port === 443 ? 'HTTPS' : 'HTTP',
          ipProtocol: 'tcp',
          fromPort: port,
          toPort: port,
          cidrIpv4: '0.0.0.0/0',
          tags: args.tags,
        },
        { parent: this },
      );
    }
    return securityGroup;
  }

  private targetGroupsFor(name: string, args: EdgeArgs): Record<string, aws.lb.TargetGroup> {
    return Object.fromEntries(
      args.targets.map((target) => [
        target.name,
        new aws.lb.TargetGroup(
          `${name}-${target.name}`,
          {
            vpcId: args.vpcId,
            targetType: target.targetType,
            protocol: 'HTTP',
            port: target.port,
            deregistrationDelay: target.deregistrationDelay,
            healthCheck: { ...HEALTH_CHECK },
            tags: args.tags,
          },
          { parent: this },
        ),
      ]),
    );
  }

  private httpListener(
    name: string,
    loadBalancer: aws.lb.LoadBalancer,
    defaultActions: aws.types.input.lb.ListenerDefaultAction[],
    tags: EdgeArgs['tags'],
  ): aws.lb.Listener {
    return new aws.lb.Listener(
      `${name}-http`,
      { loadBalancerArn: loadBalancer.arn, protocol: 'HTTP', port: 80, defaultActions, tags },
      { parent: this },
    );
  }

  /** The routing rules on the serving listener. */
  private routes(name: string, args: EdgeArgs): void {
    const arnOf = (target: string) => {
      const group = this.targetGroups[target];
      if (!group) throw new Error(`route to unknown target ${target}`);
      return group.arn;
    };
    for (const route of args.routes ?? []) {
      new aws.lb.ListenerRule(
        `${name}-rule-${route.priority}`,
        {
          listenerArn: this.listener.arn,
          priority: route.priority,
          conditions: [
            ...(route.hosts ? [{ hostHeader: { values: route.hosts } }] : []),
            ...(route.paths ? [{ pathPattern: { values: route.paths } }] : []),
          ],
          actions: [ruleAction(route.action, arnOf)],
          tags: args.tags,
        },
        { parent: this },
      );
    }
  }
}
