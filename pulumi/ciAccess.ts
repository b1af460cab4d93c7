// How GitHub Actions reaches AWS: the GitHub OIDC provider (created here, or an existing one of
// the account) and a deploy role that only this repository's deploy branch or deploy environment
// can assume, allowed to push to this stack's ECR repository and nothing else.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface CiAccessArgs {
  /** `owner/repo` on GitHub. */
  githubRepository: pulumi.Input<string>;
  /** The branch this environment deploys from. */
  deployBranch: pulumi.Input<string>;
  /** The GitHub deployment environment of this stack (the stack's name). */
  environment: pulumi.Input<string>;
  /** An existing GitHub OIDC provider of the account; absent means create one. */
  oidcProviderArn?: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const STS_AUDIENCE = 'sts.amazonaws.com';

/** The `sub` claims allowed to assume the role: the deploy branch, and the deploy environment. */
export function allowedSubjects(repository: string, branch: string, environment: string): string[] {
  return [
    `repo:${repository}:ref:refs/heads/${branch}`,
    `repo:${repository}:environment:${environment}`,
  ];
}

/** The deploy role's trust policy: GitHub's OIDC tokens for STS, from those subjects only. */
export function trustPolicy(providerArn: string, subjects: readonly string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'GitHubActionsDeploy',
        Effect: 'Allow',
        Principal: { Federated: providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${GITHUB_OIDC_HOST}:aud`]: STS_AUDIENCE,
            [`${GITHUB_OIDC_HOST}:sub`]: subjects,
          },
        },
      },
    ],
  });
}

/** What the deploy workflow may do: log in to ECR and push to (and read) this repository. */
export function pushPolicy(repositoryArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'EcrLogin',
        Effect: 'Allow',
        Action: ['ecr:GetAuthorizationToken'],
        Resource: '*',
      },
      {
        Sid: 'PushToThisRepository',
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
        Resource: repositoryArn,
      },
    ],
  });
}

export class CiAccess extends pulumi.ComponentResource {
  readonly deployRoleArn: pulumi.Output<string>;
  readonly oidcProviderArn: pulumi.Output<string>;

  constructor(name: string, args: CiAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:CiAccess', name, {}, opts);
    const child = pulumi.mergeOptions(opts, { parent: this });

    // An account holds one provider per URL: reuse it when the account already has one.
    this.oidcProviderArn =
      args.oidcProviderArn === undefined
        ? new aws.iam.OpenIdConnectProvider(
            `${name}-github-oidc`,
            {
              url: `https://${GITHUB_OIDC_HOST}`,
              clientIdLists: [STS_AUDIENCE],
              tags: args.tags,
            },
            child,
          ).arn
        : pulumi.output(args.oidcProviderArn);

    const subjects = pulumi
      .all([args.githubRepository, args.deployBranch, args.environment])
      .apply(([repository, branch, environment]) =>
        allowedSubjects(repository, branch, environment),
      );
    const role = new aws.iam.Role(
      `${name}-deploy-role`,
      {
        description: 'Reflex deploy workflow (GitHub Actions OIDC): push images to ECR',
        assumeRolePolicy: pulumi
          .all([this.oidcProviderArn, subjects])
          .apply(([providerArn, allowed]) => trustPolicy(providerArn, allowed)),
        maxSessionDuration: 3600,
        tags: args.tags,
      },
      child,
    );
    new aws.iam.RolePolicy(
      `${name}-push`,
      { role: role.id, policy: pulumi.output(args.repositoryArn).apply(pushPolicy) },
      child,
    );

    this.deployRoleArn = role.arn;
    this.registerOutputs({
      deployRoleArn: this.deployRoleArn,
      oidcProviderArn: this.oidcProviderArn,
    });
  }
}
