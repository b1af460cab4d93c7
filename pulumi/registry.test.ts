import { Registry, lifecyclePolicy } from './registry';
import { ACCOUNT, REGION, mockStack, resolve, settle } from './testing/mocks';

const tags = { project: 'reflex', environment: 'prod', 'managed-by': 'pulumi' };

describe('registry (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(extra: { forceDelete?: boolean; imageRetention?: number } = {}) {
    const stack = await mockStack('prod');
    const registry = new Registry('registry', {
      repositoryName: 'reflex-prod',
      imageRetention: extra.imageRetention ?? 20,
      ...(extra.forceDelete === undefined ? {} : { forceDelete: extra.forceDelete }),
      tags,
    });
    await settle();
    return { stack, registry };
  }

  it('makes an ECR repository with immutable tags, scan on push and encryption', async () => {
    const { stack, registry } = await build();
    expect(stack.one('aws:ecr/repository:Repository').inputs).toEqual({
      name: 'reflex-prod',
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfigurations: [{ encryptionType: 'AES256' }],
      forceDelete: false,
      tags,
    });
    expect(await resolve(registry.repositoryUrl)).toBe(
      `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/reflex-prod`,
    );
  });

  it('lets destroy delete a repository with images only when asked', async () => {
    const { stack } = await build({ forceDelete: true });
    expect(stack.one('aws:ecr/repository:Repository').inputs.forceDelete).toBe(true);
  });

  it.each([20, 7])(
    'its lifecycle policy keeps the newest %i SHA-tagged images and expires untagged ones after a day',
    async (imageRetention) => {
      const { stack } = await build({ imageRetention });
      const lifecycle = stack.one('aws:ecr/lifecyclePolicy:LifecyclePolicy').inputs;
      expect(lifecycle.repository).toBe('reflex-prod');
      const policy = JSON.parse(lifecycle.policy as string) as {
        rules: { rulePriority: number; selection: Record<string, unknown>; action: unknown }[];
      };
      expect(policy.rules.map((r) => [r.rulePriority, r.selection, r.action])).toEqual([
        [
          1,
          {
            tagStatus: 'untagged',
            countType: 'sinceImagePushed',
            countUnit: 'days',
            countNumber: 1,
          },
          { type: 'expire' },
        ],
        [
          2,
          {
            tagStatus: 'tagged',
            tagPatternList: ['*'],
            countType: 'imageCountMoreThan',
            countNumber: imageRetention,
          },
          { type: 'expire' },
        ],
      ]);
    },
  );

  it('writes the retention into the policy as a number', () => {
    expect(lifecyclePolicy(3)).toContain('"countNumber":3}');
  });
});
