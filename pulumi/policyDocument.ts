// The trust policy of a role that one AWS service assumes (EC2 for the host, DLM for snapshots,
// ECS for tasks): the same document, written once.

/** Lets `service` (e.g. `ec2.amazonaws.com`) and nothing else assume the role. */
export function serviceTrustPolicy(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });
}
