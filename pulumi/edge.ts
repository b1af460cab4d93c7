// The public edge: an ALB in the public subnets in front of the host's nginx (port 80). With a
// domain it serves HTTPS with an ACM certificate validated in Route 53, and HTTP only redirects;
// without one it serves plain HTTP on the ALB's DNS name.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { DomainConfig } from './config';

export interface EdgeArgs {
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  hostInstanceId: pulumi.Input<string>;
  /** The host's security group: the edge adds the one rule that lets the ALB reach port 80. */
  hostSecurityGroupId: pulumi.Input<string>;
  /** The HTTPS names; absent means plain HTTP on the ALB's DNS name. */
  domain?: DomainConfig;
  /** The ELB security policy of the HTTPS listener. */
  tlsPolicy: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const HOST_PORT = 80;

/** The target group's health check: the app's /healthz through nginx. */
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

export class Edge extends pulumi.ComponentResource {
  readonly dnsName: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;
  readonly httpsEnabled: boolean;
  readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:Edge', name, {}, opts);
    const child = pulumi.mergeOptions(opts, { parent: this });
    const domain = args.domain;
    this.httpsEnabled = domain !== undefined;

    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: domain
          ? 'Reflex ALB: HTTP and HTTPS from anywhere'
          : 'Reflex ALB: HTTP from anywhere',
        tags: args.tags,
      },
      child,
    );
    this.securityGroupId = securityGroup.id;
    const publicPorts = domain ? [80, 443] : [80];
    for (const port of publicPorts) {
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
        child,
      );
    }
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-to-host`,
      {
        securityGroupId: securityGroup.id,
        description: 'To the host nginx',
        ipProtocol: 'tcp',
        fromPort: HOST_PORT,
        toPort: HOST_PORT,
        referencedSecurityGroupId: args.hostSecurityGroupId,
        tags: args.tags,
      },
      child,
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-host-from-alb`,
      {
        securityGroupId: args.hostSecurityGroupId,
        description: 'HTTP from the ALB only',
        ipProtocol: 'tcp',
        fromPort: HOST_PORT,
        toPort: HOST_PORT,
        referencedSecurityGroupId: securityGroup.id,
        tags: args.tags,
      },
      child,
    );

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
      child,
    );
    this.dnsName = loadBalancer.dnsName;

    const targetGroup = new aws.lb.TargetGroup(
      `${name}-tg`,
      {
        vpcId: args.vpcId,
        targetType: 'instance',
        protocol: 'HTTP',
        port: HOST_PORT,
        // Blue/green happens behind nginx; the only target leaves when the host is replaced.
        deregistrationDelay: 30,
        healthCheck: { ...HEALTH_CHECK },
        tags: args.tags,
      },
      child,
    );
    new aws.lb.TargetGroupAttachment(
      `${name}-host`,
      { targetGroupArn: targetGroup.arn, targetId: args.hostInstanceId, port: HOST_PORT },
      child,
    );
    const forward = [{ type: 'forward', targetGroupArn: targetGroup.arn }];

    if (domain === undefined) {
      new aws.lb.Listener(
        `${name}-http`,
        {
          loadBalancerArn: loadBalancer.arn,
          protocol: 'HTTP',
          port: 80,
          defaultActions: forward,
          tags: args.tags,
        },
        child,
      );
      this.url = pulumi.interpolate`http://${loadBalancer.dnsName}`;
    } else {
      const zone = aws.route53.getZoneOutput(
        { name: domain.hostedZoneName, privateZone: false },
        { parent: this },
      );
      const certificate = this.certificate(name, domain, zone.zoneId, args.tags, child);
      new aws.lb.Listener(
        `${name}-https`,
        {
          loadBalancerArn: loadBalancer.arn,
          protocol: 'HTTPS',
          port: 443,
          sslPolicy: args.tlsPolicy,
          certificateArn: certificate,
          defaultActions: forward,
          tags: args.tags,
        },
        child,
      );
      new aws.lb.Listener(
        `${name}-http`,
        {
          loadBalancerArn: loadBalancer.arn,
          protocol: 'HTTP',
          port: 80,
          defaultActions: [
            {
              type: 'redirect',
              redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' },
            },
          ],
          tags: args.tags,
        },
        child,
      );
      new aws.route53.Record(
        `${name}-alias`,
        {
          zoneId: zone.zoneId,
          name: domain.appDomain,
          type: 'A',
          aliases: [
            {
              name: loadBalancer.dnsName,
              zoneId: loadBalancer.zoneId,
              evaluateTargetHealth: true,
            },
          ],
        },
        child,
      );
      this.url = pulumi.output(`https://${domain.appDomain}`);
    }

    this.registerOutputs({
      dnsName: this.dnsName,
      url: this.url,
      httpsEnabled: this.httpsEnabled,
      securityGroupId: this.securityGroupId,
    });
  }

  /** An ACM certificate for the app's domain, validated by DNS; resolves to its ARN once issued. */
  private certificate(
    name: string,
    domain: DomainConfig,
    zoneId: pulumi.Output<string>,
    tags: EdgeArgs['tags'],
    child: pulumi.ComponentResourceOptions,
  ): pulumi.Output<string> {
    const certificate = new aws.acm.Certificate(
      `${name}-cert`,
      { domainName: domain.appDomain, validationMethod: 'DNS', tags },
      child,
    );
    const option = certificate.domainValidationOptions.apply((options) => {
      const first = options[0];
      if (!first) throw new Error(`ACM returned no DNS validation record for ${domain.appDomain}`);
      return first;
    });
    const record = new aws.route53.Record(
      `${name}-cert-validation`,
      {
        zoneId,
        name: option.resourceRecordName,
        type: option.resourceRecordType,
        records: [option.resourceRecordValue],
        ttl: 60,
        allowOverwrite: true,
      },
      child,
    );
    return new aws.acm.CertificateValidation(
      `${name}-cert-validation`,
      { certificateArn: certificate.arn, validationRecordFqdns: [record.fqdn] },
      child,
    ).certificateArn;
  }
}
