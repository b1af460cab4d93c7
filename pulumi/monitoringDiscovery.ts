// How Prometheus finds and reaches the app's tasks in the ecs runtime: a Cloud Map service per
// app service, in which ECS registers each task (an SRV record), the task-metrics sidecar beside
// each task, and the security group rules that let the monitoring task, and only it, scrape the
// tasks' ports.
import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

import { TASK_METRICS_CONTAINER, TASK_METRICS_IMAGE, TASK_METRICS_PORT } from './monitoringConfig';
import type { SidecarSpec } from './taskDefinition';

/** A service whose tasks Prometheus scrapes: its tasks' security group and app port. */
export interface ScrapeTarget {
  /** The ECS service's name (`platform`, `site`): the Cloud Map service and `component`. */
  service: string;
  securityGroupId: pulumi.Input<string>;
  appPort: number;
}

/** Seconds a DNS answer for the tasks may be kept: with Prometheus' refresh, under the 30 s drain. */
export const DISCOVERY_TTL = 5;
/** The task-metrics sidecar each app task runs (docs/METRICS.md, "The ECS task"). */
export const TASK_METRICS_SIDECAR: SidecarSpec = {
  name: TASK_METRICS_CONTAINER,
  image: TASK_METRICS_IMAGE,
  port: TASK_METRICS_PORT,
  // Its own Go runtime's metrics are not the task's.
  command: ['--web.disable-exporter-metrics'],
  user: '65534:65534',
  memoryReservation: 32,
};

type Tags = pulumi.Input<Record<string, pulumi.Input<string>>>;

/**
 * A Cloud Map service answering one SRV record per task. No health check of its own: a task
 * that runs but fails must stay listed, so that Prometheus sees it down.
 */
export function discoveryService(
  name: string,
  args: { service: string; namespaceId: pulumi.Input<string>; tags: Tags },
  parent: pulumi.Resource,
): aws.servicediscovery.Service {
  return new aws.servicediscovery.Service(
    name,
    {
      name: args.service,
      description: `Reflex ${args.service} tasks, registered by ECS`,
      dnsConfig: {
        namespaceId: args.namespaceId,
        routingPolicy: 'MULTIVALUE',
        dnsRecords: [{ type: 'SRV', ttl: DISCOVERY_TTL }],
      },
      // Tasks ECS has not yet deregistered must not block a `pulumi destroy`.
      forceDestroy: true,
      tags: args.tags,
    },
    { parent },
  );
}

/** The app port (for /metrics) and the sidecar's port of each target, from the monitoring task only. */
export function allowScrapes(
  name: string,
  args: { monitoringGroupId: pulumi.Input<string>; targets: readonly ScrapeTarget[]; tags: Tags },
  parent: pulumi.Resource,
): void {
  const { monitoringGroupId } = args;
  for (const target of args.targets) {
    for (const [what, port] of [
      ['metrics', target.appPort],
      ['task-metrics', TASK_METRICS_PORT],
    ] as const) {
      const common = { ipProtocol: 'tcp', fromPort: port, toPort: port, tags: args.tags };
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-${target.service}-${what}`,
        {
          ...common,
          securityGroupId: target.securityGroupId,
          description: `Prometheus scrapes the ${target.service} tasks`,
          referencedSecurityGroupId: monitoringGroupId,
        },
        { parent },
      );
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-to-${target.service}-${what}`,
        {
          ...common,
          securityGroupId: monitoringGroupId,
          description: `Scrapes of the ${target.service} tasks`,
          referencedSecurityGroupId: target.securityGroupId,
        },
        { parent },
      );
    }
  }
}
