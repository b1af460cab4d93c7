// The rules config.ts and configSections.ts validate values with: pure functions that throw an
// Error whose message completes "reflex:<key>: ...". Kept apart so that each rule is table-tested.
import { isIP } from 'node:net';

/** Debian's AWS account, owner of the official Debian AMIs. */
export const DEBIAN_ACCOUNT = '136693071363';

/** SSH is for people at known addresses: a block broader than this is refused. */
export const SSH_WIDEST_PREFIX = { 4: 8, 6: 32 } as const;

/** Fargate's CPU units and the memory sizes (MiB) each allows. */
const range = (from: number, to: number) =>
  Array.from({ length: (to - from) / 1024 + 1 }, (_, i) => from + i * 1024);
const FARGATE_MEMORY: Record<number, number[]> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096),
  1024: range(2048, 8192),
  2048: range(4096, 16384),
  4096: range(8192, 30720),
};

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
const SSH_PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,2}( [^\n]*)?$/;
// GitHub: owner is 1-39 alphanumerics or single hyphens inside; repository names use [A-Za-z0-9._-].
const GITHUB_REPOSITORY =
  /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\/[A-Za-z0-9._-]{1,100}$/;
const TLS_POLICY = /^ELBSecurityPolicy-[A-Za-z0-9-]+$/;
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const DEBIAN_AMI = /^debian-13-(amd64|arm64)-\d{8}-\d+$/;
const ECR_REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const ECR_REPOSITORY_ARN = /^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/(.+)$/;
const ACCOUNT_ID = /^\d{12}$/;

export const patterns = {
  AWS_REGION,
  INSTANCE_TYPE,
  SSH_PUBLIC_KEY,
  GITHUB_REPOSITORY,
  TLS_POLICY,
} as const;

export function required(value: string | undefined): string {
  if (value === undefined) throw new Error('is required but not set');
  return value;
}

export function matching(value: string, pattern: RegExp, expected: string): string {
  if (!pattern.test(value)) throw new Error(`${JSON.stringify(value)} is not ${expected}`);
  return value;
}

/** A setting's parser: its value, or `fallback` when unset, provided it matches `pattern`. */
export function matchingOr(
  fallback: string,
  pattern: RegExp,
  expected: string,
): (value: string | undefined) => string {
  return (value) => matching(value ?? fallback, pattern, expected);
}

export function oneOf<T extends string>(value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new Error(`${JSON.stringify(value)} is not one of ${choices.join(', ')}`);
  }
  return value as T;
}

export function parseBoolean(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`${JSON.stringify(value)} is not true or false`);
}

export function parseInteger(
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

/** A JSON list of strings, as `pulumi config set --path 'key[0]' value` stores it. */
export function parseList(value: string | undefined, key: string, example: string): string[] {
  if (value === undefined) return [];
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list) || !list.every((item): item is string => typeof item === 'string')) {
    throw new Error(
      `${JSON.stringify(value)} is not a list; set items with pulumi config set --path '${key}[0]' ${example}`,
    );
  }
  return list;
}

/** A lower-case DNS name without the trailing dot. */
export function dnsName(value: string): string {
  const name = value.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((l) => DNS_LABEL.test(l))) {
    throw new Error(`${JSON.stringify(value)} is not a DNS name such as app.example.com`);
  }
  return name;
}

/** A git branch name (the subset of `git check-ref-format --branch` a deploy branch needs). */
export function branchName(value: string): string {
  const ok =
    /^[A-Za-z0-9._/-]+$/.test(value) &&
    !/(^[-/.])|([/.]$)|(\.\.)|(\/\/)|(\/\.)|(\.lock$)|(\.lock\/)/.test(value);
  if (!ok) throw new Error(`${JSON.stringify(value)} is not a git branch name such as main`);
  return value;
}

/** The people's SSH sources: canonical CIDRs, none wider than SSH_WIDEST_PREFIX. */
export function sshCidrs(list: readonly string[]): string[] {
  return list.map((cidr) => {
    const problem = cidrProblem(cidr);
    if (problem !== undefined) throw new Error(`${JSON.stringify(cidr)} ${problem}`);
    const family = cidr.includes(':') ? 6 : 4;
    if (Number(cidr.split('/')[1]) < SSH_WIDEST_PREFIX[family]) {
      throw new Error(
        `${JSON.stringify(cidr)} is wider than /${SSH_WIDEST_PREFIX[family]}: SSH is for people at known ` +
          'addresses (the deploy workflow comes through the EC2 Instance Connect Endpoint)',
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

/** The CPU architecture an instance type runs (Graviton families carry a `g` after the generation). */
export function architectureOf(instanceType: string): 'arm64' | 'amd64' {
  return /^([a-z]+\d+g[a-z]*|a1)\./.test(instanceType) ? 'arm64' : 'amd64';
}

/** The image platform an instance type runs, for `docker buildx build --platform`. */
export function imagePlatformOf(instanceType: string): string {
  return `linux/${architectureOf(instanceType)}`;
}

/** An official Debian 13 AMI name whose architecture is the instance type's. */
export function debianAmiName(name: string, instanceType: string | undefined): string {
  const match = DEBIAN_AMI.exec(name);
  if (!match) {
    throw new Error(
      `${JSON.stringify(name)} is not the name of an official Debian 13 AMI such as ` +
        `debian-13-amd64-20251117-2299 (see docs/AWS.md, "Moving the host to a newer image")`,
    );
  }
  const wanted = instanceType === undefined ? undefined : architectureOf(instanceType);
  if (wanted !== undefined && match[1] !== wanted) {
    throw new Error(
      `${name} is an ${match[1]} image but reflex:instanceType ${instanceType} runs ${wanted}: ` +
        `set it to ${name.replace(match[1]!, wanted)}`,
    );
  }
  return name;
}

/** A Fargate task size (CPU units, memory MiB) that Fargate offers. */
export function fargateMemory(memory: number, cpu: number): number {
  const sizes = FARGATE_MEMORY[cpu];
  if (sizes === undefined || sizes.includes(memory)) return memory;
  throw new Error(
    `${memory} MiB is not a size Fargate offers with ${cpu} CPU units: ` +
      (sizes.length > 4 ? `${sizes[0]} to ${sizes.at(-1)} in steps of 1024` : sizes.join(', ')),
  );
}

export const FARGATE_CPU = Object.keys(FARGATE_MEMORY).map(Number);

/** An ECR repository in this account and region (by name), or anywhere (by ARN). */
export function ecrRepository(value: string): { name: string } | { arn: string } {
  if (ECR_REPOSITORY_ARN.test(value)) return { arn: value };
  const url = value.includes('.dkr.ecr.');
  if (!url && ECR_REPOSITORY_NAME.test(value) && value.length <= 256) return { name: value };
  throw new Error(
    `${JSON.stringify(value)} is neither an ECR repository name (reflex-dev) nor a repository ARN`,
  );
}

export function accountIds(list: readonly string[]): string[] {
  return list.map((id) => matching(id, ACCOUNT_ID, 'a 12-digit AWS account id'));
}
