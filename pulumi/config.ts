// The stack's configuration: every key is read here, once, and validated. An invalid value stops
// the program with an error that names the key. Each key is documented in ../Pulumi.yaml.
import { isIP } from 'node:net';

import * as pulumi from '@pulumi/pulumi';

/** Defaults, kept equal to the `default:` of each key in ../Pulumi.yaml (a test checks it). */
export const DEFAULTS = {
  instanceType: 't3.small',
  allowSshFromAnywhere: false,
  imageRetention: 20,
  deployBranch: 'main',
  tlsPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
  enableSsm: false,
  ecrForceDelete: false,
} as const;

/** The raw values as `pulumi config` holds them (strings; lists as JSON), `undefined` when unset. */
export interface RawConfig {
  'aws:region'?: string;
  'reflex:instanceType'?: string;
  'reflex:sshAllowedCidrs'?: string;
  'reflex:allowSshFromAnywhere'?: string;
  'reflex:sshPublicKey'?: string;
  'reflex:appDomain'?: string;
  'reflex:hostedZoneName'?: string;
  'reflex:githubRepository'?: string;
  'reflex:githubOidcProviderArn'?: string;
  'reflex:imageRetention'?: string;
  'reflex:deployBranch'?: string;
  'reflex:tlsPolicy'?: string;
  'reflex:enableSsm'?: string;
  'reflex:ecrForceDelete'?: string;
}

export type ConfigKey = keyof RawConfig;

/** The HTTPS edge's names; absent when the stack serves plain HTTP on the ALB's DNS name. */
export interface DomainConfig {
  appDomain: string;
  hostedZoneName: string;
}

export interface ReflexConfig {
  project: string;
  /** The stack name, which is also the environment (`dev`, `prod`). */
  stack: string;
  region: string;
  instanceType: string;
  sshAllowedCidrs: string[];
  allowSshFromAnywhere: boolean;
  /** OpenSSH public key of the deploy user; absent means the stack generates a key pair. */
  sshPublicKey?: string;
  domain?: DomainConfig;
  /** `owner/repo`. */
  githubRepository: string;
  githubOidcProviderArn?: string;
  imageRetention: number;
  deployBranch: string;
  tlsPolicy: string;
  enableSsm: boolean;
  ecrForceDelete: boolean;
  /** Tags every taggable resource carries. */
  tags: Record<string, string>;
}

/** One or more invalid configuration values; the message names every bad key. */
export class ConfigError extends Error {
  constructor(readonly problems: { key: ConfigKey; message: string }[]) {
    super(
      'invalid stack configuration:\n' +
        problems.map((p) => `  ${p.key}: ${p.message}`).join('\n') +
        '\n(see the config section of Pulumi.yaml and docs/AWS.md)',
    );
    this.name = 'ConfigError';
  }
}

/** Reads every key from the running stack's configuration. */
export function loadConfig(): ReflexConfig {
  const aws = new pulumi.Config('aws');
  const reflex = new pulumi.Config('reflex');
  const raw: RawConfig = {
    'aws:region': aws.get('region'),
    'reflex:instanceType': reflex.get('instanceType'),
    'reflex:sshAllowedCidrs': reflex.get('sshAllowedCidrs'),
    'reflex:allowSshFromAnywhere': reflex.get('allowSshFromAnywhere'),
    'reflex:sshPublicKey': reflex.get('sshPublicKey'),
    'reflex:appDomain': reflex.get('appDomain'),
    'reflex:hostedZoneName': reflex.get('hostedZoneName'),
    'reflex:githubRepository': reflex.get('githubRepository'),
    'reflex:githubOidcProviderArn': reflex.get('githubOidcProviderArn'),
    'reflex:imageRetention': reflex.get('imageRetention'),
    'reflex:deployBranch': reflex.get('deployBranch'),
    'reflex:tlsPolicy': reflex.get('tlsPolicy'),
    'reflex:enableSsm': reflex.get('enableSsm'),
    'reflex:ecrForceDelete': reflex.get('ecrForceDelete'),
  };
  return parseConfig(raw, { project: pulumi.getProject(), stack: pulumi.getStack() });
}

/** Validates raw values and applies defaults; throws one ConfigError listing every bad key. */
export function parseConfig(
  raw: RawConfig,
  where: { project: string; stack: string },
): ReflexConfig {
  const problems: { key: ConfigKey; message: string }[] = [];
  const check = <T>(key: ConfigKey, parse: (value: string | undefined) => T): T => {
    try {
      return parse(blankToUndefined(raw[key]));
    } catch (error) {
      problems.push({ key, message: (error as Error).message });
      return undefined as T;
    }
  };

  const region = check('aws:region', (v) =>
    matching(required(v), AWS_REGION, 'an AWS region such as us-east-1'),
  );
  const instanceType = check('reflex:instanceType', (v) =>
    matching(v ?? DEFAULTS.instanceType, INSTANCE_TYPE, 'an EC2 instance type such as t3.small'),
  );
  const allowSshFromAnywhere = check('reflex:allowSshFromAnywhere', (v) =>
    parseBoolean(v, DEFAULTS.allowSshFromAnywhere),
  );
  const sshAllowedCidrs = check('reflex:sshAllowedCidrs', (v) =>
    parseSshCidrs(v, allowSshFromAnywhere === true),
  );
  const sshPublicKey = check('reflex:sshPublicKey', (v) =>
    v === undefined ? undefined : matching(v.trim(), SSH_PUBLIC_KEY, 'an OpenSSH public key line'),
  );
  const appDomain = check('reflex:appDomain', (v) => (v === undefined ? undefined : dnsName(v)));
  const hostedZoneName = check('reflex:hostedZoneName', (v) =>
    v === undefined ? undefined : dnsName(v),
  );
  const githubRepository = check('reflex:githubRepository', (v) =>
    matching(required(v), GITHUB_REPOSITORY, 'owner/repo, e.g. octo-org/reflex'),
  );
  const githubOidcProviderArn = check('reflex:githubOidcProviderArn', (v) =>
    v === undefined
      ? undefined
      : matching(
          v,
          OIDC_PROVIDER_ARN,
          'the ARN of the token.actions.githubusercontent.com provider',
        ),
  );
  const imageRetention = check('reflex:imageRetention', (v) =>
    parseInteger(v, DEFAULTS.imageRetention, 1, 1000),
  );
  const deployBranch = check('reflex:deployBranch', (v) => branchName(v ?? DEFAULTS.deployBranch));
  const tlsPolicy = check('reflex:tlsPolicy', (v) =>
    matching(
      v ?? DEFAULTS.tlsPolicy,
      TLS_POLICY,
      'an ELB security policy name (ELBSecurityPolicy-…)',
    ),
  );
  const enableSsm = check('reflex:enableSsm', (v) => parseBoolean(v, DEFAULTS.enableSsm));
  const ecrForceDelete = check('reflex:ecrForceDelete', (v) =>
    parseBoolean(v, DEFAULTS.ecrForceDelete),
  );

  const domain = pairDomain(appDomain, hostedZoneName, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    project: where.project,
    stack: where.stack,
    region,
    instanceType,
    sshAllowedCidrs,
    allowSshFromAnywhere,
    ...(sshPublicKey === undefined ? {} : { sshPublicKey }),
    ...(domain === undefined ? {} : { domain }),
    githubRepository,
    ...(githubOidcProviderArn === undefined ? {} : { githubOidcProviderArn }),
    imageRetention,
    deployBranch,
    tlsPolicy,
    enableSsm,
    ecrForceDelete,
    tags: standardTags(where.project, where.stack),
  };
}

/** The tags every taggable resource carries. */
export function standardTags(project: string, stack: string): Record<string, string> {
  return { project, environment: stack, 'managed-by': 'pulumi' };
}

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
const SSH_PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( [^\n]*)?$/;
// GitHub: owner is 1-39 alphanumerics or single hyphens inside; repository names use [A-Za-z0-9._-].
const GITHUB_REPOSITORY =
  /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\/[A-Za-z0-9._-]{1,100}$/;
const OIDC_PROVIDER_ARN =
  /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;
const TLS_POLICY = /^ELBSecurityPolicy-[A-Za-z0-9-]+$/;
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function required(value: string | undefined): string {
  if (value === undefined) throw new Error('is required but not set');
  return value;
}

function matching(value: string, pattern: RegExp, expected: string): string {
  if (!pattern.test(value)) throw new Error(`${JSON.stringify(value)} is not ${expected}`);
  return value;
}

function parseBoolean(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`${JSON.stringify(value)} is not true or false`);
}

function parseInteger(
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`${JSON.stringify(value)} is not a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A lower-case DNS name without the trailing dot. */
function dnsName(value: string): string {
  const name = value.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((l) => DNS_LABEL.test(l))) {
    throw new Error(`${JSON.stringify(value)} is not a DNS name such as app.example.com`);
  }
  return name;
}

/** A git branch name (the subset of `git check-ref-format --branch` a deploy branch needs). */
function branchName(value: string): string {
  const ok =
    /^[A-Za-z0-9._/-]+$/.test(value) &&
    !/(^[-/.])|([/.]$)|(\.\.)|(\/\/)|(\/\.)|(\.lock$)|(\.lock\/)/.test(value);
  if (!ok) throw new Error(`${JSON.stringify(value)} is not a git branch name such as main`);
  return value;
}

function parseSshCidrs(value: string | undefined, allowSshFromAnywhere: boolean): string[] {
  if (value === undefined) {
    throw new Error(
      "is required: the CIDRs that may reach SSH, e.g. pulumi config set --path 'sshAllowedCidrs[0]' 203.0.113.7/32",
    );
  }
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list) || !list.every((item): item is string => typeof item === 'string')) {
    throw new Error(
      `${JSON.stringify(value)} is not a list; set items with pulumi config set --path 'sshAllowedCidrs[0]' 203.0.113.7/32`,
    );
  }
  if (list.length === 0) throw new Error('is an empty list');
  return list.map((cidr) => {
    const problem = cidrProblem(cidr);
    if (problem !== undefined) throw new Error(`${JSON.stringify(cidr)} ${problem}`);
    if (cidr.endsWith('/0') && !allowSshFromAnywhere) {
      throw new Error(
        `${JSON.stringify(cidr)} opens SSH to the whole internet; set reflex:allowSshFromAnywhere to true if that is really meant`,
      );
    }
    return cidr;
  });
}

/** Why `cidr` is not a canonical IPv4 or IPv6 CIDR, or undefined when it is one. */
export function cidrProblem(cidr: string): string | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  const family = match ? isIP(match[1]!) : 0;
  if (!match || family === 0) return 'is not a CIDR such as 203.0.113.7/32';
  const bits = family === 4 ? 32 : 128;
  const prefix = Number(match[2]);
  if (prefix > bits) return `has a prefix longer than /${bits}`;
  const address = family === 4 ? ipv4ToBigInt(match[1]!) : ipv6ToBigInt(match[1]!);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((address & hostMask) !== 0n) return 'has host bits set; use the network address of the block';
  return undefined;
}

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) + BigInt(Number(part)), 0n);
}

function ipv6ToBigInt(address: string): bigint {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToBigInt(v4[1]!);
    text =
      text.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = tail === undefined ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) + BigInt(parseInt(group, 16)), 0n);
}

function pairDomain(
  appDomain: string | undefined,
  hostedZoneName: string | undefined,
  problems: { key: ConfigKey; message: string }[],
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
