// The parts of a Fargate task definition: the app's container (and its sidecars) as ECS's JSON,
// and what every task definition and container of the stack shares (the platform, the logs
// driver, an EFS volume mounted with IAM and TLS).

/** The one container of a task, resolved (what ECS's JSON is written from). */
export interface ContainerSpec {
  name: string;
  /** The command, when it is not the image's CMD. */
  command?: string[];
  /** `uid:gid`, when it is not the image's USER. */
  user?: string;
  readonlyRootFilesystem: boolean;
  port: number;
  environment: Record<string, string>;
  /** Variable name -> Secrets Manager `valueFrom` (a secret ARN, `:json-key::` for a key). */
  secrets: Record<string, string>;
  /** The shared file system, mounted at `path` through an access point with IAM and TLS. */
  sharedState?: { fileSystemId: string; accessPointId: string; path: string };
}

/**
 * A container beside the app in each task (the task-metrics sidecar): not essential (the app
 * serves on without it), read-only, no capability, its own port, its logs in the service's group.
 */
export interface SidecarSpec {
  name: string;
  image: string;
  port: number;
  command: string[];
  user: string;
  /** MiB the task keeps for it, out of the task's memory. */
  memoryReservation: number;
}

/**
 * Seconds a task gets between SIGTERM and SIGKILL. ECS stops a task only after the ALB has
 * drained it (the target group's deregistration delay), so this covers the app's own shutdown.
 */
export const STOP_TIMEOUT = 35;

/** What every task definition of the stack is: Fargate, its own network interface, x86 Linux. */
export const FARGATE_TASK = {
  requiresCompatibilities: ['FARGATE'],
  networkMode: 'awsvpc',
  runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
};

/** A container's log configuration: the task's log group, one stream prefix per container. */
export function awsLogs(logGroup: string, region: string, prefix: string) {
  return {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': logGroup,
      'awslogs-region': region,
      'awslogs-stream-prefix': prefix,
    },
  };
}

/** A task volume on EFS, mounted through an access point, with IAM and TLS. */
export function efsVolume<T>(name: string, fileSystemId: T, accessPointId: T) {
  return {
    name,
    efsVolumeConfiguration: {
      fileSystemId,
      transitEncryption: 'ENABLED',
      authorizationConfig: { accessPointId, iam: 'ENABLED' },
    },
  };
}

/** The task definition's containers, as ECS's JSON: the app, then its sidecars. */
export function containerDefinitions(
  spec: ContainerSpec,
  image: string,
  logGroup: string,
  region: string,
  sidecars: readonly SidecarSpec[] = [],
): string {
  const { sharedState } = spec;
  const logs = (prefix: string) => awsLogs(logGroup, region, prefix);
  return JSON.stringify([
    {
      name: spec.name,
      image,
      essential: true,
      ...(spec.command ? { command: spec.command } : {}),
      ...(spec.user ? { user: spec.user } : {}),
      readonlyRootFilesystem: spec.readonlyRootFilesystem,
      portMappings: [{ containerPort: spec.port, protocol: 'tcp' }],
      environment: Object.entries(spec.environment).map(([name, value]) => ({ name, value })),
      secrets: Object.entries(spec.secrets).map(([name, valueFrom]) => ({ name, valueFrom })),
      mountPoints: sharedState
        ? [{ sourceVolume: 'shared-state', containerPath: sharedState.path, readOnly: false }]
        : [],
      linuxParameters: { capabilities: { drop: ['ALL'] }, initProcessEnabled: true },
      stopTimeout: STOP_TIMEOUT,
      logConfiguration: logs(spec.name),
    },
    ...sidecars.map((sidecar) => ({
      name: sidecar.name,
      image: sidecar.image,
      essential: false,
      command: sidecar.command,
      user: sidecar.user,
      readonlyRootFilesystem: true,
      memoryReservation: sidecar.memoryReservation,
      portMappings: [{ containerPort: sidecar.port, protocol: 'tcp' }],
      linuxParameters: { capabilities: { drop: ['ALL'] } },
      logConfiguration: logs(sidecar.name),
    })),
  ]);
}
