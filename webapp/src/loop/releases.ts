/**
 * Release folders: a commit checked out with `git archive` into `releases/<sha>`, its
 * node_modules linked from a store shared by every release with the same manifests and
 * lockfile (never a fresh install for an unchanged lockfile; when the project's own install
 * matches, that install is the store). Old folders are pruned, keeping the newest few.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { link, readlink, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { PLAIN_GIT_ENV, type HomePaths } from './home';
import { commandEnv, runCommand } from './processes';

export interface BuildInfo {
  sha: string;
  builtAt: string;
}

const WORKSPACES = ['webapp', 'pulumi'];
/** The files that decide a release's dependencies (its `node_modules` store). */
export const MANIFESTS = [
  'package.json',
  'package-lock.json',
  ...WORKSPACES.map((w) => `${w}/package.json`),
];

export class ReleaseStore {
  constructor(
    private readonly paths: HomePaths,
    private readonly projectDir: string,
  ) {}

  dirOf(sha: string): string {
    return path.join(this.paths.releases, sha);
  }

  /** What the build of `sha` recorded, when `sha` is checked out and built. */
  buildInfo(sha: string): BuildInfo | undefined {
    try {
      const info = JSON.parse(
        readFileSync(path.join(this.dirOf(sha), 'webapp/dist/build-info.json'), 'utf8'),
      ) as Partial<BuildInfo>;
      return info.sha === sha && typeof info.builtAt === 'string'
        ? { sha, builtAt: info.builtAt }
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether `sha` is checked out and built (its build recorded that very commit). */
  isBuilt(sha: string): boolean {
    return this.buildInfo(sha) !== undefined;
  }

  /**
   * The repository paths the site bundle of `sha` was built from (esbuild's inputs, written by
   * the build): a change to none of them leaves the site's code as it is.
   */
  siteInputs(sha: string): string[] | undefined {
    try {
      const inputs = JSON.parse(
        readFileSync(path.join(this.dirOf(sha), 'webapp/dist/site-inputs.json'), 'utf8'),
      ) as unknown;
      return Array.isArray(inputs) && inputs.every((i) => typeof i === 'string')
        ? inputs
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Builds the checked-out `sha` (webapp/scripts/build.mjs): both bundles and the editor UI. */
  async build(
    sha: string,
    logFile: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<BuildInfo> {
    await runCommand(process.execPath, ['webapp/scripts/build.mjs'], {
      cwd: this.dirOf(sha),
      env: commandEnv({
        REFLEX_BUILD_SHA: sha,
        REFLEX_BUILD_CACHE: path.join(this.paths.cache, 'build'),
      }),
      logFile,
      timeoutMs,
      label: 'build',
      signal,
    });
    const info = this.buildInfo(sha);
    if (!info) throw new Error('the build wrote no build-info.json for this commit');
    return info;
  }

  /**
   * Gives `sha` the build of `from`, whose code is the same (only pages or assets differ):
   * hard links, then a build-info of its own. Nothing is rebuilt.
   */
  reuseBuild(sha: string, from: string): BuildInfo {
    const target = path.join(this.dirOf(sha), 'webapp/dist');
    rmSync(target, { recursive: true, force: true });
    linkTree(path.join(this.dirOf(from), 'webapp/dist'), target);
    const info = { sha, builtAt: new Date().toISOString() };
    const file = path.join(target, 'build-info.json');
    rmSync(file, { force: true });
    writeFileSync(file, JSON.stringify(info, null, 2) + '\n');
    return info;
  }

  /** A fresh folder holding the tree of `sha` with its dependencies linked. */
  async checkout(sha: string, logFile: string): Promise<string> {
    const dir = this.dirOf(sha);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await extract(this.paths.origin, sha, dir);
    await this.linkDependencies(dir, logFile);
    return dir;
  }

  /**
   * The same folder as `checkout`, made from the release folder of `base` (a commit whose
   * folder is complete): a file the two commits share is a hard link to `base`'s, and only the
   * `changed` files (`git diff base sha`) are read from git. A page edit becomes one blob read
   * and a few hundred links instead of writing out the whole tree. Falls back to `checkout`
   * when `base` has no folder.
   */
  async checkoutBeside(
    sha: string,
    base: string,
    changed: readonly string[],
    logFile: string,
  ): Promise<string> {
    const from = this.dirOf(base);
    if (base === sha || !this.isBuilt(base)) return this.checkout(sha, logFile);
    const dir = this.dirOf(sha);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const fresh = new Set(changed);
    const entries = await listTree(this.paths.origin, sha);
    const made = new Set<string>();
    for (const entry of entries) {
      const parent = path.dirname(path.join(dir, entry.path));
      if (!made.has(parent)) {
        mkdirSync(parent, { recursive: true });
        made.add(parent);
      }
    }
    // A submodule is an empty folder, as `git archive` makes. The changed files are read from
    // git while the shared ones are linked, off the event loop: the gate runs beside this.
    const blobs = entries.filter((entry) => entry.type === 'blob');
    const wanted = blobs.filter((entry) => fresh.has(entry.path));
    const reading = readBlobs(
      this.paths.origin,
      wanted.map((e) => e.object),
    );
    reading.catch(() => undefined); // awaited below
    const missed: TreeEntry[] = [];
    await Promise.all(
      blobs
        .filter((entry) => !fresh.has(entry.path))
        .map(async (entry) => {
          const source = path.join(from, entry.path);
          const target = path.join(dir, entry.path);
          try {
            if (entry.mode === SYMLINK) await symlink(await readlink(source), target);
            else await link(source, target);
          } catch {
            missed.push(entry); // not in the base folder after all: read it from git
          }
        }),
    );
    const read = await reading;
    const more = await readBlobs(
      this.paths.origin,
      missed.map((e) => e.object),
    );
    for (const entry of [...wanted, ...missed]) {
      const target = path.join(dir, entry.path);
      const body = read.get(entry.object) ?? more.get(entry.object)!;
      if (entry.mode === SYMLINK) symlinkSync(body.toString('utf8'), target);
      else writeFileSync(target, body, { mode: entry.mode === EXECUTABLE ? 0o755 : 0o644 });
    }
    await this.linkDependencies(dir, logFile);
    return dir;
  }

  /**
   * Removes release folders beyond the newest `keep`, never one of `protect`. Each is renamed
   * out of `releases/` at once (no reader sees half a folder) and deleted in the background:
   * the switch that prunes never waits for thousands of unlinks, nor does the edge beside it.
   */
  prune(keep: number, protect: Set<string>): string[] {
    const entries = readdirSync(this.paths.releases)
      .map((name) => ({ name, mtime: statSync(path.join(this.paths.releases, name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    const removed: string[] = [];
    const trash = path.join(this.paths.cache, 'pruned');
    for (const entry of entries.slice(keep)) {
      if (protect.has(entry.name)) continue;
      const from = path.join(this.paths.releases, entry.name);
      const to = path.join(trash, `${entry.name}-${Date.now().toString(36)}`);
      try {
        mkdirSync(trash, { recursive: true });
        renameSync(from, to);
        void rm(to, { recursive: true, force: true }).catch(() => undefined);
      } catch {
        rmSync(from, { recursive: true, force: true });
      }
      removed.push(entry.name);
    }
    return removed;
  }

  private async linkDependencies(dir: string, logFile: string): Promise<void> {
    const hash = manifestHash(dir);
    const store = path.join(this.paths.deps, hash);
    if (!existsSync(path.join(store, '.complete'))) await this.fillStore(store, hash, dir, logFile);
    symlinkSync(path.join(store, 'node_modules'), path.join(dir, 'node_modules'));
    for (const workspace of WORKSPACES) {
      const nested = path.join(store, workspace, 'node_modules');
      if (existsSync(nested) && existsSync(path.join(dir, workspace)))
        symlinkSync(nested, path.join(dir, workspace, 'node_modules'));
    }
  }

  private async fillStore(
    store: string,
    hash: string,
    source: string,
    logFile: string,
  ): Promise<void> {
    rmSync(store, { recursive: true, force: true });
    const projectModules = path.join(this.projectDir, 'node_modules');
    if (existsSync(projectModules) && manifestHash(this.projectDir) === hash) {
      // The project's own `npm ci` installed exactly these manifests: share it.
      mkdirSync(store, { recursive: true });
      symlinkSync(projectModules, path.join(store, 'node_modules'));
      for (const workspace of WORKSPACES) {
        const nested = path.join(this.projectDir, workspace, 'node_modules');
        if (existsSync(nested)) {
          mkdirSync(path.join(store, workspace), { recursive: true });
          symlinkSync(nested, path.join(store, workspace, 'node_modules'));
        }
      }
    } else {
      // The lockfile changed (pushed from outside: the editor cannot change it): install once.
      const staging = `${store}.installing`;
      rmSync(staging, { recursive: true, force: true });
      for (const file of MANIFESTS) {
        if (!existsSync(path.join(source, file))) continue;
        mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
        copyFileSync(path.join(source, file), path.join(staging, file));
      }
      await runCommand('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: staging,
        env: commandEnv({ npm_config_cache: process.env.npm_config_cache }),
        logFile,
        timeoutMs: 15 * 60_000,
        label: 'npm ci (the lockfile changed)',
      });
      renameSync(staging, store);
    }
    writeFileSync(path.join(store, '.complete'), `${new Date().toISOString()}\n`);
  }
}

/** Hash of the manifests and lockfile that decide what node_modules holds. */
export function manifestHash(dir: string): string {
  const hash = createHash('sha256');
  for (const file of MANIFESTS) {
    hash.update(file + '\0');
    try {
      hash.update(readFileSync(path.join(dir, file)));
    } catch {
      hash.update('(absent)');
    }
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 24);
}

/** `git archive <sha> | tar -x -C dir`. */
function extract(gitDir: string, sha: string, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn('git', ['--git-dir', gitDir, 'archive', '--format=tar', sha], {
      env: PLAIN_GIT_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tar = spawn('tar', ['-x', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    let errors = '';
    archive.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    archive.stdout.pipe(tar.stdin);
    let pending = 2;
    let failed = false;
    const done = (code: number | null) => {
      if (code !== 0) failed = true;
      if (--pending === 0) {
        if (failed)
          reject(
            new Error(`cannot check out ${sha}: ${errors.trim() || 'git archive | tar failed'}`),
          );
        else resolve();
      }
    };
    archive.on('close', done);
    tar.on('close', done);
  });
}

const SYMLINK = '120000';
const EXECUTABLE = '100755';

interface TreeEntry {
  mode: string;
  type: string;
  object: string;
  path: string;
}

function gitOutput(gitDir: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, ...args], {
      env: PLAIN_GIT_ENV,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let errors = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (errors += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`git ${args[0] ?? ''}: ${errors.trim() || `exit ${code}`}`));
    });
    // git may exit before it read all it was given (a bad object): that is its error to tell.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

/** Every entry of the tree of `sha`, recursively: mode, type, object and path. */
async function listTree(gitDir: string, sha: string): Promise<TreeEntry[]> {
  const out = (await gitOutput(gitDir, ['ls-tree', '-r', '-z', '--full-tree', sha])).toString();
  return out
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const tab = line.indexOf('\t');
      const [mode = '', type = '', object = ''] = line.slice(0, tab).split(' ');
      return { mode, type, object, path: line.slice(tab + 1) };
    });
}

/** The contents of blobs, read in one `git cat-file --batch`. */
async function readBlobs(gitDir: string, objects: string[]): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  const unique = [...new Set(objects)];
  if (unique.length === 0) return blobs;
  const out = await gitOutput(gitDir, ['cat-file', '--batch'], unique.join('\n') + '\n');
  let at = 0;
  for (const object of unique) {
    const end = out.indexOf(0x0a, at);
    const [name, type, size] = out.subarray(at, end).toString().split(' ');
    if (name !== object || type !== 'blob' || size === undefined)
      throw new Error(`cannot read ${object} from the origin: ${out.subarray(at, end).toString()}`);
    const start = end + 1;
    blobs.set(object, out.subarray(start, start + Number(size)));
    at = start + Number(size) + 1;
  }
  return blobs;
}

/** Copies a folder as hard links (files) and new folders: instant, and no byte duplicated. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isFile()) linkSync(source, target);
  }
}
