// The names the stack serves with a domain: the site (`<appDomain>`), the editor's own origin
// (`editor.<appDomain>`), and the change-request previews (`<slug>.preview.<appDomain>`), on
// one ACM certificate validated in Route 53, each an alias of the ALB.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import type { DomainConfig } from './configSchema';

export interface SiteNamesArgs {
  domain: DomainConfig;
  loadBalancerDnsName: pulumi.Input<string>;
  loadBalancerZoneId: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The domain the change-request previews answer under (`<slug>.<this>`; deploy.env's). */
export function previewDomain(appDomain: string): string {
  return `preview.${appDomain}`;
}

/** The host names of a stack served on `appDomain`, keyed by what each one serves. */
export function siteHostnames(appDomain: string): {
  site: string;
  editor: string;
  previews: string;
} {
  return {
    site: appDomain,
    editor: `editor.${appDomain}`,
    previews: `*.${previewDomain(appDomain)}`,
  };
}

export class SiteNames extends pulumi.ComponentResource {
  /** The certificate's ARN, once ACM has issued it. */
  readonly certificateArn: pulumi.Output<string>;
  readonly siteUrl: string;
  readonly editorUrl: string;

  constructor(name: string, args: SiteNamesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:SiteNames', name, {}, opts);
    const names = siteHostnames(args.domain.appDomain);
    const zone = aws.route53.getZoneOutput(
      { name: args.domain.hostedZoneName, privateZone: false },
      { parent: this },
    );

    this.certificateArn = this.certificate(name, names, zone.zoneId, args.tags);
    for (const [key, hostname] of Object.entries(names)) {
      new aws.route53.Record(
        `${name}-${key}`,
        {
          zoneId: zone.zoneId,
          name: hostname,
          type: 'A',
          aliases: [
            {
              name: args.loadBalancerDnsName,
              zoneId: args.loadBalancerZoneId,
              evaluateTargetHealth: true,
            },
          ],
        },
        { parent: this },
      );
    }
    this.siteUrl = `https://${names.site}`;
    this.editorUrl = `https://${names.editor}`;
    this.registerOutputs({ certificateArn: this.certificateArn });
  }

  /** One certificate for every name, validated by DNS; resolves to its ARN once issued. */
  private certificate(
    name: string,
    names: ReturnType<typeof siteHostnames>,
    zoneId: pulumi.Output<string>,
    tags: SiteNamesArgs['tags'],
  ): pulumi.Output<string> {
    const certificate = new aws.acm.Certificate(
      `${name}-cert`,
      {
        domainName: names.site,
        subjectAlternativeNames: [names.editor, names.previews],
        validationMethod: 'DNS',
        tags,
      },
      { parent: this },
    );
    const records = Object.entries(names).map(([key, hostname]) => {
      const option = certificate.domainValidationOptions.apply((options) => {
        const found = options.find((o) => o.domainName === hostname);
        if (!found) throw new Error(`ACM returned no DNS validation record for ${hostname}`);
        return found;
      });
      return new aws.route53.Record(
        `${name}-validation-${key}`,
        {
          zoneId,
          name: option.resourceRecordName,
          type: option.resourceRecordType,
          records: [option.resourceRecordValue],
          ttl: 60,
          allowOverwrite: true,
        },
        { parent: this },
      );
    });
    return new aws.acm.CertificateValidation(
      `${name}-cert-validation`,
      { certificateArn: certificate.arn, validationRecordFqdns: records.map((r) => r.fqdn) },
      { parent: this },
    ).certificateArn;
  }
}
