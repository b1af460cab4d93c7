/**
 * A warm half of the gate, as a long-lived child of the supervisor (`warmGate.ts` starts two:
 * one type-checks, one runs tests), answering requests over IPC. It uses the TypeScript and
 * jest of the tree it checks (its node_modules), and keeps what they computed between runs:
 *
 * - typecheck: one TypeScript watch program per tsconfig, whose file watching is driven by
 *   the supervisor: each request names the files that changed since the last one, and only
 *   what they affect is checked again. It reports exactly what `tsc -p` would (the same
 *   diagnostics, formatted the same way).
 * - test: jest's own `runCLI`, with the arguments the cold gate gives the jest command, in a
 *   process where jest is already loaded and its caches are warm. It also reports, for each
 *   test file that passed, the files and folders of the tree it read while it ran (every `fs`
 *   call naming a path, the test's and its modules' alike), so that the supervisor knows which
 *   passed tests a content change cannot reach (warmGate.ts).
 *
 *   node <cache>/gate-server/<hash>.js <root> typecheck|test   (the bundle warmGate.ts makes)
 */
import childProcess from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import workerThreads from 'node:worker_threads';
import type * as TS from 'typescript';

export type GateAsk =
  | { kind: 'typecheck'; tsconfigs: string[]; changed: string[] | undefined }
  | { kind: 'test'; argv: Record<string, unknown> };

export type GateRequest = GateAsk & { id: number };

/** What a test file read of the tree (repository paths): files, and folders it listed. */
export interface TestInputs {
  files: string[];
  listings: string[];
}

export type GateReply =
  | {
      id: number;
      ok: true;
      errors: string;
      testFiles?: string[];
      /** Per test file that passed (repository path): what it read. */
      reads?: Record<string, TestInputs>;
    }
  | { id: number; ok: false; errors: string; testFiles?: string[] };

/** One tsconfig's watch program, told of changes instead of watching the disk. */
class WatchedProject {
  private readonly fileWatchers = new Map<string, Set<TS.FileWatcherCallback>>();
  private readonly dirWatchers = new Set<{
    dir: string;
    recursive: boolean;
    callback: TS.DirectoryWatcherCallback;
  }>();
  private pending: (() => void) | undefined;
  private readonly watch: TS.WatchOfConfigFile<TS.SemanticDiagnosticsBuilderProgram>;

  constructor(
    private readonly ts: typeof TS,
    configPath: string,
  ) {
    const host = ts.createWatchCompilerHost(
      configPath,
      {},
      ts.sys,
      ts.createSemanticDiagnosticsBuilderProgram,
      () => undefined,
      () => undefined,
    );
    host.watchFile = (file, callback) => {
      const set = this.fileWatchers.get(file) ?? new Set();
      set.add(callback);
      this.fileWatchers.set(file, set);
      return { close: () => set.delete(callback) };
    };
    host.watchDirectory = (dir, callback, recursive) => {
      const watcher = { dir, recursive: recursive === true, callback };
      this.dirWatchers.add(watcher);
      return { close: () => this.dirWatchers.delete(watcher) };
    };
    // As `tsc` parses: JSDoc only where it can make a type error (TypeScript 5.3 on). The API's
    // default parses every comment, a tenth of a cold check's parse and bind.
    if (ts.JSDocParsingMode) host.jsDocParsingMode = ts.JSDocParsingMode.ParseForTypeErrors;
    // The diagnostics are read when asked (`errors`); the default would also emit the build
    // info into the tree checked, which nothing reads.
    host.afterProgramCreate = () => undefined;
    host.setTimeout = (callback: (...args: unknown[]) => void) => {
      this.pending = () => callback();
      return 1;
    };
    host.clearTimeout = () => {
      this.pending = undefined;
    };
    this.watch = ts.createWatchProgram(host);
  }

  /** Tells the program that these files (absolute) changed, appeared or went away. */
  changed(files: string[]): void {
    for (const file of files) {
      const exists = this.ts.sys.fileExists(file);
      const kind = exists
        ? this.ts.FileWatcherEventKind.Changed
        : this.ts.FileWatcherEventKind.Deleted;
      for (const callback of this.fileWatchers.get(file) ?? []) callback(file, kind);
      for (const watcher of this.dirWatchers) {
        const parent = path.dirname(file);
        if (parent === watcher.dir || (watcher.recursive && file.startsWith(watcher.dir + '/')))
          watcher.callback(file);
      }
    }
  }

  /** The diagnostics `tsc -p` would print, formatted as it prints them (empty: none). */
  errors(root: string): string {
    while (this.pending) {
      const update = this.pending;
      this.pending = undefined;
      update();
    }
    const program = this.watch.getProgram();
    const diagnostics = [
      ...program.getConfigFileParsingDiagnostics(),
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...program.getSyntacticDiagnostics(),
      ...program.getSemanticDiagnostics(),
    ].filter((d) => d.category === this.ts.DiagnosticCategory.Error);
    return this.ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    });
  }
}

function typechecker(root: string) {
  // The TypeScript of the tree being checked, as `tsc` of that tree would run.
  const ts = require(path.join(root, 'node_modules/typescript')) as typeof TS; // eslint-disable-line @typescript-eslint/no-require-imports
  const projects = new Map<string, WatchedProject>();
  return (request: Extract<GateRequest, { kind: 'typecheck' }>): GateReply => {
    const changed = (request.changed ?? []).map((file) => path.join(root, file));
    if (request.changed === undefined) projects.clear();
    for (const project of projects.values()) project.changed(changed);
    let errors = '';
    for (const tsconfig of request.tsconfigs) {
      const configPath = path.join(root, tsconfig);
      let project = projects.get(configPath);
      if (!project) {
        project = new WatchedProject(ts, configPath);
        projects.set(configPath, project);
      }
      errors += project.errors(root);
    }
    return { id: request.id, ok: errors === '', errors };
  };
}

interface JestResults {
  numFailedTestSuites: number;
  numRuntimeErrorTestSuites: number;
  success: boolean;
  testResults: {
    testFilePath: string;
    failureMessage?: string | null;
    numFailingTests: number;
    testExecError?: unknown;
    perfStats: { loadTestEnvironmentStart: number; end: number };
  }[];
}

/** `fs` calls that read one path, and the ones that list a folder. */
const READS = [
  'readFileSync',
  'readFile',
  'existsSync',
  'statSync',
  'stat',
  'lstatSync',
  'lstat',
  'accessSync',
  'access',
  'openSync',
  'open',
  'createReadStream',
  'realpathSync',
  'realpath',
  // A copy reads its source (the first argument) as surely as a read does.
  'copyFileSync',
  'copyFile',
  'cpSync',
  'cp',
  'openAsBlob',
  'watch',
  'watchFile',
] as const;
const LISTS = ['readdirSync', 'readdir', 'opendirSync', 'opendir'] as const;
/** `fs` calls given a pattern, not a path: they may list any folder of the tree. */
const PATTERNS = ['globSync', 'glob'] as const;
/** Ways to run code whose reads this process cannot see: the test may have read anything. */
const ELSEWHERE = [
  'spawn',
  'spawnSync',
  'exec',
  'execSync',
  'execFile',
  'execFileSync',
  'fork',
] as const;

/**
 * Every path under `root` that an `fs` call names while `recording`, with the time: jest runs
 * the files one after the other here (`runInBand`), so a read belongs to the file whose run
 * spans its time. Test code gets this very `fs` (jest hands out Node's own core modules).
 */
class ReadLog {
  recording = false;
  private entries: { at: number; file: string; listing: boolean }[] = [];

  constructor(readonly root: string) {
    const promises = fs.promises as unknown as Record<string, unknown>;
    const target = fs as unknown as Record<string, unknown>;
    for (const name of READS) this.wrap(target, name, false);
    for (const name of LISTS) this.wrap(target, name, true);
    for (const name of READS) if (name in promises) this.wrap(promises, name, false);
    for (const name of LISTS) if (name in promises) this.wrap(promises, name, true);
    for (const name of PATTERNS) {
      this.wrap(target, name, true, () => this.root);
      if (name in promises) this.wrap(promises, name, true, () => this.root);
    }
    // A child process or a worker reads with its own `fs`: count it as a listing of the whole
    // tree, which every change reaches.
    const children = childProcess as unknown as Record<string, unknown>;
    for (const name of ELSEWHERE) this.wrap(children, name, true, () => this.root);
    const log = this; // eslint-disable-line @typescript-eslint/no-this-alias
    const Worker = workerThreads.Worker;
    (workerThreads as { Worker: unknown }).Worker = class extends Worker {
      constructor(...args: ConstructorParameters<typeof Worker>) {
        if (log.recording) log.note(log.root, true);
        super(...args);
      }
    };
  }

  /** The log so far, emptied. */
  take(): { at: number; file: string; listing: boolean }[] {
    const entries = this.entries;
    this.entries = [];
    return entries;
  }

  private wrap(
    target: Record<string, unknown>,
    name: string,
    listing: boolean,
    where: (args: unknown[]) => unknown = (args) => args[0],
  ): void {
    const original = target[name] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof original !== 'function') return;
    const log = this; // eslint-disable-line @typescript-eslint/no-this-alias
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      if (log.recording) log.note(where(args), listing);
      return original.apply(this, args);
    };
    Object.assign(wrapped, original); // realpathSync.native and the like
    target[name] = wrapped;
  }

  note(where: unknown, listing: boolean): void {
    let absolute: string;
    try {
      if (typeof where === 'string') absolute = path.resolve(this.root, where);
      else if (where instanceof URL) absolute = fileURLToPath(where);
      else if (Buffer.isBuffer(where)) absolute = path.resolve(this.root, where.toString());
      else return; // a file descriptor: its path was noted when it was opened
    } catch {
      return;
    }
    const relative = path.relative(this.root, absolute);
    if (relative.startsWith('..') || path.isAbsolute(relative)) return;
    this.entries.push({ at: Date.now(), file: relative.split(path.sep).join('/'), listing });
  }
}

/** What each passed test file read: the reads within its run's time span (edges count twice). */
function readsByTest(
  root: string,
  results: JestResults,
  log: { at: number; file: string; listing: boolean }[],
): Record<string, TestInputs> {
  const reads: Record<string, TestInputs> = {};
  for (const result of results.testResults) {
    if (result.numFailingTests > 0 || result.testExecError) continue;
    const { loadTestEnvironmentStart: from, end: to } = result.perfStats;
    const files = new Set<string>();
    const listings = new Set<string>();
    for (const entry of log) {
      if (entry.at < from || entry.at > to) continue;
      (entry.listing ? listings : files).add(entry.file);
    }
    const test = path.relative(root, result.testFilePath).split(path.sep).join('/');
    reads[test] = { files: [...files].sort(), listings: [...listings].sort() };
  }
  return reads;
}

function testRunner(root: string) {
  type RunCli = (
    argv: Record<string, unknown>,
    projects: string[],
  ) => Promise<{ results: JestResults }>;
  // The jest of the tree being checked (its own config), loaded once.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runCLI } = require(path.join(root, 'node_modules/jest')) as { runCLI: RunCli };
  const log = new ReadLog(root);
  return async (request: Extract<GateRequest, { kind: 'test' }>): Promise<GateReply> => {
    log.take();
    log.recording = true;
    let results: JestResults;
    try {
      ({ results } = await runCLI({ $0: 'jest', _: [], ...request.argv }, [root]));
    } finally {
      log.recording = false;
    }
    const errors = results.testResults
      .map((r) => r.failureMessage ?? '')
      .filter(Boolean)
      .join('\n');
    const testFiles = results.testResults.map((r) => r.testFilePath);
    if (!results.success) return { id: request.id, ok: false, errors, testFiles };
    return {
      id: request.id,
      ok: true,
      errors,
      testFiles,
      // Reads are told apart by time only when one file runs at a time.
      reads: request.argv.runInBand === true ? readsByTest(root, results, log.take()) : undefined,
    };
  };
}

function serve(root: string, kind: string): void {
  if (kind !== 'typecheck' && kind !== 'test')
    throw new Error(`unknown gate server kind "${kind}"`);
  const check = kind === 'typecheck' ? typechecker(root) : undefined;
  const test = kind === 'test' ? testRunner(root) : undefined;
  process.on('message', (message: GateRequest) => {
    const reply = (async (): Promise<GateReply> => {
      try {
        if (message.kind === 'typecheck' && check) return check(message);
        if (message.kind === 'test' && test) return await test(message);
        return { id: message.id, ok: false, errors: `this gate server does not ${message.kind}` };
      } catch (err) {
        return {
          id: message.id,
          ok: false,
          errors: err instanceof Error ? (err.stack ?? err.message) : String(err),
        };
      }
    })();
    void reply.then((answer) => process.send?.(answer));
  });
  process.send?.({ id: 0, ok: true, errors: '' } satisfies GateReply);
  // Exit with the supervisor: an IPC channel that closes means it is gone.
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) serve(process.argv[2] ?? '', process.argv[3] ?? '');
