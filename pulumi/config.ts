// The stack's configuration: every key is read here, once, and validated. An invalid value stops
// the program with an error that names the key. Each key is documented in ../Pulumi.yaml; the
// rules themselves are in configRules.ts.
import * as pulumi from '@pulumi/pulumi';

import {
  FARGATE_CPU,
  accountIds,
  branchName,
  debianAmiName,
  dnsName,
  ecrRepository,
  fargateMemory,
  matching,
  oneOf,
  parseBoolean,
  parseInteger,
  parseList,
  patterns,
  required,
  sshCidrs,
} from './configRules';

export const RUNTIMES = ['host', 'ecs'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Secrets an operator may add to the ecs runtime's platform secret (docs/AWS.md). */
export const OPERATOR_SECRETS = [
  'REFLEX_GIT_TOKEN',
  'REFLEX_ADMIN_PASSWORD',
  'REFLEX_GITHUB_TOKEN',
] as const;
export type OperatorSecret = (typeof OPERATOR_SECRETS)[number];

/** Defaults, kept equal to the `default:` of each key in ../Pulumi.yaml (a test checks it). */
export const DEFAULTS = {
  runtime: 'host',
  instanceType: 't3.small',
  hostAmi: 'debian-13-amd64-20251117-2299',
  dataVolumeGiB: 10,
  dataSnapshotRetention: 7,
  imageRetention: 20,
  deployBranch: 'main',
  tlsPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
  enableSsm: false,
  ecrForceDelete: false,
  ecsDesiredCount: 2,
  ecsMaxCount: 4,
  ecsCpu: 512,
  ecsMemory: 1024,
  ecsRequestsPerTask: 1000,
  ecsLogRetentionDays: 30,
} as const;

/** Keys a stack may still hold from an earlier version, and what to do instead. */
export const RETIRED_KEYS = {
  'reflex:allowSshFromAnywhere':
    'was removed: the deploy workflow reaches the host through the EC2 Instance Connect ' +
    'Endpoint and no port 22 is ever open to the internet; pulumi config rm allowSshFromAnywhere',
  'reflex:githubOidcProviderArn':
    "was removed: the stack finds the account's GitHub OIDC provider itself; " +
    'pulumi config rm githubOidcProviderArn',
} as const;

/** The raw values as `pulumi config` holds them (strings; lists as JSON), `undefined` when unset. */
export interface RawConfig {
  'aws:region'?: string;
  'reflex:runtime'?: string;
  'reflex:instanceType'?: string;
  'reflex:hostAmi'?: string;
  'reflex:sshAllowedCidrs'?: string;
  'reflex:sshPublicKey'?: string;
  'reflex:dataVolumeGiB'?: string;
  'reflex:dataSnapshotRetention'?: string;
  'reflex:appDomain'?: string;
  'reflex:hostedZoneName'?: string;
  'reflex:githubRepository'?: string;
  'reflex:imageRetention'?: string;
  'reflex:promoteFrom'?: string;
  'reflex:imagePullAccounts'?: string;
  'reflex:deployBranch'?: string;
  'reflex:tlsPolicy'?: string;
  'reflex:enableSsm'?: string;
  'reflex:ecrForceDelete'?: string;
  'reflex:ecsDesiredCount'?: string;
  'reflex:ecsMaxCount'?: string;
  'reflex:ecsCpu'?: string;
  'reflex:ecsMemory'?: string;
  'reflex:ecsRequestsPerTask'?: string;
  'reflex:ecsLogRetentionDays'?: string;
  'reflex:ecsSecrets'?: string;
}

export type ConfigKey = keyof RawConfig | keyof typeof RETIRED_KEYS;

/** The HTTPS edge's names; absent when the stack serves plain HTTP on the ALB's DNS name. */
export interface DomainConfig {
  appDomain: string;
  hostedZoneName: string;
}

/** The single EC2 host of the `host` runtime. */
export interface HostConfig {
  instanceType: string;
  /** The pinned name of an official Debian 13 AMI. */
  amiName: string;
  /** People's SSH sources (the deploy workflow uses the EC2 Instance Connect Endpoint). */
  sshAllowedCidrs: string[];
  /** OpenSSH public key of the deploy user; absent means the stack generates a key pair. */
  sshPublicKey?: string;
  dataVolumeGiB: number;
  dataSnapshotRetention: number;
  enableSsm: boolean;
}

/** The Fargate services of the `ecs` runtime. */
export interface EcsConfig {
  desiredCount: number;
  maxCount: number;
  cpu: number;
  memory: number;
  requestsPerTask: number;
  logRetentionDays: number;
  /** The keys the operator has put into the platform's secret. */
  operatorSecrets: OperatorSecret[];
}

export interface ReflexConfig {
  project: string;
  /** The stack name, which is also the GitHub environment (`dev`, `prod`). */
  stack: string;
  region: string;
  runtime: Runtime;
  host: HostConfig;
  ecs: EcsConfig;
  domain?: DomainConfig;
  /** `owner/repo`. */
  githubRepository: string;
  imageRetention: number;
  /** The repository whose tested images this stack's deploys copy by digest. */
  promoteFrom?: { name: string } | { arn: string };
  /** Other AWS accounts allowed to pull from this stack's repository (to promote from it). */
  imagePullAccounts: string[];
  deployBranch: string;
  tlsPolicy: string;
  ecrForceDelete: boolean;
  /** Tags every taggable resource carries. */
  tags: Record<string, string>;
}

type Problem = { key: ConfigKey; message: string };

/** One or more invalid configuration values; the message names every bad key. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(
      'invalid stack configuration:\n' +
        problems.map((p) => `  ${p.key}: ${p.message}`).join('\n') +
        '\n(see the config section of Pulumi.yaml and docs/AWS.md)',
    );
    this.name = 'ConfigError';
  }
}

const RAW_KEYS: (keyof RawConfig)[] = [
  'aws:region',
  'reflex:runtime',
  'reflex:instanceType',
  'reflex:hostAmi',
  'reflex:sshAllowedCidrs',
  'reflex:sshPublicKey',
  'reflex:dataVolumeGiB',
  'reflex:dataSnapshotRetention',
  'reflex:appDomain',
  'reflex:hostedZoneName',
  'reflex:githubRepository',
  'reflex:imageRetention',
  'reflex:promoteFrom',
  'reflex:imagePullAccounts',
  'reflex:deployBranch',
  'reflex:tlsPolicy',
  'reflex:enableSsm',
  'reflex:ecrForceDelete',
  'reflex:ecsDesiredCount',
  'reflex:ecsMaxCount',
  'reflex:ecsCpu',
  'reflex:ecsMemory',
  'reflex:ecsRequestsPerTask',
  'reflex:ecsLogRetentionDays',
  'reflex:ecsSecrets',
];

/** Reads every key from the running stack's configuration. */
export function loadConfig(): ReflexConfig {
  const namespaces = { aws: new pulumi.Config('aws'), reflex: new pulumi.Config('reflex') };
  const read = (key: string) => {
    const [namespace, name] = key.split(':') as ['aws' | 'reflex', string];
    return namespaces[namespace].get(name);
  };
  const raw = Object.fromEntries(RAW_KEYS.map((key) => [key, read(key)])) as RawConfig;
  const retired = Object.keys(RETIRED_KEYS).filter((key) => read(key) !== undefined);
  return parseConfig(raw, { project: pulumi.getProject(), stack: pulumi.getStack() }, retired);
}

/** Validates raw values and applies defaults; throws one ConfigError listing every bad key. */
export function parseConfig(
  raw: RawConfig,
  where: { project: string; stack: string },
  retiredKeysSet: readonly string[] = [],
): ReflexConfig {
  const problems: Problem[] = retiredKeysSet.map((key) => ({
    key: key as keyof typeof RETIRED_KEYS,
    message: RETIRED_KEYS[key as keyof typeof RETIRED_KEYS],
  }));
  const check = <T>(key: keyof RawConfig, parse: (value: string | undefined) => T): T => {
    try {
      return parse(blankToUndefined(raw[key]));
    } catch (error) {
      problems.push({ key, message: (error as Error).message });
      return undefined as T;
    }
  };
  const integer = (key: keyof RawConfig, fallback: number, min: number, max: number) =>
    check(key, (v) => parseInteger(v, fallback, min, max));

  const region = check('aws:region', (v) =>
    matching(required(v), patterns.AWS_REGION, 'an AWS region such as us-east-1'),
  );
  const runtime = check('reflex:runtime', (v) => oneOf(v ?? DEFAULTS.runtime, RUNTIMES));
  const host = readHost(check, integer);
  const ecs = readEcs(check, integer);
  const appDomain = check('reflex:appDomain', (v) => (v === undefined ? undefined : dnsName(v)));
  const hostedZoneName = check('reflex:hostedZoneName', (v) =>
    v === undefined ? undefined : dnsName(v),
  );
  const githubRepository = check('reflex:githubRepository', (v) =>
    matching(required(v), patterns.GITHUB_REPOSITORY, 'owner/repo, e.g. octo-org/reflex'),
  );
  const imageRetention = integer('reflex:imageRetention', DEFAULTS.imageRetention, 1, 1000);
  const promoteFrom = check('reflex:promoteFrom', (v) =>
    v === undefined ? undefined : ecrRepository(v),
  );
  const imagePullAccounts = check('reflex:imagePullAccounts', (v) =>
    accountIds(parseList(v, 'imagePullAccounts', '210987654321')),
  );
  const deployBranch = check('reflex:deployBranch', (v) => branchName(v ?? DEFAULTS.deployBranch));
  const tlsPolicy = check('reflex:tlsPolicy', (v) =>
    matching(
      v ?? DEFAULTS.tlsPolicy,
      patterns.TLS_POLICY,
      'an ELB security policy name (ELBSecurityPolicy-…)',
    ),
  );
  const ecrForceDelete = check('reflex:ecrForceDelete', (v) =>
    parseBoolean(v, DEFAULTS.ecrForceDelete),
  );

  const domain = pairDomain(appDomain, hostedZoneName, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    project: where.project,
    stack: where.stack,
    region,
    runtime,
    host,
    ecs,
    ...(domain === undefined ? {} : { domain }),
    githubRepository,
    imageRetention,
    ...(promoteFrom === undefined ? {} : { promoteFrom }),
    imagePullAccounts,
    deployBranch,
    tlsPolicy,
    ecrForceDelete,
    tags: standardTags(where.project, where.stack),
  };
}

type Check = <T>(key: keyof RawConfig, parse: (value: string | undefined) => T) => T;
type Integer = (key: keyof RawConfig, fallback: number, min: number, max: number) => number;

function readHost(check: Check, integer: Integer): HostConfig {
  const instanceType = check('reflex:instanceType', (v) =>
    matching(
      v ?? DEFAULTS.instanceType,
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

function readEcs(check: Check, integer: Integer): EcsConfig {
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

/** The retentions CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

/** The tags every taggable resource carries. */
export function standardTags(project: string, stack: string): Record<string, string> {
  return { project, environment: stack, 'managed-by': 'pulumi' };
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function pairDomain(
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
