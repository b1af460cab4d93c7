import { CiAccess, allowedSubjects } from './ciAccess';
import type { MockedStack } from './testing/mocks';
import { ACCOUNT, mockStack, resolve, settle } from './testing/mocks';

const tags = { project: 'reflex', environment: 'dev', 'managed-by': 'pulumi' };
const REPOSITORY_ARN = `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/reflex-dev`;
const CREATED_PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
const EXISTING_PROVIDER = `arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com`;

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
  async function build(oidcProviderArn?: string): Promise<{ stack: MockedStack; ci: CiAccess }> {
    const stack = await mockStack('dev');
    const ci = new CiAccess('ci', {
      githubRepository: 'octo-org/reflex',
      deployBranch: 'main',
      environment: 'dev',
      ...(oidcProviderArn === undefined ? {} : { oidcProviderArn }),
      repositoryArn: REPOSITORY_ARN,
      tags,
    });
    await settle();
    return { stack, ci };
  }

  const trustOf = (stack: MockedStack) =>
    JSON.parse(stack.one('aws:iam/role:Role').inputs.assumeRolePolicy as string) as PolicyDocument;

  it("creates GitHub's OIDC provider for STS when the account has none configured", async () => {
    const { stack, ci } = await build();
    expect(stack.one('aws:iam/openIdConnectProvider:OpenIdConnectProvider').inputs).toEqual({
      url: 'https://token.actions.githubusercontent.com',
      clientIdLists: ['sts.amazonaws.com'],
      tags,
    });
    expect(trustOf(stack).Statement[0]!.Principal).toEqual({ Federated: CREATED_PROVIDER });
    expect(await resolve(ci.oidcProviderArn)).toBe(CREATED_PROVIDER);
  });

  it('reuses the configured provider instead of creating one', async () => {
    const { stack } = await build(EXISTING_PROVIDER);
    expect(stack.ofType('aws:iam/openIdConnectProvider:OpenIdConnectProvider')).toEqual([]);
    expect(trustOf(stack).Statement[0]!.Principal).toEqual({ Federated: EXISTING_PROVIDER });
  });

  it("trusts only STS-audience tokens of this repository's deploy branch or deploy environment", async () => {
    const { stack } = await build();
    expect(trustOf(stack).Statement).toEqual([
      {
        Sid: 'GitHubActionsDeploy',
        Effect: 'Allow',
        Principal: { Federated: CREATED_PROVIDER },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
            'token.actions.githubusercontent.com:sub': [
              'repo:octo-org/reflex:ref:refs/heads/main',
              'repo:octo-org/reflex:environment:dev',
            ],
          },
        },
      },
    ]);
    expect(JSON.stringify(trustOf(stack))).not.toMatch(/\*|StringLike/);
  });

  it('may push to this repository only; ECR login is the one action on *', async () => {
    const { stack, ci } = await build();
    const policy = stack.one('aws:iam/rolePolicy:RolePolicy').inputs;
    expect(policy.role).toBe('ci-deploy-role-id');
    const statements = (JSON.parse(policy.policy as string) as PolicyDocument).Statement;
    expect(
      statements.map(({ Effect, Action, Resource }) => ({ Effect, Action, Resource })),
    ).toEqual([
      { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:BatchGetImage',
          'ecr:CompleteLayerUpload',
          'ecr:DescribeImages',
          'ecr:GetDownloadUrlForLayer',
          'ecr:InitiateLayerUpload',
          'ecr:PutImage',
          'ecr:UploadLayerPart',
        ],
        Resource: REPOSITORY_ARN,
      },
    ]);
    expect(stack.one('aws:iam/role:Role').inputs).toMatchObject({ maxSessionDuration: 3600, tags });
    expect(await resolve(ci.deployRoleArn)).toBe(
      `arn:aws:iam::${ACCOUNT}:role/ci-deploy-role-1a2b3c4`,
    );
  });

  it.each([
    [
      'octo-org/reflex',
      'main',
      'prod',
      'repo:octo-org/reflex:ref:refs/heads/main',
      'repo:octo-org/reflex:environment:prod',
    ],
    [
      'Octo/Re.flex',
      'release/2',
      'dev',
      'repo:Octo/Re.flex:ref:refs/heads/release/2',
      'repo:Octo/Re.flex:environment:dev',
    ],
  ])('allowedSubjects(%s, %s, %s)', (repository, branch, environment, ref, env) => {
    expect(allowedSubjects(repository, branch, environment)).toEqual([ref, env]);
  });
});
