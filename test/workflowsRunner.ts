/**
 * Runs the jobs of a GitHub Actions workflow on this machine, the way a runner does, so that
 * tests can execute every `run:` step with the shell GitHub would pick, against fixtures:
 *   - the expression language (`${{ }}` in env/with/if/outputs; contexts github, inputs, vars,
 *     secrets, needs, steps, matrix, env; status functions) for the subset the workflows use;
 *   - shells as GitHub invokes them: no `shell` at all is `bash -e {0}` (no pipefail), `bash` is
 *     `bash --noprofile --norc -eo pipefail {0}`, `sh` is `sh -e {0}`;
 *   - $GITHUB_OUTPUT (including `key<<DELIMITER` blocks), $GITHUB_ENV, $GITHUB_PATH,
 *     $GITHUB_STEP_SUMMARY, a fresh HOME and RUNNER_TEMP per job;
 *   - `uses:` steps and reusable-workflow jobs are stand-ins the test supplies (the actions
 *     themselves cannot run here); a `uses:` without a stand-in fails the job.
 * What it does not model (containers, services, matrices beyond the given values, caching) the
 * tests check structurally instead.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

export interface Step {
  id?: string;
  name?: string;
  if?: string | boolean;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  'working-directory'?: string;
  'continue-on-error'?: boolean;
}

export interface Job {
  name?: string;
  needs?: string | string[];
  if?: string | boolean;
  'runs-on'?: string;
  container?: unknown;
  environment?: string | { name: string; url?: string };
  permissions?: Record<string, string> | string;
  concurrency?: { group?: string; 'cancel-in-progress'?: boolean } | string;
  outputs?: Record<string, string>;
  env?: Record<string, unknown>;
  defaults?: { run?: { shell?: string; 'working-directory'?: string } };
  strategy?: { matrix?: unknown; 'fail-fast'?: boolean };
  steps?: Step[];
  uses?: string;
  with?: Record<string, unknown>;
  'timeout-minutes'?: number;
}

export interface Workflow {
  name?: string;
  on: unknown;
  permissions?: unknown;
  env?: Record<string, unknown>;
  defaults?: { run?: { shell?: string } };
  concurrency?: unknown;
  jobs: Record<string, Job>;
}

export const WORKFLOWS = path.resolve(__dirname, '../.github/workflows');

export function loadWorkflow(file: string): Workflow {
  return parse(readFileSync(path.join(WORKFLOWS, file), 'utf8')) as Workflow;
}

// ---------------------------------------------------------------------------------------------
// Expressions

type Token = { kind: 'op' | 'str' | 'num' | 'id'; text: string; value?: Value };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = source.slice(i, i + 2);
    if (['&&', '||', '==', '!=', '<=', '>='].includes(two)) {
      tokens.push({ kind: 'op', text: two });
      i += 2;
      continue;
    }
    if ('()[].,!<>*'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new Error(`unterminated string in: ${source}`);
        if (source[i] === "'" && source[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (source[i] === "'") {
          i++;
          break;
        } else value += source[i++];
      }
      tokens.push({ kind: 'str', text: value, value });
      continue;
    }
    const number = /^-?\d+(\.\d+)?/.exec(source.slice(i));
    if (number) {
      tokens.push({ kind: 'num', text: number[0], value: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(source.slice(i));
    if (!id) throw new Error(`cannot read expression at "${source.slice(i)}" in: ${source}`);
    tokens.push({ kind: 'id', text: id[0] });
    i += id[0].length;
  }
  return tokens;
}

export interface Status {
  /** What success() etc. see: the job's steps so far, or a job's needs. */
  failed: boolean;
  cancelled: boolean;
}

export type Contexts = Record<string, Value | undefined>;

const truthy = (v: Value | undefined): boolean =>
  !(v === false || v === 0 || v === '' || v === null || v === undefined || Number.isNaN(v));

function toNumber(v: Value | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return v.trim() === '' ? 0 : Number(v);
  return NaN;
}

/** `==` as GitHub defines it: strings ignore case; other mixed types compare as numbers. */
function looseEquals(x: Value | undefined, y: Value | undefined): boolean {
  const a = x ?? null;
  const b = y ?? null;
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  if (typeof a === typeof b && a !== null && typeof a !== 'object') return a === b;
  if ((a !== null && typeof a === 'object') || (b !== null && typeof b === 'object'))
    return a === b;
  return toNumber(a) === toNumber(b);
}

export function toText(v: Value | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v, null, 2);
  return String(v);
}

/** Evaluate one expression (the text inside `${{ }}`). */
export function evaluate(source: string, contexts: Contexts, status: Status): Value {
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const take = (text?: string) => {
    const t = tokens[at++];
    if (!t || (text !== undefined && t.text !== text))
      throw new Error(`expected "${text ?? 'a token'}" in: ${source}`);
    return t;
  };
  const isOp = (text: string) => peek()?.kind === 'op' && peek()?.text === text;

  const functions: Record<string, (args: Value[]) => Value> = {
    success: () => !status.failed && !status.cancelled,
    failure: () => status.failed,
    cancelled: () => status.cancelled,
    always: () => true,
    contains: ([a, b]) =>
      Array.isArray(a)
        ? a.some((x) => looseEquals(x, b ?? null))
        : toText(a).toLowerCase().includes(toText(b).toLowerCase()),
    startsWith: ([a, b]) => toText(a).toLowerCase().startsWith(toText(b).toLowerCase()),
    endsWith: ([a, b]) => toText(a).toLowerCase().endsWith(toText(b).toLowerCase()),
    format: ([f, ...args]) => toText(f).replace(/\{(\d+)\}/g, (_, n: string) => toText(args[+n])),
    join: ([a, sep]) => (Array.isArray(a) ? a.map(toText).join(toText(sep ?? ',')) : toText(a)),
    toJSON: ([a]) => JSON.stringify(a ?? null, null, 2),
    fromJSON: ([a]) => JSON.parse(toText(a)) as Value,
  };

  const primary = (): Value => {
    const t = take();
    if (t.kind === 'str' || t.kind === 'num') return t.value!;
    if (t.kind === 'op' && t.text === '(') {
      const v = or();
      take(')');
      return v;
    }
    if (t.kind !== 'id') throw new Error(`unexpected "${t.text}" in: ${source}`);
    if (t.text === 'true' || t.text === 'false') return t.text === 'true';
    if (t.text === 'null') return null;
    if (isOp('(')) {
      take('(');
      const args: Value[] = [];
      while (!isOp(')')) {
        args.push(or());
        if (isOp(',')) take(',');
      }
      take(')');
      const fn = functions[t.text];
      if (!fn) throw new Error(`unknown function ${t.text}() in: ${source}`);
      return fn(args);
    }
    if (!(t.text in contexts)) throw new Error(`unknown context "${t.text}" in: ${source}`);
    let value: Value | undefined = contexts[t.text];
    for (;;) {
      let key: string | undefined;
      if (isOp('.')) {
        take('.');
        key = take().text;
      } else if (isOp('[')) {
        take('[');
        key = toText(or());
        take(']');
      } else break;
      value =
        value && typeof value === 'object' && !Array.isArray(value)
          ? (Object.entries(value).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1] ??
            null)
          : Array.isArray(value)
            ? (value[Number(key)] ?? null)
            : null;
    }
    return value ?? null;
  };
  const unary = (): Value => {
    if (isOp('!')) {
      take('!');
      return !truthy(unary());
    }
    return primary();
  };
  const comparison = (): Value => {
    const left = unary();
    const op = peek();
    if (op?.kind === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(op.text)) {
      take();
      const right = unary();
      switch (op.text) {
        case '==':
          return looseEquals(left, right);
        case '!=':
          return !looseEquals(left, right);
        case '<':
          return toNumber(left) < toNumber(right);
        case '<=':
          return toNumber(left) <= toNumber(right);
        case '>':
          return toNumber(left) > toNumber(right);
        default:
          return toNumber(left) >= toNumber(right);
      }
    }
    return left;
  };
  const and = (): Value => {
    let v = comparison();
    while (isOp('&&')) {
      take('&&');
      const right = comparison();
      v = truthy(v) ? right : v;
    }
    return v;
  };
  function or(): Value {
    let v = and();
    while (isOp('||')) {
      take('||');
      const right = and();
      v = truthy(v) ? v : right;
    }
    return v;
  }
  const result = or();
  if (at !== tokens.length) throw new Error(`unexpected "${peek()!.text}" in: ${source}`);
  return result;
}

/** Replace every `${{ }}` in a string; a value that is one whole expression keeps its type. */
export function interpolate(value: unknown, contexts: Contexts, status: Status): Value {
  if (typeof value !== 'string') return (value ?? null) as Value;
  const whole = /^\$\{\{([\s\S]*?)\}\}$/.exec(value.trim());
  if (whole && !whole[1]!.includes('}}')) return evaluate(whole[1]!, contexts, status);
  return value.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expr: string) =>
    toText(evaluate(expr, contexts, status)),
  );
}

/** An `if:` as GitHub reads it: without a status function it means `success() && (...)`. */
export function condition(
  value: string | boolean | undefined,
  contexts: Contexts,
  status: Status,
): boolean {
  if (value === undefined) return !status.failed && !status.cancelled;
  if (typeof value === 'boolean') return value && !status.failed;
  let source = value.trim();
  const wrapped = /^\$\{\{([\s\S]*)\}\}$/.exec(source);
  if (wrapped) source = wrapped[1]!;
  if (!/\b(success|failure|always|cancelled)\s*\(/.test(source))
    source = `success() && (${source})`;
  return truthy(evaluate(source, contexts, status));
}

// ---------------------------------------------------------------------------------------------
// Steps and jobs

/** The command line GitHub runs a `run:` script with ({0} is the script file). */
export function shellCommand(shell: string | undefined): string[] {
  switch (shell) {
    case undefined:
      return ['bash', '-e', '{0}'];
    case 'bash':
      return ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '{0}'];
    case 'sh':
      return ['sh', '-e', '{0}'];
    default:
      if (!shell.includes('{0}')) return [...shell.split(/\s+/), '{0}'];
      return shell.split(/\s+/);
  }
}

export interface StepResult {
  key: string;
  outcome: 'success' | 'failure' | 'skipped';
  outputs: Record<string, string>;
  stdout: string;
  stderr: string;
}

export interface ActionCall {
  step: Step;
  inputs: Record<string, string>;
  env: Record<string, string>;
  workspace: string;
}

/** A stand-in for an action: returns its outputs, or throws to fail the step. */
export type ActionStandIn = (
  call: ActionCall,
) => Record<string, string> | Promise<Record<string, string>>;

export interface JobResult {
  result: 'success' | 'failure' | 'skipped';
  outputs: Record<string, string>;
  steps: StepResult[];
  /** Everything the steps printed, in order (for failure messages). */
  log: string;
}

export interface RunOptions {
  github?: Record<string, Value>;
  inputs?: Record<string, Value>;
  vars?: Record<string, string>;
  secrets?: Record<string, string>;
  matrix?: Record<string, Value>;
  needs?: Record<string, { result: string; outputs: Record<string, string> }>;
  /** The job's workspace (GITHUB_WORKSPACE). Stand-ins for checkout fill it. */
  workspace: string;
  /** Folders put in front of PATH (stand-in commands). */
  path?: string[];
  /** Stand-ins for actions by name without the ref (`actions/checkout`). */
  actions?: Record<string, ActionStandIn>;
  /** Extra environment for every step (e.g. where a stand-in records its calls). */
  env?: Record<string, string>;
  /** Called with each step's key as it runs (for coverage of run: steps). */
  onRun?: (key: string) => void;
  timeoutMs?: number;
}

function execute(
  argv: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Parse a $GITHUB_OUTPUT / $GITHUB_ENV file: `k=v` lines and `k<<EOF ... EOF` blocks. */
export function parseKeyValueFile(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const block = /^([^=<]+)<<(.+)$/.exec(line);
    if (block) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== block[2]; i++) body.push(lines[i]!);
      if (i >= lines.length) throw new Error(`unterminated ${block[1]}<<${block[2]} block`);
      result[block[1]!] = body.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not a key=value line: ${line}`);
    result[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return result;
}

/** Run one job's steps. `file` names the workflow, for the step keys (`deploy.yml/plan/0`). */
export async function runJob(
  workflow: Workflow,
  file: string,
  jobId: string,
  options: RunOptions,
): Promise<JobResult> {
  const job = workflow.jobs[jobId];
  if (!job) throw new Error(`${file} has no job ${jobId}`);
  if (job.uses) throw new Error(`${file}/${jobId} calls a workflow: use runWorkflow`);
  const temp = mkdtempSync(path.join(os.tmpdir(), 'reflex-runner-'));
  const home = path.join(temp, 'home');
  const runnerTemp = path.join(temp, 'tmp');
  mkdirSync(home);
  mkdirSync(runnerTemp);
  const files = {
    GITHUB_OUTPUT: path.join(temp, 'output'),
    GITHUB_ENV: path.join(temp, 'env'),
    GITHUB_PATH: path.join(temp, 'path'),
    GITHUB_STEP_SUMMARY: path.join(temp, 'summary'),
  };
  const github: Record<string, Value> = {
    event_name: 'push',
    repository: 'owner/reflex',
    ref_name: 'main',
    sha: '0'.repeat(40),
    workspace: options.workspace,
    run_id: '1',
    ...options.github,
  };
  const steps: Record<
    string,
    { outcome: string; conclusion: string; outputs: Record<string, string> }
  > = {};
  const results: StepResult[] = [];
  let env: Record<string, string> = {};
  const extraPath: string[] = [];
  const status: Status = { failed: false, cancelled: false };
  let log = '';
  const contexts = (): Contexts => ({
    github,
    inputs: options.inputs ?? {},
    vars: options.vars ?? {},
    secrets: options.secrets ?? {},
    matrix: options.matrix ?? {},
    needs: options.needs ?? {},
    steps: steps,
    env,
    job: { status: status.failed ? 'failure' : 'success' },
    runner: { os: 'Linux', temp: runnerTemp },
    strategy: {},
  });
  const evalMap = (m: Record<string, unknown> | undefined) =>
    Object.fromEntries(
      Object.entries(m ?? {}).map(([k, v]) => [k, toText(interpolate(v, contexts(), status))]),
    );
  env = { ...evalMap(workflow.env), ...evalMap(job.env) };

  try {
    for (const [index, step] of (job.steps ?? []).entries()) {
      const key = `${file}/${jobId}/${step.id ?? step.name ?? step.uses ?? index}`;
      const record = (
        outcome: StepResult['outcome'],
        outputs: Record<string, string>,
        out = '',
        err = '',
      ) => {
        if (step.id)
          steps[step.id] = {
            outcome,
            conclusion: outcome === 'failure' && step['continue-on-error'] ? 'success' : outcome,
            outputs,
          };
        results.push({ key, outcome, outputs, stdout: out, stderr: err });
        log += `--- ${key}: ${outcome}\n${out}${err}`;
        if (outcome === 'failure' && !step['continue-on-error']) status.failed = true;
      };
      if (!condition(step.if, contexts(), status)) {
        record('skipped', {});
        continue;
      }
      const stepEnv = { ...env, ...evalMap(step.env) };
      if (step.uses) {
        const name = step.uses.replace(/@.*$/, '');
        const standIn = options.actions?.[name];
        if (!standIn) {
          record('failure', {}, '', `no stand-in for action ${step.uses}\n`);
          continue;
        }
        try {
          const outputs = await standIn({
            step,
            inputs: evalMap(step.with),
            env: stepEnv,
            workspace: options.workspace,
          });
          record('success', outputs);
        } catch (err) {
          record('failure', {}, '', `${(err as Error).message}\n`);
        }
        continue;
      }
      if (step.run === undefined) throw new Error(`${key}: neither run nor uses`);
      options.onRun?.(key);
      const script = path.join(temp, `step-${index}.sh`);
      writeFileSync(script, step.run);
      for (const f of Object.values(files)) writeFileSync(f, '');
      const shell = step.shell ?? job.defaults?.run?.shell ?? workflow.defaults?.run?.shell;
      const argv = shellCommand(shell).map((a) => (a === '{0}' ? script : a));
      const cwd = path.resolve(
        options.workspace,
        step['working-directory'] ?? job.defaults?.run?.['working-directory'] ?? '.',
      );
      const processEnv: Record<string, string> = {
        PATH: [...(options.path ?? []), ...extraPath, process.env.PATH ?? ''].join(':'),
        HOME: home,
        LANG: 'C.UTF-8',
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_WORKSPACE: options.workspace,
        GITHUB_SHA: toText(github.sha),
        GITHUB_REF_NAME: toText(github.ref_name),
        GITHUB_EVENT_NAME: toText(github.event_name),
        GITHUB_REPOSITORY: toText(github.repository),
        GITHUB_RUN_ID: toText(github.run_id),
        RUNNER_TEMP: runnerTemp,
        ...files,
        ...options.env,
        ...stepEnv,
      };
      const ran = await execute(argv, processEnv, cwd, options.timeoutMs ?? 120_000);
      const outputs = parseKeyValueFile(readFileSync(files.GITHUB_OUTPUT, 'utf8'));
      env = { ...env, ...parseKeyValueFile(readFileSync(files.GITHUB_ENV, 'utf8')) };
      extraPath.unshift(
        ...readFileSync(files.GITHUB_PATH, 'utf8').split('\n').filter(Boolean).reverse(),
      );
      record(ran.code === 0 ? 'success' : 'failure', outputs, ran.stdout, ran.stderr);
    }
    const outputs = status.failed
      ? {}
      : Object.fromEntries(
          Object.entries(job.outputs ?? {}).map(([k, v]) => [
            k,
            toText(interpolate(v, contexts(), status)),
          ]),
        );
    return { result: status.failed ? 'failure' : 'success', outputs, steps: results, log };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

export interface WorkflowOptions extends Omit<RunOptions, 'needs' | 'workspace'> {
  /** A fresh workspace for each job (runners do not share one). */
  workspace: (jobId: string) => string;
  /** Stand-ins for jobs that call another workflow (`uses: ./.github/workflows/x.yml`). */
  calls?: Record<string, (inputs: Record<string, string>) => JobResult | Promise<JobResult>>;
  /** Per-job values of the `vars` context (environment-level variables). */
  varsFor?: (jobId: string, environment: string) => Record<string, string>;
  secretsFor?: (jobId: string, environment: string) => Record<string, string>;
}

/** The environment name a job declares, evaluated. */
export function environmentOf(job: Job, contexts: Contexts): string {
  const env = job.environment;
  if (env === undefined) return '';
  const name = typeof env === 'string' ? env : env.name;
  return toText(interpolate(name, contexts, { failed: false, cancelled: false }));
}

/** Run a workflow's jobs in the order of their needs; returns every job's result. */
export async function runWorkflow(
  workflow: Workflow,
  file: string,
  options: WorkflowOptions,
): Promise<Record<string, JobResult>> {
  const done: Record<string, JobResult> = {};
  const pending = Object.keys(workflow.jobs);
  while (pending.length > 0) {
    const ready = pending.find((id) =>
      [workflow.jobs[id]!.needs ?? []].flat().every((need) => need in done),
    );
    if (!ready) throw new Error(`${file}: a cycle in needs among ${pending.join(', ')}`);
    pending.splice(pending.indexOf(ready), 1);
    const job = workflow.jobs[ready]!;
    const needIds = [job.needs ?? []].flat();
    const needs = Object.fromEntries(
      needIds.map((id) => [id, { result: done[id]!.result, outputs: done[id]!.outputs }]),
    );
    // A job runs when its needs succeeded, unless its `if:` uses a status function.
    const status: Status = {
      failed: needIds.some((id) => done[id]!.result !== 'success'),
      cancelled: false,
    };
    const contexts: Contexts = {
      github: { event_name: 'push', ref_name: 'main', ...options.github },
      inputs: options.inputs ?? {},
      vars: options.vars ?? {},
      needs: needs,
    };
    if (!condition(job.if, contexts, status)) {
      done[ready] = { result: 'skipped', outputs: {}, steps: [], log: '' };
      continue;
    }
    const environment = environmentOf(job, contexts);
    if (job.uses) {
      const call = options.calls?.[ready];
      if (!call) throw new Error(`${file}/${ready}: no stand-in for the call to ${job.uses}`);
      const inputs = Object.fromEntries(
        Object.entries(job.with ?? {}).map(([k, v]) => [
          k,
          toText(interpolate(v, contexts, status)),
        ]),
      );
      done[ready] = await call(inputs);
      continue;
    }
    done[ready] = await runJob(workflow, file, ready, {
      ...options,
      vars: { ...options.vars, ...options.varsFor?.(ready, environment) },
      secrets: { ...options.secrets, ...options.secretsFor?.(ready, environment) },
      needs,
      workspace: options.workspace(ready),
    });
  }
  return done;
}
