// The monitoring task's definition, as data: its size, its containers as ECS's JSON (config,
// then Prometheus and Grafana, as on the host), and its two roles' policies. ecsMonitoring.ts
// makes the resources from these.
import {
  CONFIG_OUT,
  CONFIG_VOLUMES,
  configContainerScript,
  type MonitoringFile,
} from './monitoringConfig';
import { awsLogs } from './taskDefinition';
import { writeLogsStatement } from './taskRoles';
import { policyDocument } from './policyDocument';

/** The monitoring task: Prometheus and Grafana for a handful of tasks. */
export const MONITORING_CPU = 512;
export const MONITORING_MEMORY = 1024;
/** The users the official images run as: Prometheus `nobody`, Grafana 472 (group root). */
export const PROMETHEUS_USER = { uid: 65534, gid: 65534 };
export const GRAFANA_USER = { uid: 472, gid: 0 };
/** Actions the SSM agent of ECS Exec needs; AWS offers no resource for them. */
export const EXEC_ACTIONS = [
  'ssmmessages:CreateControlChannel',
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
];

/** What the monitoring task may do in AWS: open ECS Exec's channels, mount its own storage. */
export function monitoringTaskPolicy(fileSystemArn: string, accessPointArns: string[]): string {
  return policyDocument(
    { Sid: 'EcsExecChannels', Effect: 'Allow', Action: EXEC_ACTIONS, Resource: '*' },
    {
      Sid: 'MountItsStorage',
      Effect: 'Allow',
      Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
      Resource: fileSystemArn,
      Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': accessPointArns } },
    },
  );
}

/** What ECS may do to start it: write its logs, read Grafana's password. Its images are public. */
export function monitoringExecutionPolicy(logGroupArn: string, secretArn: string): string {
  return policyDocument(writeLogsStatement(logGroupArn), {
    Sid: 'ReadGrafanasPassword',
    Effect: 'Allow',
    Action: ['secretsmanager:GetSecretValue'],
    Resource: [secretArn],
  });
}

/** The resolved inputs of the monitoring task's containers. */
export interface MonitoringContainersInput {
  files: readonly MonitoringFile[];
  prometheus: { image: string; command: string[] };
  grafana: { image: string; environment: Record<string, string> };
  grafanaSecretArn: string;
  logGroup: string;
  region: string;
}

/**
 * The monitoring task's containers, as ECS's JSON: `config` writes the files (compose.yaml's
 * bind mounts on the host) and exits; then Prometheus with the host's flags, and Grafana with
 * the host's settings. Both listen on the task's loopback only.
 */
export function monitoringContainerDefinitions(input: MonitoringContainersInput): string {
  const logs = (prefix: string) => awsLogs(input.logGroup, input.region, prefix);
  const mount = (volume: keyof typeof CONFIG_VOLUMES) => ({
    sourceVolume: volume,
    containerPath: CONFIG_VOLUMES[volume],
    readOnly: true,
  });
  const { script, environment } = configContainerScript(input.files);
  const afterConfig = [{ containerName: 'config', condition: 'SUCCESS' }];
  return JSON.stringify([
    {
      name: 'config',
      image: input.prometheus.image,
      essential: false,
      // Root, to write into the fresh task volumes; it reads nothing but its environment.
      user: '0',
      entryPoint: ['/bin/sh', '-c'],
      command: [script],
      environment: Object.entries(environment).map(([name, value]) => ({ name, value })),
      readonlyRootFilesystem: true,
      mountPoints: Object.keys(CONFIG_VOLUMES).map((volume) => ({
        sourceVolume: volume,
        containerPath: `${CONFIG_OUT}/${volume}`,
        readOnly: false,
      })),
      linuxParameters: { capabilities: { drop: ['ALL'] } },
      logConfiguration: logs('config'),
    },
    {
      name: 'prometheus',
      image: input.prometheus.image,
      essential: true,
      command: input.prometheus.command,
      user: `${PROMETHEUS_USER.uid}:${PROMETHEUS_USER.gid}`,
      readonlyRootFilesystem: true,
      mountPoints: [
        mount('prometheus-config'),
        { sourceVolume: 'prometheus-data', containerPath: '/prometheus', readOnly: false },
      ],
      dependsOn: afterConfig,
      linuxParameters: { capabilities: { drop: ['ALL'] }, initProcessEnabled: true },
      stopTimeout: 30,
      logConfiguration: logs('prometheus'),
    },
    {
      name: 'grafana',
      image: input.grafana.image,
      essential: true,
      user: `${GRAFANA_USER.uid}:${GRAFANA_USER.gid}`,
      environment: Object.entries(input.grafana.environment).map(([name, value]) => ({
        name,
        value,
      })),
      secrets: [
        {
          name: 'GF_SECURITY_ADMIN_PASSWORD',
          valueFrom: `${input.grafanaSecretArn}:GF_SECURITY_ADMIN_PASSWORD::`,
        },
      ],
      // ECS Exec, through which people reach Grafana, needs a writable root file system.
      readonlyRootFilesystem: false,
      mountPoints: [
        mount('grafana-provisioning'),
        mount('grafana-dashboards'),
        { sourceVolume: 'grafana-data', containerPath: '/var/lib/grafana', readOnly: false },
      ],
      dependsOn: afterConfig,
      linuxParameters: { capabilities: { drop: ['ALL'] }, initProcessEnabled: true },
      logConfiguration: logs('grafana'),
    },
  ]);
}
