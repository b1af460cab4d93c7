import type { CiAccessArgs } from './ciAccess';
import { CiAccess, allowedSubject, findGithubOidcProvider } from './ciAccess';
import type { MockedStack } from './testing/mocks';
import { ACCOUNT, GITHUB_OIDC_PROVIDER, mockStack, resolve, settle } from './testing/mocks';
import { tags } from './testing/fixtures';

const REPOSITORY_ARN = `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/reflex-dev`;
const SOURCE_ARN = `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/reflex-staging`;
const PROVIDER = 'aws:iam/openIdConnectProvider:OpenIdConnectProvider';

interface PolicyDocument {
  Statement: {
    Effect: string;
    Principal?: unknown;
    Action: string | string[];
    Resource?: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
  }[];
}

describe('CI access (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(
    args: Partial<CiAccessArgs> = {},
    account: { githubOidcProvider?: boolean } = {},
  ): Promise<{ stack: MockedStack; ci: CiAccess }> {
    const stack = await mockStack('dev', {}, account);
    const existing = await findGithubOidcProvider();
    const ci = new CiAccess('ci', {
      githubRepository: 'octo-org/reflex',
      environment: 'dev',
      ...(existing === undefined ? {} : { existingOidcProviderArn: existing }),
      repositoryArn: REPOSITORY_ARN,
      runtimePolicies: {},
      tags,
      ...args,
    });
    await settle();
    return { stack, ci };
  }

  const trustOf = (stack: MockedStack) =>
    JSON.parse(stack.one('aws:iam/role:Role').inputs.assumeRolePolicy as string) as PolicyDocument;
  const policies = (stack: MockedStack) =>
    Object.fromEntries(
      stack
        .ofType('aws:iam/rolePolicy:RolePolicy')
        .map((p) => [p.name, JSON.parse(p.inputs.policy as string) as PolicyDocument]),
    );

  it("creates GitHub's OIDC provider when the account has none, and leaves it behind on destroy", async () => {
    const { stack, ci } = await build();
    const provider = stack.one(PROVIDER);
    expect(provider.inputs).toEqual({
      url: 'https://token.actions.githubusercontent.com',
      clientIdLists: ['sts.amazonaws.com'],
      tags,
    });
    // Other stacks of the account come to use it; the next run of this one reuses it too.
    expect(provider.options.retainOnDelete).toBe(true);
    expect(trustOf(stack).Statement[0]!.Principal).toEqual({ Federated: GITHUB_OIDC_PROVIDER });
    expect(await resolve(ci.oidcProviderArn)).toBe(GITHUB_OIDC_PROVIDER);
  });

  it("reuses the account's provider when it has one, with no configuration", async () => {
    const { stack, ci } = await build({}, { githubOidcProvider: true });
    expect(stack.ofType(PROVIDER)).toEqual([]);
    expect(stack.calls.find((c) => c.token.endsWith('getOpenIdConnectProvider'))?.inputs).toEqual({
      url: 'https://token.actions.githubusercontent.com',
    });
    expect(trustOf(stack).Statement[0]!.Principal).toEqual({ Federated: GITHUB_OIDC_PROVIDER });
    expect(await resolve(ci.oidcProviderArn)).toBe(GITHUB_OIDC_PROVIDER);
  });

  it('trusts only STS-audience tokens of jobs in this repository and environment', async () => {
    const { stack } = await build();
    const [statement, ...others] = trustOf(stack).Statement;
    expect(others).toEqual([]);
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          'token.actions.githubusercontent.com:sub': 'repo:octo-org/reflex:environment:dev',
        },
      },
    });
    // No branch subject (a job naming no environment would get one), no pattern.
    expect(JSON.stringify(trustOf(stack))).not.toMatch(/ref:refs|\*|StringLike/);
  });

  it('may push to its repository, and do what the runtime hands it; each a policy of its own', async () => {
    const tunnel = JSON.stringify({ Version: '2012-10-17', Statement: [] });
    const { stack, ci } = await build({ runtimePolicies: { 'open-tunnel': tunnel } });
    const byName = policies(stack);
    expect(Object.keys(byName).sort()).toEqual(['ci-open-tunnel', 'ci-push']);
    expect(
      byName['ci-push']!.Statement.find((s) => s.Resource === REPOSITORY_ARN)?.Action,
    ).toContain('ecr:PutImage');
    expect(byName['ci-open-tunnel']).toEqual(JSON.parse(tunnel));
    for (const policy of stack.ofType('aws:iam/rolePolicy:RolePolicy')) {
      expect(policy.inputs.role).toBe('ci-deploy-role-id');
    }
    expect(stack.one('aws:iam/role:Role').inputs).toMatchObject({ maxSessionDuration: 3600, tags });
    expect(await resolve(ci.deployRoleArn)).toBe(
      `arn:aws:iam::${ACCOUNT}:role/ci-deploy-role-1a2b3c4`,
    );
  });

  it('may read, never write, the repository it promotes from', async () => {
    const { stack } = await build({ promotionSourceArn: SOURCE_ARN });
    const read = policies(stack)['ci-read-promotion-source']!;
    const onSource = read.Statement.filter((s) => s.Resource === SOURCE_ARN).flatMap(
      (s) => s.Action,
    );
    expect(onSource).toEqual(expect.arrayContaining(['ecr:BatchGetImage', 'ecr:DescribeImages']));
    expect(onSource.filter((a) => /Put|Upload|Delete|Tag/.test(String(a)))).toEqual([]);
  });

  it('says what went wrong when the provider lookup fails for another reason', async () => {
    await mockStack('dev', {}, { githubOidcProvider: 'access-denied' });
    await expect(findGithubOidcProvider()).rejects.toThrow(
      /cannot tell whether the account has GitHub's OIDC provider [\s\S]*AccessDenied/,
    );
  });

  it.each([
    ['octo-org/reflex', 'prod', 'repo:octo-org/reflex:environment:prod'],
    ['Octo/Re.flex', 'dev', 'repo:Octo/Re.flex:environment:dev'],
  ])('allowedSubject(%s, %s) is %s', (repository, environment, subject) => {
    expect(allowedSubject(repository, environment)).toBe(subject);
  });
});
