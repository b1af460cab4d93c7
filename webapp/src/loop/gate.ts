/**
 * The gate: type-check the webapp and run the tests related to what changed, in parallel, in
 * the release folder. A red gate stops the pipeline before anything is built or started.
 * The TypeScript build-info is carried from release to release so each check is incremental,
 * and the check is skipped when nothing it reads changed since the last commit it passed on:
 * only inert assets (pages, styles, images, text) — the result could not differ.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from './processes';

export type GateStep = 'typecheck' | 'test';

export interface GateOptions {
  steps: readonly GateStep[];
  dir: string;
  /** Files changed since the live release (repository paths). */
  changedFiles: string[];
  /**
   * Files changed since the last commit whose type-check passed, or undefined when there is
   * none (then the check runs).
   */
  changedSinceTypechecked: string[] | undefined;
  cacheDir: string;
  logDir: string;
  timeoutMs: number;
}

export function parseGate(value: string | undefined): GateStep[] {
  if (value === undefined || value === '') return ['typecheck', 'test'];
  if (value === 'off') return [];
  const steps = value.split(',').map((s) => s.trim());
  for (const step of steps) {
    if (step !== 'typecheck' && step !== 'test')
      throw new Error(`REFLEX_GATE: unknown step "${step}" (use typecheck, test, or off)`);
  }
  return steps as GateStep[];
}

function gateEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    CI: 'true',
    NODE_ENV: 'test',
  };
}

/** Files no type-check reads: a change to these alone cannot change its result. */
const INERT = /\.(html?|css|md|txt|svg|png|jpe?g|gif|webp|ico|woff2?)$/i;

export function typecheckNeeded(changedSinceTypechecked: string[] | undefined): boolean {
  return (
    changedSinceTypechecked === undefined ||
    changedSinceTypechecked.some((file) => !INERT.test(file))
  );
}

export async function runGate(options: GateOptions): Promise<string[]> {
  const ran: Promise<string>[] = [];
  if (options.steps.includes('typecheck')) {
    ran.push(
      typecheckNeeded(options.changedSinceTypechecked)
        ? typecheck(options).then(() => 'typecheck')
        : Promise.resolve('typecheck (only pages, styles or assets changed since it last passed)'),
    );
  }
  if (options.steps.includes('test')) ran.push(relatedTests(options));
  const settled = await Promise.allSettled(ran);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<string>).value);
}

/** The TypeScript projects of the webapp: the server side, and the browser UI when present. */
const PROJECTS: { tsconfig: string; buildInfo: string; owns?: string }[] = [
  { tsconfig: 'webapp/tsconfig.json', buildInfo: 'webapp.tsbuildinfo' },
  {
    tsconfig: 'webapp/src/editor-ui/tsconfig.json',
    buildInfo: 'editor-ui.tsbuildinfo',
    owns: 'webapp/src/editor-ui/',
  },
];

/**
 * Whether a project that `owns` a folder must be checked: something in that folder changed, or
 * something shared outside `webapp/` (the root tsconfig, the lockfile) that is not inert.
 */
function affects(owns: string, changed: string[] | undefined): boolean {
  if (changed === undefined) return true;
  return changed.some(
    (file) => file.startsWith(owns) || (!file.startsWith('webapp/') && !INERT.test(file)),
  );
}

async function typecheck(options: GateOptions): Promise<void> {
  for (const project of PROJECTS) {
    if (!existsSync(path.join(options.dir, project.tsconfig))) continue;
    if (project.owns && !affects(project.owns, options.changedSinceTypechecked)) continue;
    await typecheckProject(options, project.tsconfig, project.buildInfo);
  }
}

async function typecheckProject(
  options: GateOptions,
  tsconfig: string,
  buildInfo: string,
): Promise<void> {
  const cached = path.join(options.cacheDir, buildInfo);
  const local = path.join(options.dir, '.cache', buildInfo);
  mkdirSync(path.dirname(local), { recursive: true });
  if (existsSync(cached)) copyFileSync(cached, local);
  await runCommand(
    process.execPath,
    [
      path.join(options.dir, 'node_modules/typescript/bin/tsc'),
      '-p',
      tsconfig,
      '--incremental',
      '--tsBuildInfoFile',
      local,
    ],
    {
      cwd: options.dir,
      env: gateEnv(),
      logFile: path.join(options.logDir, 'gate-typecheck.log'),
      timeoutMs: options.timeoutMs,
      label: `typecheck (${tsconfig})`,
    },
  );
  copyFileSync(local, cached);
}

/** Test files of the unit tier (the tier the gate runs): `*.test.ts` without a tier suffix. */
const UNIT_TEST = /\.test\.[cm]?[jt]sx?$/;
const TIER_TEST = /\.(scripts|e2e|monitoring|deploy|browser|host)\.test\.[cm]?[jt]sx?$/;
const SOURCE = /\.[cm]?[jt]sx?$/;

/**
 * The tests a change must run, by a rule independent of jest's own resolution: a changed unit
 * test, and the test beside a changed source file (`x.ts` → `x.test.ts`). jest may find more
 * (tests elsewhere that import the file); it must never find fewer. A gate that ran none of
 * these would pass on the type-check alone, so it fails instead.
 */
export function expectedTests(changed: string[], exists: (file: string) => boolean): string[] {
  const expected = new Set<string>();
  for (const file of changed) {
    if (TIER_TEST.test(file)) continue;
    if (UNIT_TEST.test(file)) {
      if (exists(file)) expected.add(file);
      continue;
    }
    if (!SOURCE.test(file) || file.endsWith('.d.ts')) continue;
    const beside = file.replace(SOURCE, '.test.ts');
    if (exists(beside)) expected.add(beside);
  }
  return [...expected].sort();
}

export class GateError extends Error {}

/** The test files a jest `--json` report ran, relative to `dir`. */
export function testsRun(report: string, dir: string): string[] {
  const parsed = JSON.parse(report) as { testResults?: { name: string }[] };
  return (parsed.testResults ?? []).map((r) =>
    path.relative(dir, r.name).split(path.sep).join('/'),
  );
}

async function relatedTests(options: GateOptions): Promise<string> {
  const exists = (file: string) => existsSync(path.join(options.dir, file));
  const candidates = options.changedFiles.filter(
    (f) => /\.(ts|tsx|js|mjs|cjs|json)$/.test(f) && exists(f),
  );
  if (candidates.length === 0) return 'test (no code changed)';
  const expected = expectedTests(candidates, exists);
  const report = path.join(options.logDir, 'gate-test.json');
  rmSync(report, { force: true });
  await runCommand(
    process.execPath,
    [
      path.join(options.dir, 'node_modules/jest/bin/jest.js'),
      '--selectProjects',
      'unit',
      '--ci',
      '--runInBand',
      '--passWithNoTests',
      '--cacheDirectory',
      path.join(options.cacheDir, 'jest'),
      '--json',
      '--outputFile',
      report,
      '--findRelatedTests',
      ...candidates,
    ],
    {
      cwd: options.dir,
      env: gateEnv(),
      logFile: path.join(options.logDir, 'gate-test.log'),
      timeoutMs: options.timeoutMs,
      label: 'tests',
    },
  );
  const ran = existsSync(report) ? testsRun(readFileSync(report, 'utf8'), options.dir) : [];
  const missing = expected.filter((file) => !ran.includes(file));
  if (missing.length > 0) {
    throw new GateError(
      `the gate ran ${ran.length} test file(s), but this change has tests it did not run: ` +
        `${missing.join(', ')}. The test configuration ignores them in ${options.dir}; ` +
        'a gate that runs no test cannot pass.',
    );
  }
  return `test (${ran.length} file${ran.length === 1 ? '' : 's'})`;
}
