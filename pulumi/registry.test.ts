import {
  ECR_PULL,
  ECR_PUSH,
  ECR_READ,
  Registry,
  crossAccountPullPolicy,
  ecrPolicy,
  ecrRepositoryRef,
  lifecyclePolicy,
} from './registry';
import { ACCOUNT, REGION, mockStack, resolve, settle } from './testing/mocks';
import { tagsOf } from './testing/fixtures';

const tags = tagsOf('prod');
const WRITES =
  /^ecr:(PutImage|InitiateLayerUpload|UploadLayerPart|CompleteLayerUpload|Delete|BatchDelete|Set|Tag)/;

interface Statement {
  Effect: string;
  Principal?: unknown;
  Action: string[];
  Resource?: string;
}
const statementsOf = (policy: string) =>
  (JSON.parse(policy) as { Statement: Statement[] }).Statement;

describe('registry (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(extra: { forceDelete?: boolean; pullAccounts?: string[] } = {}) {
    const stack = await mockStack('prod');
    const registry = new Registry('registry', {
      repositoryName: 'reflex-prod',
      imageRetention: 20,
      ...extra,
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

  it('has no repository policy at all unless other accounts promote from it', async () => {
    const { stack } = await build({ pullAccounts: [] });
    expect(stack.ofType('aws:ecr/repositoryPolicy:RepositoryPolicy')).toEqual([]);
  });

  it('lets the listed accounts read images, and nothing more', async () => {
    const { stack } = await build({ pullAccounts: ['210987654321'] });
    const policy = stack.one('aws:ecr/repositoryPolicy:RepositoryPolicy').inputs;
    expect(policy.repository).toBe('reflex-prod');
    const [statement, ...others] = statementsOf(policy.policy as string);
    expect(others).toEqual([]);
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { AWS: ['arn:aws:iam::210987654321:root'] },
    });
    expect(statement!.Action.filter((a) => WRITES.test(a))).toEqual([]);
    expect(statement!.Action).toEqual(expect.arrayContaining([...ECR_PULL]));
  });

  it('expires untagged images after a day and keeps the newest N SHA-tagged ones', () => {
    const policy = JSON.parse(lifecyclePolicy(7)) as {
      rules: { rulePriority: number; selection: Record<string, unknown>; action: unknown }[];
    };
    expect(policy.rules.map((r) => [r.rulePriority, r.selection, r.action])).toEqual([
      [
        1,
        { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 },
        { type: 'expire' },
      ],
      [
        2,
        {
          tagStatus: 'tagged',
          tagPatternList: ['*'],
          countType: 'imageCountMoreThan',
          countNumber: 7,
        },
        { type: 'expire' },
      ],
    ]);
  });

  describe('ecrPolicy, the one way ECR permissions are written', () => {
    const ARN = 'arn:aws:ecr:eu-west-1:123456789012:repository/reflex-dev';

    it.each([
      ['pull', ECR_PULL],
      ['read', ECR_READ],
      ['push', ECR_PUSH],
    ])(
      'grants the %s actions on that repository only; login is the one action on *',
      (_, actions) => {
        const statements = statementsOf(ecrPolicy(ARN, actions));
        expect(statements.filter((s) => s.Resource === '*').map((s) => s.Action)).toEqual([
          ['ecr:GetAuthorizationToken'],
        ]);
        expect(statements.filter((s) => s.Resource !== '*')).toEqual([
          expect.objectContaining({ Effect: 'Allow', Action: [...actions], Resource: ARN }),
        ]);
      },
    );

    it('pull and read write nothing; push can write an image', () => {
      expect([...ECR_PULL, ...ECR_READ].filter((a) => WRITES.test(a))).toEqual([]);
      expect(ECR_PUSH).toEqual(expect.arrayContaining([...ECR_READ, 'ecr:PutImage']));
      expect(ECR_PUSH.filter((a) => a.includes('*') || /Delete/.test(a))).toEqual([]);
    });
  });

  it('cross-account reads name account roots in the partition', () => {
    const [statement] = statementsOf(crossAccountPullPolicy('aws-cn', ['111122223333']));
    expect(statement!.Principal).toEqual({ AWS: ['arn:aws-cn:iam::111122223333:root'] });
  });

  it.each([
    [
      { name: 'reflex-dev' },
      {
        arn: 'arn:aws:ecr:eu-west-1:123456789012:repository/reflex-dev',
        url: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/reflex-dev',
      },
    ],
    [
      { arn: 'arn:aws:ecr:us-east-2:210987654321:repository/team/reflex-dev' },
      {
        arn: 'arn:aws:ecr:us-east-2:210987654321:repository/team/reflex-dev',
        url: '210987654321.dkr.ecr.us-east-2.amazonaws.com/team/reflex-dev',
      },
    ],
  ])('finds the promotion source %j', (repository, expected) => {
    expect(
      ecrRepositoryRef(repository, { partition: 'aws', region: 'eu-west-1', accountId: ACCOUNT }),
    ).toEqual(expected);
  });
});
