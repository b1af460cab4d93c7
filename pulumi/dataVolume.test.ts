import { DataVolume, SNAPSHOT_TAG } from './dataVolume';
import { mockStack, resolve, settle } from './testing/mocks';
import { tags } from './testing/fixtures';

describe('data volume (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(retention = 7) {
    const stack = await mockStack('dev');
    const data = new DataVolume('data', {
      availabilityZone: 'eu-west-1b',
      sizeGiB: 10,
      snapshotRetention: retention,
      snapshotTag: 'reflex-dev',
      tags,
    });
    await settle();
    return { stack, data };
  }

  it("is an encrypted volume of its own in the host's zone, protected from deletion", async () => {
    const { stack, data } = await build();
    const volume = stack.one('aws:ebs/volume:Volume');
    expect(volume.inputs).toEqual({
      availabilityZone: 'eu-west-1b',
      size: 10,
      type: 'gp3',
      encrypted: true,
      tags: { ...tags, [SNAPSHOT_TAG]: 'reflex-dev' },
    });
    expect(volume.options.protect).toBe(true);
    expect(await resolve(data.volumeId)).toMatch(/^vol-[0-9a-f]+$/);
  });

  it.each([7, 30])('is snapshotted daily by DLM, keeping the newest %i', async (retention) => {
    const { stack } = await build(retention);
    const policy = stack.one('aws:dlm/lifecyclePolicy:LifecyclePolicy').inputs;
    expect(policy).toMatchObject({
      state: 'ENABLED',
      executionRoleArn: expect.stringContaining('data-dlm-role'),
    });
    const details = policy.policyDetails as {
      resourceTypes: string[];
      targetTags: Record<string, string>;
      schedules: { createRule: Record<string, unknown>; retainRule: unknown; copyTags: boolean }[];
    };
    expect(details.resourceTypes).toEqual(['VOLUME']);
    // Its own tag's value: another stack's volume in the same account is not this policy's.
    expect(details.targetTags).toEqual({ [SNAPSHOT_TAG]: 'reflex-dev' });
    expect(details.schedules).toEqual([
      expect.objectContaining({
        createRule: {
          interval: 24,
          intervalUnit: 'HOURS',
          times: expect.stringMatching(/^\d\d:\d\d$/),
        },
        retainRule: { count: retention },
        copyTags: true,
      }),
    ]);
  });

  it("runs DLM as a role only DLM can assume, with AWS's policy for it", async () => {
    const { stack } = await build();
    const role = stack.one('aws:iam/role:Role').inputs;
    expect(JSON.parse(role.assumeRolePolicy as string)).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'dlm.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    expect(stack.one('aws:iam/rolePolicyAttachment:RolePolicyAttachment').inputs.policyArn).toBe(
      'arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole',
    );
  });
});
