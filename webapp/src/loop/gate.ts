/**
 * The gate: type-check the webapp and run the tests related to what changed, in parallel, in
 * the release folder. A red gate stops the pipeline before anything is built or started.
 * The TypeScript build-info is carried from release to release so each check is incremental,
 * and the check is skipped when nothing it reads changed since the last commit it passed on:
 * only inert assets (pages, styles, images, text) — the result could not differ.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  EDITOR_UI,
  expectedTests,
  jestArgs,
  jestFlags,
  missingTests,
  notRunError,
  PLATFORM,
  SITE,
  siteTestFiles,
  testCandidates,
  testsRun,
  typecheckNeeded,
  typecheckProjects,
  type GateStep,
} from './gateRules';
import type { Origin } from './origin';
import type { WarmGate } from './warmGate';
import { commandEnv, runCommand } from './processes';

export { GateError, parseGate, type GateStep } from './gateRules';

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
  signal?: AbortSignal | undefined;
}

/** The environment of the gate's commands and processes: minimal, and no colour codes. */
export function gateEnv(): NodeJS.ProcessEnv {
  return commandEnv({ CI: 'true', NODE_ENV: 'test', FORCE_COLOR: '0' });
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

async function typecheck(options: GateOptions): Promise<void> {
  const exists = (tsconfig: string) => existsSync(path.join(options.dir, tsconfig));
  for (const tsconfig of typecheckProjects(options.changedSinceTypechecked, exists)) {
    const project = [PLATFORM, SITE, EDITOR_UI].find((p) => p.tsconfig === tsconfig)!;
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
      signal: options.signal,
      label: `typecheck (${tsconfig})`,
    },
  );
  copyFileSync(local, cached);
}

async function relatedTests(options: GateOptions): Promise<string> {
  const exists = (file: string) => existsSync(path.join(options.dir, file));
  const candidates = testCandidates(options.changedFiles, exists, siteTestFiles(options.dir));
  if (candidates.length === 0) return 'test (no code changed)';
  const report = path.join(options.logDir, 'gate-test.json');
  rmSync(report, { force: true });
  const args = jestArgs(candidates, path.join(options.cacheDir, 'jest'));
  await runCommand(
    process.execPath,
    [
      path.join(options.dir, 'node_modules/jest/bin/jest.js'),
      '--json',
      '--outputFile',
      report,
      ...jestFlags(args),
    ],
    {
      cwd: options.dir,
      env: gateEnv(),
      logFile: path.join(options.logDir, 'gate-test.log'),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      label: 'tests',
    },
  );
  const ran = existsSync(report) ? testsRun(readFileSync(report, 'utf8'), options.dir) : [];
  const missing = missingTests(expectedTests(candidates, exists), ran);
  if (missing.length > 0) throw notRunError(ran, missing, options.dir);
  return `test (${ran.length} file${ran.length === 1 ? '' : 's'})`;
}

export interface GateSettings {
  steps: readonly GateStep[];
  origin: Origin;
  cacheDir: string;
  timeoutMs: number;
  /**
   * Warm (the default): long-lived type-checker and test runner over a working tree that
   * follows the commits (warmGate.ts). Cold: the commands, in each release folder. Both refuse
   * the same commits.
   */
  warm: WarmGate | undefined;
}

/**
 * The gate as the pipeline runs it: what changed since the live release decides the tests;
 * what changed since the last commit whose type-check passed decides whether to type-check.
 */
export class Gate {
  constructor(private readonly s: GateSettings) {}

  get steps(): readonly GateStep[] {
    return this.s.steps;
  }

  async run(o: {
    sha: string;
    /** The release folder, or its checkout under way (the warm gate needs it only late). */
    dir: string | Promise<string>;
    /** Files changed since the live release (every site file when none is live). */
    changedFiles: string[];
    logDir: string;
    signal?: AbortSignal | undefined;
  }): Promise<string[]> {
    if (this.s.steps.length === 0) return [];
    const passed = this.typechecked();
    const [changedSinceTypechecked, tree] = await Promise.all([
      passed ? this.s.origin.changed(passed, o.sha) : undefined,
      this.s.warm ? this.s.origin.tree(o.sha) : undefined,
    ]);
    const ran = this.s.warm
      ? await this.s.warm.run({
          sha: o.sha,
          tree,
          releaseDir: o.dir,
          changedFiles: o.changedFiles,
          changedSinceTypechecked,
          logDir: o.logDir,
          signal: o.signal,
        })
      : await runGate({
          steps: this.s.steps,
          dir: await o.dir,
          changedFiles: o.changedFiles,
          changedSinceTypechecked,
          cacheDir: this.s.cacheDir,
          logDir: o.logDir,
          timeoutMs: this.s.timeoutMs,
          signal: o.signal,
        });
    if (this.s.steps.includes('typecheck')) this.recordTypechecked(o.sha);
    return ran;
  }

  /** Stops the warm processes (the supervisor is stopping). */
  close(): void {
    this.s.warm?.stop();
  }

  private get typecheckedFile(): string {
    return path.join(this.s.cacheDir, 'typechecked-sha');
  }

  /** The last commit whose type-check passed. */
  private typechecked(): string | undefined {
    try {
      return readFileSync(this.typecheckedFile, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  private recordTypechecked(sha: string): void {
    writeFileSync(this.typecheckedFile, `${sha}\n`);
  }
}

/**
 * Runs the gate and the build side by side and returns the build's result once the gate
 * passed. The build runs only the build script, a protected path no edit can change, and
 * nothing it makes starts unless the gate passes; a gate that fails stops it.
 */
export async function besideGate<T>(
  gate: () => Promise<unknown>,
  build: (signal: AbortSignal) => Promise<T>,
  signal: AbortSignal,
): Promise<() => Promise<T>> {
  const stopBuild = new AbortController();
  const onStop = () => stopBuild.abort();
  signal.addEventListener('abort', onStop, { once: true });
  const building = build(stopBuild.signal);
  building.catch(() => undefined);
  try {
    await gate();
  } catch (err) {
    stopBuild.abort();
    await building.catch(() => undefined);
    throw err;
  } finally {
    signal.removeEventListener('abort', onStop);
  }
  return () => building;
}
