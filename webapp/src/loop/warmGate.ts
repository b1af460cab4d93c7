/**
 * The warm gate: the same checks as the cold one (gate.ts: `tsc -p` for the projects a change
 * needs, jest for the tests it can break, the same floor of tests that must run), answered by
 * two long-lived processes (gateServer.ts) over a working tree that follows the commits
 * (gateWorkspace.ts). A tree that passed before passes again without running anything.
 * Likewise a test file that passed is not run again while nothing it read changed: the test
 * runner reports every file and folder of the tree each passed test read, the workspace reports
 * every path each move changes, and any change to code or data (`.ts`, `.js`, `.json`: what a
 * module graph is made of) forgets every such record. So a page edit runs the tests that read
 * that page (or list its folder), not every test of the site; a test reads the same bytes and
 * answers the same.
 * Anything that would make a warm answer differ from a cold one — other dependencies, another
 * test or compiler configuration — starts the processes over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { writeAtomically } from '../files';
import {
  expectedTests,
  jestArgs,
  missingTests,
  notRunError,
  siteTestFiles,
  testCandidates,
  typecheckNeeded,
  typecheckProjects,
  type GateStep,
} from './gateRules';
import type { GateAsk, GateReply, GateRequest, TestInputs } from './gateServer';
import type { GateWorkspace } from './gateWorkspace';
import { gateEnv } from './gate';
import { ProcessError } from './processes';

/** Changes after which a warm process could answer differently from a cold one. */
const CONFIGURATION =
  /(^|\/)(jest\.config\.[cm]?js|tsconfig[^/]*\.json|package(-lock)?\.json)$|^jest\/|^test\/tiers\.json$/;

export function needsRestart(changed: string[] | undefined): boolean {
  return changed === undefined || changed.some((file) => CONFIGURATION.test(file));
}

/** Files a module graph is made of: a change to one may change what any test runs. */
const MODULE_SOURCE = /\.(?:[cm]?[jt]sx?|json|node)$/;

/** Whether a test that read `inputs` may answer otherwise once `changed` paths changed. */
export function reaches(inputs: TestInputs, changed: readonly string[]): boolean {
  const files = new Set(inputs.files);
  const listed = new Set(inputs.listings);
  return changed.some((file) => {
    if (files.has(file)) return true;
    // A listing changes when an entry below it appears, goes, or changes.
    for (let dir = path.posix.dirname(file); ; dir = path.posix.dirname(dir)) {
      if (listed.has(dir === '.' ? '' : dir)) return true;
      if (dir === '.' || dir === '/') return false;
    }
  });
}

/**
 * The gate server as plain JavaScript: `gateServer.ts` bundled into `<cacheDir>/gate-server/`,
 * the file named by its content. A TypeScript loader in the gate's processes would cost each
 * cold type-check about a second of CPU (its hooks see every module TypeScript and jest load).
 * Bundled anew each time the warm gate starts (tens of milliseconds, while the first commit is
 * checked out), so a changed source is never answered by a stale file; earlier bundles go.
 */
export async function compileGateServer(
  cacheDir: string,
  source = path.join(__dirname, 'gateServer.ts'),
): Promise<string> {
  const result = await build({
    entryPoints: [source],
    bundle: true,
    packages: 'external',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.text;
  const dir = path.join(cacheDir, 'gate-server');
  const name = `${createHash('sha256').update(code).digest('hex').slice(0, 24)}.js`;
  const file = path.join(dir, name);
  // Compared, not trusted by name: a damaged file is written again.
  if (!existsSync(file) || readFileSync(file, 'utf8') !== code) {
    mkdirSync(dir, { recursive: true });
    writeAtomically(file, code);
  }
  for (const other of readdirSync(dir))
    if (other !== name) rmSync(path.join(dir, other), { force: true });
  return file;
}

class GateProcess {
  private child: ChildProcess | undefined;
  private stopped = false;
  /** It exited, or never started (the bundle or the spawn failed). */
  private ended = false;
  private readonly waiting = new Map<number, (reply: GateReply) => void>();
  private nextId = 1;
  readonly ready: Promise<void>;

  constructor(script: Promise<string>, root: string, kind: 'typecheck' | 'test', logFile: string) {
    this.ready = script.then((file) => this.start(file, root, kind, logFile));
    this.ready.catch(() => (this.ended = true)); // told to whoever asks
  }

  /** Whether it can still answer: a process that ended or was stopped is started anew. */
  get usable(): boolean {
    return !this.stopped && !this.ended;
  }

  private start(
    script: string,
    root: string,
    kind: 'typecheck' | 'test',
    logFile: string,
  ): Promise<void> {
    if (this.stopped) return Promise.reject(new Error(`the ${kind} process was stopped`));
    const log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(process.execPath, [script, root, kind], {
      cwd: root,
      env: gateEnv(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    let started!: () => void;
    let failed!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => ((started = resolve), (failed = reject)));
    this.child.on('message', (reply: GateReply) => {
      if (reply.id === 0) started();
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
    this.child.once('error', (err) => {
      this.ended = true;
      failed(err);
    });
    this.child.once('exit', (code, signal) => {
      this.ended = true;
      const gone: GateReply = {
        id: -1,
        ok: false,
        errors: `the ${kind} process exited (${code ?? signal})`,
      };
      failed(new Error(gone.errors));
      for (const answer of this.waiting.values()) answer(gone);
      this.waiting.clear();
    });
    return ready;
  }

  async ask(request: GateAsk, timeoutMs: number): Promise<GateReply> {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        this.stop();
        resolve({ id, ok: false, errors: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      const message: GateRequest = { ...request, id };
      // Its channel may close before its exit is heard: that is an answer too, not a throw.
      this.child!.send(message, (err) => {
        if (!err) return;
        this.ended = true;
        this.waiting.get(id)?.({
          id,
          ok: false,
          errors: `the gate process is gone: ${err.message}`,
        });
        this.waiting.delete(id);
      });
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.child?.pid !== undefined && this.child.exitCode === null) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

export interface WarmGateOptions {
  steps: readonly GateStep[];
  workspace: GateWorkspace;
  cacheDir: string;
  timeoutMs: number;
}

export class WarmGate {
  /**
   * One type-checker per TypeScript project, each its own process: the projects share no
   * program, so a first check (everything cold) takes the longest project's time, not the sum.
   */
  private readonly typecheckers = new Map<string, GateProcess>();
  private tests: GateProcess | undefined;
  /** Test files that passed in the workspace, by what they read; none of it changed since. */
  private readonly passedTests = new Map<string, TestInputs>();
  private readonly passedFile: string;
  private serverScript: Promise<string> | undefined;

  constructor(private readonly o: WarmGateOptions) {
    this.passedFile = path.join(o.cacheDir, 'gate-passed-trees.json');
    // Bundled while the first commit is checked out.
    this.script().catch(() => undefined);
  }

  async run(r: {
    sha: string;
    tree: string | undefined;
    /** The release folder (its dependencies), or its checkout under way. */
    releaseDir: string | Promise<string>;
    changedFiles: string[];
    changedSinceTypechecked: string[] | undefined;
    logDir: string;
    signal?: AbortSignal | undefined;
  }): Promise<string[]> {
    if (r.tree && this.passedTrees().includes(r.tree)) return ['gate (this tree passed before)'];
    const moved = await this.o.workspace.moveTo(r.sha, r.releaseDir);
    if (moved.dependenciesChanged || needsRestart(moved.changed)) this.stop();
    this.forgetReached(moved.changed);
    const root = this.o.workspace.dir;
    const log = path.join(r.logDir, 'gate.log');
    const abort = () => this.stop();
    r.signal?.addEventListener('abort', abort, { once: true });
    try {
      const ran: Promise<string>[] = [];
      if (this.o.steps.includes('typecheck')) {
        ran.push(this.typecheckStep(root, log, moved.changed, r.changedSinceTypechecked));
      }
      if (this.o.steps.includes('test')) ran.push(this.testStep(root, log, r.changedFiles));
      const settled = await Promise.allSettled(ran);
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failure) throw failure.reason;
      if (r.signal?.aborted)
        throw new ProcessError('the gate was stopped: the supervisor is stopping', '');
      if (r.tree && this.o.steps.length === 2) this.remember(r.tree);
      return settled.map((s) => (s as PromiseFulfilledResult<string>).value);
    } finally {
      r.signal?.removeEventListener('abort', abort);
    }
  }

  stop(): void {
    for (const checker of this.typecheckers.values()) checker.stop();
    this.tests?.stop();
    this.typecheckers.clear();
    this.tests = undefined;
    this.passedTests.clear();
  }

  /** How many type-checking processes run (one per project checked so far). */
  get typecheckProcesses(): number {
    return this.typecheckers.size;
  }

  /** The gate server's bundle; tried again after a failure. */
  private script(): Promise<string> {
    this.serverScript ??= compileGateServer(this.o.cacheDir).catch((err: unknown) => {
      this.serverScript = undefined;
      throw new Error(`could not bundle the gate server: ${String(err)}`);
    });
    return this.serverScript;
  }

  /** Forgets the passed tests that the workspace's last move may have changed the answer of. */
  private forgetReached(changed: string[] | undefined): void {
    if (changed === undefined || changed.some((file) => MODULE_SOURCE.test(file))) {
      this.passedTests.clear();
      return;
    }
    for (const [test, inputs] of this.passedTests)
      if (reaches(inputs, changed)) this.passedTests.delete(test);
  }

  private async typecheckStep(
    root: string,
    log: string,
    changed: string[] | undefined,
    sincePassed: string[] | undefined,
  ): Promise<string> {
    const needed = typecheckNeeded(sincePassed);
    const tsconfigs = needed
      ? typecheckProjects(sincePassed, (t) => existsSync(path.join(root, t)))
      : [];
    // A checker that ended (it crashed, or timed out and was stopped) answers nothing again:
    // dropped, and started afresh (a cold check) when its project is checked.
    for (const [tsconfig, checker] of this.typecheckers)
      if (!checker.usable) this.typecheckers.delete(tsconfig);
    for (const tsconfig of tsconfigs)
      if (!this.typecheckers.has(tsconfig))
        this.typecheckers.set(tsconfig, new GateProcess(this.script(), root, 'typecheck', log));
    // Every checker hears of every move (a project not checked now stays in step with the
    // tree); the projects checked now are checked side by side.
    const replies = await Promise.all(
      [...this.typecheckers].map(([tsconfig, checker]) =>
        checker.ask(
          { kind: 'typecheck', tsconfigs: tsconfigs.includes(tsconfig) ? [tsconfig] : [], changed },
          this.o.timeoutMs,
        ),
      ),
    );
    if (!needed) return 'typecheck (only pages, styles or assets changed since it last passed)';
    // In the order `tsc -p` of each project would print them, one project after the other.
    const errors = tsconfigs
      .map((tsconfig) => replies[[...this.typecheckers.keys()].indexOf(tsconfig)]!)
      .filter((reply) => !reply.ok)
      .map((reply) => reply.errors)
      .join('');
    if (errors !== '') {
      throw new ProcessError(`typecheck (${tsconfigs.join(', ')}) failed`, errors.slice(-4096));
    }
    return 'typecheck';
  }

  private async testStep(root: string, log: string, changedFiles: string[]): Promise<string> {
    const exists = (file: string) => existsSync(path.join(root, file));
    const candidates = testCandidates(changedFiles, exists, siteTestFiles(root));
    if (candidates.length === 0) return 'test (no code changed)';
    const unreached = candidates.filter((file) => this.passedTests.has(file));
    const toRun = candidates.filter((file) => !this.passedTests.has(file));
    const expected = expectedTests(candidates, exists);
    const kept = `${unreached.length} passed before and read nothing changed since`;
    if (toRun.length === 0) return `test (0 files run; ${kept})`;
    if (!this.tests?.usable) this.tests = new GateProcess(this.script(), root, 'test', log);
    const reply = await this.tests.ask(
      { kind: 'test', argv: jestArgs(toRun, path.join(this.o.cacheDir, 'jest')) },
      this.o.timeoutMs,
    );
    if (!reply.ok) throw new ProcessError('tests failed', reply.errors.slice(-4096));
    for (const [test, inputs] of Object.entries(reply.reads ?? {}))
      this.passedTests.set(test, inputs);
    const ran = (reply.testFiles ?? []).map((f) =>
      path.relative(root, f).split(path.sep).join('/'),
    );
    const missing = missingTests(expected, [...ran, ...unreached]);
    if (missing.length > 0) throw notRunError(ran, missing, root);
    const files = `${ran.length} file${ran.length === 1 ? '' : 's'}`;
    return `test (${files}${unreached.length > 0 ? `; ${kept}` : ''})`;
  }

  private passedTrees(): string[] {
    try {
      return JSON.parse(readFileSync(this.passedFile, 'utf8')) as string[];
    } catch {
      return [];
    }
  }

  private remember(tree: string): void {
    writeAtomically(this.passedFile, JSON.stringify([tree, ...this.passedTrees()].slice(0, 200)));
  }
}
