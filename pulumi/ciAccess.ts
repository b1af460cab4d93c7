// How GitHub Actions reaches AWS: GitHub's OIDC provider (the account's own when it has one, else
// created here) and a deploy role that only jobs running in this stack's GitHub environment can
// assume (with reflex:previews, those of the `preview` environment too). It may push to this
// stack's ECR repository, read the repository it promotes from, and do what the runtime's deploy
// needs (open a tunnel to the host, or update the services).
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { ECR_PUSH, ECR_READ, ecrPolicy } from './registry';
import { policyDocument } from './policyDocument';

export interface CiAccessArgs {
  /** `owner/repo` on GitHub. */
  githubRepository: pulumi.Input<string>;
  /** The GitHub deployment environment of this stack (the stack's name). */
  environment: pulumi.Input<string>;
  /** The change-request previews' jobs (environment `preview`) may assume the role too. */
  previews?: boolean;
  /**
   * The account's GitHub OIDC provider, found before the program declares anything
   * (findGithubOidcProvider); absent means there is none and this stack creates it.
   */
  existingOidcProviderArn?: string;
  repositoryArn: pulumi.Input<string>;
  /** The repository whose tested images this stack's deploys copy by digest. */
  promotionSourceArn?: pulumi.Input<string>;
  /** The runtime's deploy access, one inline policy each (Host or EcsRuntime.deployPolicies). */
  runtimePolicies: Record<string, pulumi.Input<string>>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const GITHUB_OIDC_URL = `https://${GITHUB_OIDC_HOST}`;
export const STS_AUDIENCE = 'sts.amazonaws.com';

/**
 * The account's GitHub OIDC provider, if it has one. An account holds one provider per URL, so
 * a second stack (or anything else using GitHub Actions) must reuse it rather than create it.
 */
export async function findGithubOidcProvider(): Promise<string | undefined> {
  try {
    return (await aws.iam.getOpenIdConnectProvider({ url: GITHUB_OIDC_URL })).arn;
  } catch (error) {
    // The provider's answer when no provider has that URL; anything else is a real failure.
    if (/couldn't find resource/.test(String(error))) return undefined;
    throw new Error(
      `cannot tell whether the account has GitHub's OIDC provider (${GITHUB_OIDC_URL}): ${String(error)}`,
      { cause: error },
    );
  }
}

/** The environment of the preview workflow's jobs (docs/DEPLOY.md, "preview.yml"). */
export const PREVIEW_ENVIRONMENT = 'preview';

/** The `sub` claim of a job of this repository in that environment. */
export function allowedSubject(repository: string, environment: string): string {
  return `repo:${repository}:environment:${environment}`;
}

/**
 * The deploy role's trust policy. Only a job that names the environment gets its `sub`; GitHub
 * runs it only on the branches the environment's deployment-branch policy allows
 * (scripts/github-secrets.sh), and after its protection rules. One subject stays a plain string,
 * as IAM holds it; with previews, a list (any of them).
 */
export function trustPolicy(providerArn: string, subjects: readonly string[]): string {
  const subject = subjects.length === 1 ? subjects[0]! : [...subjects];
  return policyDocument({
    Sid: 'GitHubActionsDeploy',
    Effect: 'Allow',
    Principal: { Federated: providerArn },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: {
      StringEquals: {
        [`${GITHUB_OIDC_HOST}:aud`]: STS_AUDIENCE,
        [`${GITHUB_OIDC_HOST}:sub`]: subject,
      },
    },
  });
}

export class CiAccess extends pulumi.ComponentResource {
  readonly deployRoleArn: pulumi.Output<string>;
  readonly oidcProviderArn: pulumi.Output<string>;

  constructor(name: string, args: CiAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:CiAccess', name, {}, opts);

    this.oidcProviderArn =
      args.existingOidcProviderArn === undefined
        ? this.createProvider(name, args)
        : pulumi.output(args.existingOidcProviderArn);

    const role = new aws.iam.Role(
      `${name}-deploy-role`,
      {
        description: 'Reflex deploy workflow (GitHub Actions OIDC, one environment)',
        assumeRolePolicy: pulumi
          .all([this.oidcProviderArn, args.githubRepository, args.environment])
          .apply(([providerArn, repository, environment]) =>
            trustPolicy(
              providerArn,
              [environment, ...(args.previews === true ? [PREVIEW_ENVIRONMENT] : [])].map((e) =>
                allowedSubject(repository, e),
              ),
            ),
          ),
        maxSessionDuration: 3600,
        tags: args.tags,
      },
      { parent: this },
    );
    const policies: Record<string, pulumi.Input<string>> = {
      push: pulumi.output(args.repositoryArn).apply((arn) => ecrPolicy(arn, ECR_PUSH)),
      ...(args.promotionSourceArn === undefined
        ? {}
        : {
            'read-promotion-source': pulumi
              .output(args.promotionSourceArn)
              .apply((arn) => ecrPolicy(arn, ECR_READ)),
          }),
      ...args.runtimePolicies,
    };
    for (const [policyName, policy] of Object.entries(policies)) {
      new aws.iam.RolePolicy(`${name}-${policyName}`, { role: role.id, policy }, { parent: this });
    }

    this.deployRoleArn = role.arn;
    this.registerOutputs({
      deployRoleArn: this.deployRoleArn,
      oidcProviderArn: this.oidcProviderArn,
    });
  }

  /**
   * Creates the account's provider. It outlives the stack (retainOnDelete): other stacks and
   * repositories of the account come to rely on it, and the next `pulumi up` of this stack finds
   * it and reuses it like any other.
   */
  private createProvider(name: string, args: CiAccessArgs): pulumi.Output<string> {
    return new aws.iam.OpenIdConnectProvider(
      `${name}-github-oidc`,
      { url: GITHUB_OIDC_URL, clientIdLists: [STS_AUDIENCE], tags: args.tags },
      { parent: this, retainOnDelete: true },
    ).arn;
  }
}
