// The stack configuration's shape: every key `pulumi config` may hold, its default, and the
// typed sections the program reads. Each key is documented in ../Pulumi.yaml; config.ts reads
// and validates them.

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
  previews: false,
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

/** Every key the program reads (a retired key aside), in the order `pulumi config` lists them. */
export const RAW_KEYS = [
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
  'reflex:previews',
  'reflex:ecsDesiredCount',
  'reflex:ecsMaxCount',
  'reflex:ecsCpu',
  'reflex:ecsMemory',
  'reflex:ecsRequestsPerTask',
  'reflex:ecsLogRetentionDays',
  'reflex:ecsSecrets',
] as const;

/** The raw values as `pulumi config` holds them (strings; lists as JSON), `undefined` when unset. */
export type RawConfig = { [key in (typeof RAW_KEYS)[number]]?: string };

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
  /** Change-request previews run on the host, at `<slug>.preview.<appDomain>` (docs/HOST.md). */
  previews: boolean;
  /** Tags every taggable resource carries. */
  tags: Record<string, string>;
}
