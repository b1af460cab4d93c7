import { HostRole } from './hostRole';
import type { MockedStack } from './testing/mocks';
import { mockStack, resolve, settle, unsecret } from './testing/mocks';
import { tags } from './testing/fixtures';

const REPOSITORY_ARN = 'arn:aws:ecr:eu-west-1:123456789012:repository/reflex-dev';
const PARAMETER_ARN = 'arn:aws:ssm:eu-west-1:123456789012:parameter/reflex-dev/ssh-host-key';

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string;
}

describe('host role (Pulumi mocks: nothing reaches AWS)', () => {
  async function build(enableSsm = false) {
    const stack = await mockStack('dev');
    const role = new HostRole('host-role', {
      repositoryArn: REPOSITORY_ARN,
      stackName: 'reflex-dev',
      enableSsm,
      tags,
    });
    await settle();
    return { stack, role };
  }

  const granted = (stack: MockedStack) =>
    stack
      .ofType('aws:iam/rolePolicy:RolePolicy')
      .flatMap(
        (p) => (JSON.parse(p.inputs.policy as string) as { Statement: Statement[] }).Statement,
      )
      .flatMap((s) => s.Action.map((action) => `${action} on ${s.Resource}`))
      .sort();

  it('is assumable by EC2 only, and may pull its repository and write its host-key parameter, nothing more', async () => {
    const { stack } = await build();
    expect(JSON.parse(stack.one('aws:iam/role:Role').inputs.assumeRolePolicy as string)).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    expect(granted(stack)).toEqual([
      `ecr:BatchCheckLayerAvailability on ${REPOSITORY_ARN}`,
      `ecr:BatchGetImage on ${REPOSITORY_ARN}`,
      'ecr:GetAuthorizationToken on *',
      `ecr:GetDownloadUrlForLayer on ${REPOSITORY_ARN}`,
      `ssm:PutParameter on ${PARAMETER_ARN}`,
    ]);
    expect(stack.ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment')).toEqual([]);
  });

  it('makes the host-key parameter, whose value only the host writes after creation', async () => {
    const { stack, role } = await build();
    const parameter = stack.one('aws:ssm/parameter:Parameter');
    expect(parameter.inputs).toMatchObject({
      name: '/reflex-dev/ssh-host-key',
      type: 'String',
      tags,
    });
    expect(unsecret(parameter.inputs.value)).toBe(
      'none yet: the host publishes its key at first boot',
    );
    expect(parameter.options.ignoreChanges).toEqual(['value']);
    expect(await resolve(role.hostKeyParameterName)).toBe('/reflex-dev/ssh-host-key');
  });

  it('adds Session Manager access only when enableSsm is set', async () => {
    const { stack } = await build(true);
    expect(stack.one('aws:iam/rolePolicyAttachment:RolePolicyAttachment').inputs).toEqual({
      role: 'host-role-1a2b3c4',
      policyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
  });
});
