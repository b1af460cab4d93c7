import type { ContainerSpec } from './taskDefinition';
import { STOP_TIMEOUT, containerDefinitions } from './taskDefinition';
import { executionPolicy } from './taskRoles';

const spec: ContainerSpec = {
  name: 'platform',
  readonlyRootFilesystem: false,
  port: 3000,
  environment: { REFLEX_STATE_DIR: '/data' },
  secrets: {
    REFLEX_SESSION_SECRET:
      'arn:aws:secretsmanager:eu-west-1:1:secret:s-AbC:REFLEX_SESSION_SECRET::',
  },
  sharedState: { fileSystemId: 'fs-1', accessPointId: 'fsap-1', path: '/data' },
};

describe('a Fargate service of the ecs runtime', () => {
  it('writes one essential container from the image, its port, logs and the shared mount', () => {
    const [container, ...others] = JSON.parse(
      containerDefinitions(spec, 'repo@sha256:abc', '/reflex-dev/platform', 'eu-west-1'),
    ) as Record<string, unknown>[];
    expect(others).toEqual([]);
    expect(container).toMatchObject({
      name: 'platform',
      image: 'repo@sha256:abc',
      essential: true,
      portMappings: [{ containerPort: 3000, protocol: 'tcp' }],
      environment: [{ name: 'REFLEX_STATE_DIR', value: '/data' }],
      secrets: [{ name: 'REFLEX_SESSION_SECRET', valueFrom: spec.secrets.REFLEX_SESSION_SECRET }],
      mountPoints: [{ sourceVolume: 'shared-state', containerPath: '/data', readOnly: false }],
      linuxParameters: { capabilities: { drop: ['ALL'] }, initProcessEnabled: true },
      stopTimeout: STOP_TIMEOUT,
      logConfiguration: {
        logDriver: 'awslogs',
        options: { 'awslogs-group': '/reflex-dev/platform' },
      },
    });
    expect(container).not.toHaveProperty('user');
  });

  it('lets ECS read only the secrets the task names, and none when it names none', () => {
    const grants = (secrets: string[]) =>
      (
        JSON.parse(executionPolicy('arn:repo', 'arn:logs', secrets)) as {
          Statement: { Action: string[]; Resource: string | string[] }[];
        }
      ).Statement.filter((s) => s.Action.some((a) => a.startsWith('secretsmanager:')));
    expect(grants([])).toEqual([]);
    expect(grants(['arn:secret'])).toEqual([
      expect.objectContaining({
        Action: ['secretsmanager:GetSecretValue'],
        Resource: ['arn:secret'],
      }),
    ]);
  });
});
