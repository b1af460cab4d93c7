// The readers of the configuration's sections (the host, the ecs services, the domain): each
// turns raw values into its typed section, defaults applied. A bad value becomes a Problem that
// names its key; config.ts gathers them all into one ConfigError.
import {
  FARGATE_CPU,
  accountIds,
  debianAmiName,
  ecrRepository,
  fargateMemory,
  matching,
  matchingOr,
  oneOf,
  parseBoolean,
  parseInteger,
  parseList,
  patterns,
  sshCidrs,
} from './configRules';
import type {
  ConfigKey,
  DomainConfig,
  EcsConfig,
  HostConfig,
  RawConfig,
  ReflexConfig,
} from './configSchema';
import { DEFAULTS, OPERATOR_SECRETS } from './configSchema';

export type Problem = { key: ConfigKey; message: string };

type RegistryConfig = Pick<
  ReflexConfig,
  'imageRetention' | 'promoteFrom' | 'imagePullAccounts' | 'ecrForceDelete'
>;

/** Parses one key's value; a throw becomes a Problem naming the key (and `undefined`). */
export type Check = <T>(key: keyof RawConfig, parse: (value: string | undefined) => T) => T;
export type Integer = (key: keyof RawConfig, fallback: number, min: number, max: number) => number;

export function readHost(check: Check, integer: Integer): HostConfig {
  const instanceType = check(
    'reflex:instanceType',
    matchingOr(
      DEFAULTS.instanceType,
      patterns.INSTANCE_TYPE,
      'an EC2 instance type such as t3.small',
    ),
  );
  const amiName = check('reflex:hostAmi', (v) =>
    debianAmiName(v ?? DEFAULTS.hostAmi, instanceType),
  );
  const sshAllowedCidrs = check('reflex:sshAllowedCidrs', (v) =>
    sshCidrs(parseList(v, 'sshAllowedCidrs', '203.0.113.7/32')),
  );
  const sshPublicKey = check('reflex:sshPublicKey', (v) =>
    v === undefined
      ? undefined
      : matching(v.trim(), patterns.SSH_PUBLIC_KEY, 'an OpenSSH public key line'),
  );
  return {
    instanceType,
    amiName,
    sshAllowedCidrs,
    ...(sshPublicKey === undefined ? {} : { sshPublicKey }),
    dataVolumeGiB: integer('reflex:dataVolumeGiB', DEFAULTS.dataVolumeGiB, 1, 16384),
    dataSnapshotRetention: integer(
      'reflex:dataSnapshotRetention',
      DEFAULTS.dataSnapshotRetention,
      1,
      1000,
    ),
    enableSsm: check('reflex:enableSsm', (v) => parseBoolean(v, DEFAULTS.enableSsm)),
  };
}

/**
 * The most tasks a service may run: Prometheus finds them in one Cloud Map DNS answer, and
 * Route 53 answers a multivalue service with at most eight records (docs/MONITORING.md).
 */
export const MAX_TASKS_PER_SERVICE = 8;

export function readEcs(check: Check, integer: Integer): EcsConfig {
  const desiredCount = integer(
    'reflex:ecsDesiredCount',
    DEFAULTS.ecsDesiredCount,
    2,
    MAX_TASKS_PER_SERVICE,
  );
  const maxCount = check('reflex:ecsMaxCount', (v) => {
    const most = parseInteger(
      v,
      Math.max(DEFAULTS.ecsMaxCount, desiredCount ?? 0),
      desiredCount ?? 2,
      100,
    );
    if (most > MAX_TASKS_PER_SERVICE) {
      throw new Error(
        `${most} is more than ${MAX_TASKS_PER_SERVICE}: Prometheus finds tasks in one DNS answer, ` +
          `which holds ${MAX_TASKS_PER_SERVICE}; give each task more (ecsCpu, ecsMemory) instead`,
      );
    }
    return most;
  });
  const cpu = check('reflex:ecsCpu', (v) =>
    Number(oneOf(v ?? String(DEFAULTS.ecsCpu), FARGATE_CPU.map(String))),
  );
  const memory = check('reflex:ecsMemory', (v) =>
    fargateMemory(parseInteger(v, DEFAULTS.ecsMemory, 512, 30720), cpu),
  );
  return {
    desiredCount,
    maxCount,
    cpu,
    memory,
    requestsPerTask: integer('reflex:ecsRequestsPerTask', DEFAULTS.ecsRequestsPerTask, 1, 1000000),
    logRetentionDays: check('reflex:ecsLogRetentionDays', (v) =>
      Number(oneOf(v ?? String(DEFAULTS.ecsLogRetentionDays), LOG_RETENTION_DAYS.map(String))),
    ),
    operatorSecrets: check('reflex:ecsSecrets', (v) =>
      parseList(v, 'ecsSecrets', 'REFLEX_GIT_TOKEN').map((key) => oneOf(key, OPERATOR_SECRETS)),
    ),
  };
}

/** The image repository's settings: retention, where images are promoted from, who may pull. */
export function readRegistry(check: Check, integer: Integer): RegistryConfig {
  const imageRetention = integer('reflex:imageRetention', DEFAULTS.imageRetention, 1, 1000);
  const promoteFrom = check('reflex:promoteFrom', (v) =>
    v === undefined ? undefined : ecrRepository(v),
  );
  return {
    imageRetention,
    ...(promoteFrom === undefined ? {} : { promoteFrom }),
    imagePullAccounts: check('reflex:imagePullAccounts', (v) =>
      accountIds(parseList(v, 'imagePullAccounts', '210987654321')),
    ),
    ecrForceDelete: check('reflex:ecrForceDelete', (v) => parseBoolean(v, DEFAULTS.ecrForceDelete)),
  };
}

/** The retentions CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

export function pairDomain(
  appDomain: string | undefined,
  hostedZoneName: string | undefined,
  problems: Problem[],
): DomainConfig | undefined {
  if (appDomain === undefined && hostedZoneName === undefined) return undefined;
  if (hostedZoneName === undefined) {
    problems.push({
      key: 'reflex:hostedZoneName',
      message: 'is required when reflex:appDomain is set',
    });
    return undefined;
  }
  if (appDomain === undefined) {
    problems.push({
      key: 'reflex:appDomain',
      message: 'is required when reflex:hostedZoneName is set',
    });
    return undefined;
  }
  if (appDomain !== hostedZoneName && !appDomain.endsWith(`.${hostedZoneName}`)) {
    problems.push({
      key: 'reflex:appDomain',
      message: `${JSON.stringify(appDomain)} is not inside the hosted zone ${JSON.stringify(hostedZoneName)}`,
    });
    return undefined;
  }
  return { appDomain, hostedZoneName };
}

/**
 * Previews run on the EC2 host (preview.sh) and answer at `<slug>.preview.<appDomain>`, under
 * the stack's certificate: without the host or the domain there is nothing to turn on.
 */
export function checkPreviews(
  previews: boolean | undefined,
  runtime: string | undefined,
  appDomain: string | undefined,
  problems: Problem[],
): void {
  if (previews !== true) return;
  if (runtime !== undefined && runtime !== 'host') {
    problems.push({
      key: 'reflex:previews',
      message: `needs reflex:runtime host (it is ${runtime}): previews run on the EC2 host`,
    });
  }
  if (appDomain === undefined) {
    problems.push({
      key: 'reflex:previews',
      message:
        'needs reflex:appDomain: previews answer at <slug>.preview.<appDomain>, under its certificate',
    });
  }
}
