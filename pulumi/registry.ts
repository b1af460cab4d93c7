// The ECR repository the deploy workflow pushes to and the runtime pulls from, its lifecycle,
// and the one way this program writes ECR permissions (ecrPolicy).
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { policyDocument, type PolicyStatement } from './policyDocument';

export interface RegistryArgs {
  /** The repository's name, e.g. `reflex-dev`. */
  repositoryName: pulumi.Input<string>;
  /** How many commit-SHA-tagged images to keep; older ones expire. */
  imageRetention: pulumi.Input<number>;
  /** Let `pulumi destroy` delete the repository while it still holds images. */
  forceDelete?: pulumi.Input<boolean>;
  /**
   * Other AWS accounts whose deploy roles may pull from here (to promote tested images). A
   * plain list: it decides whether a repository policy exists at all.
   */
  pullAccounts?: readonly string[];
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Read an image: what a host, a task or a promotion needs. */
export const ECR_PULL = [
  'ecr:BatchCheckLayerAvailability',
  'ecr:BatchGetImage',
  'ecr:GetDownloadUrlForLayer',
] as const;

/** Read images and their digests by tag (the workflow reuses an image a tag already names). */
export const ECR_READ = [...ECR_PULL, 'ecr:DescribeImages'].sort();

/** Push an image (and read, to reuse one that is already there). */
export const ECR_PUSH = [
  ...ECR_READ,
  'ecr:CompleteLayerUpload',
  'ecr:InitiateLayerUpload',
  'ecr:PutImage',
  'ecr:UploadLayerPart',
].sort();

/**
 * An IAM policy document: log in to ECR (an action without a resource), and `actions` on the
 * repository `arn` and nothing else.
 */
export function ecrPolicy(arn: string, actions: readonly string[]): string {
  return policyDocument(...ecrStatements(arn, actions));
}

/** ecrPolicy's statements, for a policy that grants more besides. */
export function ecrStatements(arn: string, actions: readonly string[]): PolicyStatement[] {
  return [
    { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
    { Sid: 'ThisRepository', Effect: 'Allow', Action: [...actions], Resource: arn },
  ];
}

/** The ARN and URL of a repository named in config (by name: in this account and region). */
export function ecrRepositoryRef(
  repository: { name: string } | { arn: string },
  here: { partition: string; region: string; accountId: string },
): { arn: string; url: string } {
  if ('arn' in repository) {
    const [, , , region, accountId, resource] = repository.arn.split(':');
    const name = resource!.slice('repository/'.length);
    return { arn: repository.arn, url: `${accountId}.dkr.ecr.${region}.amazonaws.com/${name}` };
  }
  return {
    arn: `arn:${here.partition}:ecr:${here.region}:${here.accountId}:repository/${repository.name}`,
    url: `${here.accountId}.dkr.ecr.${here.region}.amazonaws.com/${repository.name}`,
  };
}

/** The repository policy that lets other accounts read images by digest (nothing else). */
export function crossAccountPullPolicy(partition: string, accounts: readonly string[]): string {
  return policyDocument({
    Sid: 'PromoteToOtherAccounts',
    Effect: 'Allow',
    Principal: { AWS: accounts.map((id) => `arn:${partition}:iam::${id}:root`) },
    Action: ECR_READ,
  });
}

/**
 * The lifecycle policy: untagged images go after a day, and only the newest SHA-tagged images
 * stay. The deploy workflow tags images with the commit SHA and nothing else (tags are
 * immutable), so "tagged" means "SHA-tagged". A list of several prefixes or patterns would
 * select only images carrying all of them, hence the single `*` pattern.
 */
export function lifecyclePolicy(imageRetention: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: 'Expire untagged images (left behind by interrupted pushes) after 1 day',
        selection: {
          tagStatus: 'untagged',
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 1,
        },
        action: { type: 'expire' },
      },
      {
        rulePriority: 2,
        description: `Keep the newest ${imageRetention} commit-SHA-tagged images`,
        selection: {
          tagStatus: 'tagged',
          tagPatternList: ['*'],
          countType: 'imageCountMoreThan',
          countNumber: imageRetention,
        },
        action: { type: 'expire' },
      },
    ],
  });
}

export class Registry extends pulumi.ComponentResource {
  readonly repositoryUrl: pulumi.Output<string>;
  readonly repositoryArn: pulumi.Output<string>;
  readonly repositoryName: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('reflex:infra:Registry', name, {}, opts);

    const repository = new aws.ecr.Repository(
      `${name}-repository`,
      {
        name: args.repositoryName,
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: 'AES256' }],
        forceDelete: args.forceDelete ?? false,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.ecr.LifecyclePolicy(
      `${name}-lifecycle`,
      {
        repository: repository.name,
        policy: pulumi.output(args.imageRetention).apply(lifecyclePolicy),
      },
      { parent: this },
    );
    this.allowPullsFrom(name, repository, args.pullAccounts);

    this.repositoryUrl = repository.repositoryUrl;
    this.repositoryArn = repository.arn;
    this.repositoryName = repository.name;
    this.registerOutputs({
      repositoryUrl: this.repositoryUrl,
      repositoryArn: this.repositoryArn,
      repositoryName: this.repositoryName,
    });
  }

  /** Lets other accounts read images, when there are any (the same account needs no policy). */
  private allowPullsFrom(
    name: string,
    repository: aws.ecr.Repository,
    accounts: RegistryArgs['pullAccounts'],
  ): void {
    if (accounts === undefined || accounts.length === 0) return;
    const partition = aws.getPartitionOutput({}, { parent: this }).partition;
    new aws.ecr.RepositoryPolicy(
      `${name}-pull-accounts`,
      {
        repository: repository.name,
        policy: partition.apply((p) => crossAccountPullPolicy(p, accounts)),
      },
      { parent: this },
    );
  }
}
