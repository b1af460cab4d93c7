// The stack's configuration: every key is read here, once, and validated. An invalid value stops
// the program with an error that names the key. The keys and their defaults are in
// configSchema.ts (each documented in ../Pulumi.yaml), the sections' readers in
// configSections.ts (host, ecs, registry, domain), the rules themselves in configRules.ts.
import * as pulumi from '@pulumi/pulumi';

import {
  branchName,
  dnsName,
  matching,
  matchingOr,
  oneOf,
  parseBoolean,
  parseInteger,
  patterns,
  required,
} from './configRules';
import type { RawConfig, ReflexConfig } from './configSchema';
import { DEFAULTS, RAW_KEYS, RETIRED_KEYS, RUNTIMES } from './configSchema';
import type { Problem } from './configSections';
import { checkPreviews, pairDomain, readEcs, readHost, readRegistry } from './configSections';

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
  const registry = readRegistry(check, integer);
  const deployBranch = check('reflex:deployBranch', (v) => branchName(v ?? DEFAULTS.deployBranch));
  const tlsPolicy = check(
    'reflex:tlsPolicy',
    matchingOr(
      DEFAULTS.tlsPolicy,
      patterns.TLS_POLICY,
      'an ELB security policy name (ELBSecurityPolicy-…)',
    ),
  );

  const previews = check('reflex:previews', (v) => parseBoolean(v, DEFAULTS.previews));

  const domain = pairDomain(appDomain, hostedZoneName, problems);
  checkPreviews(previews, runtime, appDomain, problems);
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
    ...registry,
    deployBranch,
    tlsPolicy,
    previews,
    tags: standardTags(where.project, where.stack),
  };
}

/** The tags every taggable resource carries. */
export function standardTags(project: string, stack: string): Record<string, string> {
  return { project, environment: stack, 'managed-by': 'pulumi' };
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
