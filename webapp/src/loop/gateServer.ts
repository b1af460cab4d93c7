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
 *   process where jest is already loaded and its caches are warm.
 *
 *   node --import tsx webapp/src/loop/gateServer.ts <root> typecheck|test
 */
import path from 'node:path';
import type * as TS from 'typescript';

export type GateAsk =
  | { kind: 'typecheck'; tsconfigs: string[]; changed: string[] | undefined }
  | { kind: 'test'; argv: Record<string, unknown> };

export type GateRequest = GateAsk & { id: number };

export type GateReply =
  | { id: number; ok: true; errors: string; testFiles?: string[] }
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
  testResults: { testFilePath: string; failureMessage?: string | null }[];
}

function testRunner(root: string) {
  type RunCli = (
    argv: Record<string, unknown>,
    projects: string[],
  ) => Promise<{ results: JestResults }>;
  // The jest of the tree being checked (its own config), loaded once.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runCLI } = require(path.join(root, 'node_modules/jest')) as { runCLI: RunCli };
  return async (request: Extract<GateRequest, { kind: 'test' }>): Promise<GateReply> => {
    const { results } = await runCLI({ $0: 'jest', _: [], ...request.argv }, [root]);
    const errors = results.testResults
      .map((r) => r.failureMessage ?? '')
      .filter(Boolean)
      .join('\n');
    return {
      id: request.id,
      ok: results.success,
      errors,
      testFiles: results.testResults.map((r) => r.testFilePath),
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
