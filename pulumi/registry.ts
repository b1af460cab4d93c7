// The ECR repository the deploy workflow pushes to and the host pulls from.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface RegistryArgs {
  /** The repository's name, e.g. `reflex-dev`. */
  repositoryName: pulumi.Input<string>;
  /** How many commit-SHA-tagged images to keep; older ones expire. */
  imageRetention: pulumi.Input<number>;
  /** Let `pulumi destroy` delete the repository while it still holds images. */
  forceDelete?: pulumi.Input<boolean>;
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
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
    const child = pulumi.mergeOptions(opts, { parent: this });

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
      child,
    );

    new aws.ecr.LifecyclePolicy(
      `${name}-lifecycle`,
      {
        repository: repository.name,
        policy: pulumi.output(args.imageRetention).apply(lifecyclePolicy),
      },
      child,
    );

    this.repositoryUrl = repository.repositoryUrl;
    this.repositoryArn = repository.arn;
    this.repositoryName = repository.name;
    this.registerOutputs({
      repositoryUrl: this.repositoryUrl,
      repositoryArn: this.repositoryArn,
      repositoryName: this.repositoryName,
    });
  }
}
