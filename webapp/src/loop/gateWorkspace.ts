/**
 * The warm gate's working tree (`cache/gate/`): one folder that follows the commits the gate
 * checks, rewritten only where two commits differ (`git read-tree -m -u`), so that a
 * long-lived type-checker and test runner keep their caches between runs — every file keeps
 * its path. Its dependencies are the release's own (a link to the same node_modules).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { PLAIN_GIT_ENV } from './home';
import { MANIFESTS } from './releases';

/** Where a release folder links its dependencies (the root and the workspaces). */
const MODULE_FOLDERS = ['node_modules', 'webapp/node_modules', 'pulumi/node_modules'];

export interface Moved {
  /** Repository paths that differ from the commit the workspace held; undefined: all new. */
  changed: string[] | undefined;
  /** The dependencies changed (another lockfile): warm processes must start over. */
  dependenciesChanged: boolean;
}

export class GateWorkspace {
  private current: string | undefined;
  private modules: string | undefined;

  constructor(
    readonly dir: string,
    private readonly gitDir: string,
    private readonly indexFile: string,
  ) {}

  /** The commit the workspace holds. */
  get sha(): string | undefined {
    return this.current;
  }

  /**
   * Rewrites the workspace to the tree of `sha`, with the dependencies of `releaseDir` (waited
   * for only once the tree is in place, and only when a manifest changed: the release folder
   * may still be under way).
   */
  async moveTo(sha: string, releaseDir: string | Promise<string>): Promise<Moved> {
    const previous = this.current;
    this.current = undefined;
    let changed: string[] | undefined;
    if (previous && existsSync(this.dir)) {
      try {
        const [, diff] = await Promise.all([
          this.git(['read-tree', '-m', '-u', previous, sha]),
          this.git(['diff', '--no-renames', '--name-only', '-z', previous, sha]),
        ]);
        changed = split(diff);
      } catch {
        changed = undefined;
      }
    }
    if (changed === undefined) {
      rmSync(this.dir, { recursive: true, force: true });
      rmSync(this.indexFile, { force: true });
      mkdirSync(this.dir, { recursive: true });
      await this.git(['read-tree', '--reset', '-u', sha]);
    }
    this.current = sha;
    // The same manifests link the same dependencies: no need to wait for the release folder.
    if (this.modules && changed && !changed.some((file) => MANIFESTS.includes(file)))
      return { changed, dependenciesChanged: false };
    const release = await releaseDir;
    const modules = readlinkSync(path.join(release, 'node_modules'));
    const dependenciesChanged = modules !== this.modules;
    for (const folder of MODULE_FOLDERS) {
      const target = path.join(this.dir, folder);
      if (!dependenciesChanged && existsSync(target)) continue;
      rmSync(target, { force: true });
      const link = path.join(release, folder);
      if (existsSync(link)) symlinkSync(readlinkSync(link), target);
    }
    this.modules = modules;
    return { changed, dependenciesChanged };
  }

  private git(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        ['--git-dir', this.gitDir, '--work-tree', this.dir, ...args],
        { env: { ...PLAIN_GIT_ENV, GIT_INDEX_FILE: this.indexFile }, maxBuffer: 64 << 20 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`git ${args[0] ?? ''}: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      );
    });
  }
}

function split(output: string): string[] {
  return output.split('\0').filter(Boolean);
}
