// Runs the whole program (pulumi/index.ts) under Pulumi mocks, nothing reaching AWS, for a
// stack: the committed Pulumi.<stack>.yaml plus the values docs/AWS.md tells a user to set.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parse } from 'yaml';

import type * as Mocks from './mocks';

const ROOT = path.resolve(__dirname, '..', '..');
const OPERATOR_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKey ops@example';

/** What a user sets with `pulumi config set` on each stack (docs/AWS.md). */
const USER_VALUES: Record<string, Record<string, unknown>> = {
  dev: { 'reflex:githubRepository': 'octo-org/reflex' },
  prod: {
    'reflex:githubRepository': 'octo-org/reflex',
    'reflex:appDomain': 'reflex.example.com',
    'reflex:hostedZoneName': 'example.com',
    'reflex:sshPublicKey': OPERATOR_KEY,
  },
};

/** The stack's config as the engine hands it to the program: strings, lists as JSON. */
export function stackConfig(
  stack: string,
  extra: Record<string, unknown> = {},
): Record<string, string> {
  const file = parse(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as {
    config: Record<string, unknown>;
  };
  const merged = { ...file.config, ...USER_VALUES[stack], ...extra };
  return Object.fromEntries(
    Object.entries(merged).map(([key, value]) => [
      key,
      typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );
}

export interface Run {
  stack: Mocks.MockedStack;
  outputs: Record<string, unknown>;
  mocks: typeof Mocks;
  /** What the program told the user with pulumi.log.warn. */
  warnings: string[];
}

/** Runs pulumi/index.ts once in a fresh module registry (its own Pulumi runtime and mocks). */
export async function runProgram(
  stack: string,
  config: Record<string, string>,
  account: Mocks.MockAccount = {},
): Promise<Run> {
  let run: Run | undefined;
  // Without an engine, pulumi.log.warn writes to console.warn.
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const info = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await jest.isolateModulesAsync(async () => {
      // A fresh registry is entered with require (jest's transform leaves import() alone).
      /* eslint-disable @typescript-eslint/no-require-imports */
      const mocks = require('./mocks') as typeof Mocks;
      const mocked = await mocks.mockStack(stack, config, account);
      const program = require('../index') as () => Promise<Record<string, unknown>>;
      /* eslint-enable @typescript-eslint/no-require-imports */
      const outputs = await program();
      await mocks.settle();
      const warnings = warn.mock.calls.map((call) => String(call[0]));
      run = { stack: mocked, outputs, mocks, warnings };
    });
  } finally {
    warn.mockRestore();
    info.mockRestore();
  }
  return run!;
}

export async function resolved(run: Run): Promise<Record<string, unknown>> {
  const entries = await Promise.all(
    Object.entries(run.outputs).map(async ([key, value]) => [key, await run.mocks.resolve(value)]),
  );
  return Object.fromEntries(entries) as Record<string, unknown>;
}
