// The IAM of an ECS task: the execution role (ECS's own, to start the task: pull the image,
// write the logs, read the secrets) and the task role (what the app itself may do in AWS). Both
// the app's services and the monitoring service make theirs here, as plain aws.iam resources
// whose policies the mock tests read.
import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

import { ECR_PULL, ecrStatements } from './registry';
import { policyDocument, serviceTrustPolicy, type PolicyStatement } from './policyDocument';

const TASKS_TRUST = serviceTrustPolicy('ecs-tasks.amazonaws.com');

/** A role ECS tasks assume, with its one inline policy; both are named `name`. */
export function taskRole(
  name: string,
  args: {
    description: pulumi.Input<string>;
    policy: pulumi.Input<string>;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
  },
  parent: pulumi.Resource,
): aws.iam.Role {
  const role = new aws.iam.Role(
    name,
    { description: args.description, assumeRolePolicy: TASKS_TRUST, tags: args.tags },
    { parent },
  );
  new aws.iam.RolePolicy(name, { role: role.id, policy: args.policy }, { parent });
  return role;
}

/** ECS writes the task's logs into its log group, and nowhere else. */
export function writeLogsStatement(logGroupArn: string): PolicyStatement {
  return {
    Sid: 'WriteItsLogs',
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: `${logGroupArn}:*`,
  };
}

/** What the execution role may do: pull the image, write the log group, read the task's secrets. */
export function executionPolicy(
  repositoryArn: string,
  logGroupArn: string,
  secretArns: readonly string[],
): string {
  return policyDocument(
    ...ecrStatements(repositoryArn, ECR_PULL),
    writeLogsStatement(logGroupArn),
    ...(secretArns.length === 0
      ? []
      : [
          {
            Sid: 'ReadItsSecrets',
            Effect: 'Allow' as const,
            Action: ['secretsmanager:GetSecretValue'],
            Resource: [...secretArns],
          },
        ]),
  );
}
