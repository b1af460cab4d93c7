// IAM policy documents: the JSON every policy of the stack is written in, and the trust policy
// of a role that one AWS service assumes (EC2 for the host, DLM for snapshots, ECS for tasks),
// each written once.

/** One statement of a policy document, as IAM spells it. */
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: Record<string, string | readonly string[]>;
  Action: string | readonly string[];
  Resource?: string | readonly string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** A policy document of `statements`, as IAM takes it (JSON). */
export function policyDocument(...statements: PolicyStatement[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** Lets `service` (e.g. `ec2.amazonaws.com`) and nothing else assume the role. */
export function serviceTrustPolicy(service: string): string {
  return policyDocument({
    Effect: 'Allow',
    Principal: { Service: service },
    Action: 'sts:AssumeRole',
  });
}
