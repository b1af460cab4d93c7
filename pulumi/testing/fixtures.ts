// What the component tests share: a stack's tags, the type tokens they look resources up by,
// and the ECS runtime's settings at their documented defaults.
import type { EcsConfig } from '../configSchema';

export function tagsOf(environment: 'dev' | 'prod') {
  return { project: 'reflex', environment, 'managed-by': 'pulumi' };
}

/** The dev stack's tags. */
export const tags = tagsOf('dev');

export const INGRESS = 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule';
export const EGRESS = 'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule';

export const ECS_SETTINGS: EcsConfig = {
  desiredCount: 2,
  maxCount: 4,
  cpu: 512,
  memory: 1024,
  requestsPerTask: 1000,
  logRetentionDays: 30,
  operatorSecrets: [],
};
