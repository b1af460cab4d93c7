// reflex:previews: change-request previews on the host (docs/AWS.md, docs/HOST.md "Previews").
// The whole program under Pulumi mocks (nothing reaches AWS), with the setting on and off.
import { gunzipSync } from 'node:zlib';

import { ConfigError, parseConfig } from './config';
import type { RawConfig } from './configSchema';
import type { Run } from './testing/program';
import { resolved, runProgram, stackConfig } from './testing/program';

const SUB = 'token.actions.githubusercontent.com:sub';

/** The deploy role's `sub` condition, as IAM receives it. */
function trustedSubjects(run: Run): unknown {
  const role = run.stack
    .ofType('aws:iam/role:Role')
    .find((r) => String(r.inputs.assumeRolePolicy).includes('AssumeRoleWithWebIdentity'))!;
  const policy = JSON.parse(role.inputs.assumeRolePolicy as string) as {
    Statement: { Condition: { StringEquals: Record<string, unknown> } }[];
  };
  return policy.Statement[0]!.Condition.StringEquals[SUB];
}

/** The files cloud-init writes on the host, by path. */
function hostFiles(run: Run): Record<string, string> {
  const encoded = run.stack.one('aws:ec2/instance:Instance').inputs.userDataBase64 as string;
  const text = gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8');
  const config = JSON.parse(text.replace(/^#cloud-config\n/, '')) as {
    write_files: { path: string; content: string }[];
  };
  return Object.fromEntries(config.write_files.map((file) => [file.path, file.content]));
}

describe('change-request previews on the host (Pulumi mocks: nothing reaches AWS)', () => {
  let on: Run;
  let off: Run;
  beforeAll(async () => {
    on = await runProgram('prod', stackConfig('prod', { 'reflex:previews': 'true' }), {
      githubOidcProvider: true,
    });
    off = await runProgram('prod', stackConfig('prod'), { githubOidcProvider: true });
  }, 120_000);

  it('lets jobs of the preview environment assume the deploy role only when previews are on', () => {
    expect(trustedSubjects(on)).toEqual([
      'repo:octo-org/reflex:environment:prod',
      'repo:octo-org/reflex:environment:preview',
    ]);
    expect(trustedSubjects(off)).toBe('repo:octo-org/reflex:environment:prod');
  });

  it('lets the deploy user run preview.sh as root only when previews are on', () => {
    const rule = (run: Run) => hostFiles(run)['/etc/sudoers.d/reflex-deploy']!;
    expect(rule(on)).toMatch(
      /^deploy ALL=\(root\) NOPASSWD: .*, \/opt\/reflex\/deploy-scripts\/preview\.sh$/m,
    );
    expect(rule(on)).toContain('/opt/reflex/deploy-scripts/deploy.sh');
    expect(rule(off)).toContain('/opt/reflex/deploy-scripts/deploy.sh');
    expect(rule(off)).not.toContain('preview.sh');
  });

  it('names the preview domain in deploy.env only when previews are on', () => {
    const previewDomain = (run: Run) =>
      hostFiles(run)
        ['/etc/reflex/deploy.env']!.split('\n')
        .filter((line) => line.startsWith('REFLEX_PREVIEW_DOMAIN='));
    expect(previewDomain(on)).toEqual(['REFLEX_PREVIEW_DOMAIN=preview.reflex.example.com']);
    expect(previewDomain(off)).toEqual([]);
  });

  it("exports the preview domain for the preview environment's variables only when on", async () => {
    expect((await resolved(on)).previewDomain).toBe('preview.reflex.example.com');
    expect(Object.keys(await resolved(off))).not.toContain('previewDomain');
  });

  it('changes no resource name: the same URNs with previews on and off', () => {
    const urns = (run: Run) => run.stack.resources.map((r) => r.urn).sort();
    expect(urns(on)).toEqual(urns(off));
  });
});

describe('reflex:previews in the stack configuration', () => {
  const where = { project: 'reflex', stack: 'prod' };
  const withDomain: RawConfig = {
    'aws:region': 'eu-west-1',
    'reflex:githubRepository': 'octo-org/reflex',
    'reflex:appDomain': 'reflex.example.com',
    'reflex:hostedZoneName': 'example.com',
  };
  const problems = (raw: RawConfig) => {
    try {
      parseConfig(raw, where);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('is off by default, and on with true', () => {
    expect(parseConfig(withDomain, where).previews).toBe(false);
    expect(parseConfig({ ...withDomain, 'reflex:previews': 'true' }, where).previews).toBe(true);
  });

  it.each([
    ['a word for a boolean', { 'reflex:previews': 'yes' }, '"yes" is not true or false'],
    [
      'previews on the ecs runtime',
      { 'reflex:previews': 'true', 'reflex:runtime': 'ecs' },
      'needs reflex:runtime host (it is ecs)',
    ],
    [
      'previews without a domain',
      {
        'reflex:previews': 'true',
        'reflex:appDomain': undefined,
        'reflex:hostedZoneName': undefined,
      },
      'needs reflex:appDomain',
    ],
  ])('refuses %s, naming reflex:previews', (_label, override, message) => {
    const found = problems({ ...withDomain, ...override });
    expect(found).toEqual([{ key: 'reflex:previews', message: expect.stringContaining(message) }]);
  });

  it('lets previews off on any runtime, with or without a domain', () => {
    const noDomain = { ...withDomain, 'reflex:appDomain': '', 'reflex:hostedZoneName': '' };
    expect(
      problems({ ...withDomain, 'reflex:runtime': 'ecs', 'reflex:previews': 'false' }),
    ).toEqual([]);
    expect(problems({ ...noDomain, 'reflex:previews': 'false' })).toEqual([]);
  });
});
