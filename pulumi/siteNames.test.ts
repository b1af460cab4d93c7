import { SiteNames, siteHostnames } from './siteNames';
import { ALB_ZONE_ID, HOSTED_ZONE_ID, REGION, mockStack, resolve, settle } from './testing/mocks';
import { tagsOf } from './testing/fixtures';

const tags = tagsOf('prod');
const ALB_DNS = `edge-alb-1234567890.${REGION}.elb.amazonaws.com`;

describe('site names (Pulumi mocks: nothing reaches AWS)', () => {
  async function build() {
    const stack = await mockStack('prod');
    const names = new SiteNames('names', {
      domain: { appDomain: 'reflex.example.com', hostedZoneName: 'example.com' },
      loadBalancerDnsName: ALB_DNS,
      loadBalancerZoneId: ALB_ZONE_ID,
      tags,
    });
    await settle();
    return { stack, names };
  }

  it('serves the site, the editor origin and every preview from one certificate', async () => {
    const { stack, names } = await build();
    expect(stack.one('aws:acm/certificate:Certificate').inputs).toEqual({
      domainName: 'reflex.example.com',
      subjectAlternativeNames: ['editor.reflex.example.com', '*.preview.reflex.example.com'],
      validationMethod: 'DNS',
      tags,
    });
    expect(await resolve(names.certificateArn)).toBe(
      `arn:aws:acm:${REGION}:123456789012:certificate/names-cert`,
    );
    expect(names.editorUrl).toBe('https://editor.reflex.example.com');
  });

  it('validates each name in the hosted zone, and waits for all of them', async () => {
    const { stack } = await build();
    const validation = stack
      .ofType('aws:route53/record:Record')
      .filter((r) => r.name.startsWith('names-validation-'))
      .map((r) => r.inputs);
    expect(validation).toEqual([
      expect.objectContaining({
        zoneId: HOSTED_ZONE_ID,
        name: '_3a4b5c0.reflex.example.com.',
        type: 'CNAME',
      }),
      expect.objectContaining({ name: '_3a4b5c1.editor.reflex.example.com.' }),
      expect.objectContaining({ name: '_3a4b5c2.preview.reflex.example.com.' }),
    ]);
    expect(
      stack.one('aws:acm/certificateValidation:CertificateValidation').inputs.validationRecordFqdns,
    ).toEqual([
      '_3a4b5c0.reflex.example.com',
      '_3a4b5c1.editor.reflex.example.com',
      '_3a4b5c2.preview.reflex.example.com',
    ]);
    const lookup = stack.calls.find((c) => c.token === 'aws:route53/getZone:getZone');
    expect(lookup?.inputs).toEqual({ name: 'example.com', privateZone: false });
  });

  it('points the site, editor.<domain> and *.preview.<domain> at the ALB', async () => {
    const { stack } = await build();
    const aliases = stack
      .ofType('aws:route53/record:Record')
      .filter((r) => !r.name.includes('validation'))
      .map((r) => r.inputs);
    const alias = [{ name: ALB_DNS, zoneId: ALB_ZONE_ID, evaluateTargetHealth: true }];
    expect(aliases).toEqual([
      { zoneId: HOSTED_ZONE_ID, name: 'reflex.example.com', type: 'A', aliases: alias },
      { zoneId: HOSTED_ZONE_ID, name: 'editor.reflex.example.com', type: 'A', aliases: alias },
      { zoneId: HOSTED_ZONE_ID, name: '*.preview.reflex.example.com', type: 'A', aliases: alias },
    ]);
  });

  it('names the editor and the previews under the app domain', () => {
    expect(siteHostnames('example.com')).toEqual({
      site: 'example.com',
      editor: 'editor.example.com',
      previews: '*.preview.example.com',
    });
  });
});
