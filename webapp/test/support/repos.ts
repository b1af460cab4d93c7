/** Real git repositories for tests and benchmarks: a bare origin seeded with given files. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Seed',
  GIT_AUTHOR_EMAIL: 'seed@example.com',
  GIT_COMMITTER_NAME: 'Seed',
  GIT_COMMITTER_EMAIL: 'seed@example.com',
};

export function git(cwd: string, args: string[], input?: string | Buffer): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, input, maxBuffer: 256 * 1024 * 1024 })
    .toString()
    .trim();
}

export interface Origin {
  /** The bare repository's folder (also usable as the remote URL). */
  dir: string;
  root: string;
  /** The head of `ref` (default: the branch). */
  head(ref?: string): string;
  /** Content of `file` on `branch` of the origin, or undefined. */
  show(file: string, ref?: string): string | undefined;
  /** Commits on the branch, newest first: `sha subject`. */
  log(ref?: string): { sha: string; subject: string; author: string; committer: string }[];
  /**
   * Commits `files` directly to the origin (someone else pushing) on `ref` (default: the
   * branch). Returns the new head.
   */
  commit(files: Record<string, string | null>, message?: string, ref?: string): string;
  cleanup(): void;
}

/** Bare origin whose `branch` holds `files` (plus symlinks: path -> target). */
export function createOrigin(
  files: Record<string, string>,
  options: { branch?: string; symlinks?: Record<string, string> } = {},
): Origin {
  const branch = options.branch ?? 'main';
  const root = mkdtempSync(path.join(os.tmpdir(), 'reflex-origin-'));
  const dir = path.join(root, 'origin.git');
  git(root, ['init', '--quiet', '--bare', `--initial-branch=${branch}`, dir]);
  fastImport(dir, branch, files, options.symlinks ?? {}, 'Seed the repository', null);

  const origin: Origin = {
    dir,
    root,
    head: (ref = branch) => git(dir, ['rev-parse', `refs/heads/${ref}`]),
    show(file, ref = branch) {
      try {
        return execFileSync('git', ['show', `refs/heads/${ref}:${file}`], {
          cwd: dir,
          env: GIT_ENV,
          stdio: ['ignore', 'pipe', 'ignore'],
        }).toString();
      } catch {
        return undefined;
      }
    },
    log(ref = branch) {
      return git(dir, ['log', '--format=%H%x09%s%x09%an <%ae>%x09%cn <%ce>', `refs/heads/${ref}`])
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [sha, subject, author, committer] = line.split('\t');
          return { sha: sha!, subject: subject!, author: author!, committer: committer! };
        });
    },
    commit(changes, message = 'An upstream change', ref = branch) {
      fastImport(dir, ref, changes, {}, message, origin.head(ref));
      return origin.head(ref);
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  return origin;
}

function fastImport(
  dir: string,
  branch: string,
  files: Record<string, string | null>,
  symlinks: Record<string, string>,
  message: string,
  parent: string | null,
): void {
  const chunks: Buffer[] = [];
  const push = (s: string | Buffer) => chunks.push(typeof s === 'string' ? Buffer.from(s) : s);
  const when = Math.floor(Date.now() / 1000);
  push(`commit refs/heads/${branch}\ncommitter Seed <seed@example.com> ${when} +0000\n`);
  push(`data ${Buffer.byteLength(message)}\n${message}\n`);
  if (parent) push(`from ${parent}\n`);
  for (const [file, content] of Object.entries(files)) {
    if (content === null) {
      push(`D ${file}\n`);
      continue;
    }
    const body = Buffer.from(content);
    push(`M 100644 inline ${file}\ndata ${body.length}\n`);
    push(body);
    push('\n');
  }
  for (const [link, target] of Object.entries(symlinks)) {
    push(`M 120000 inline ${link}\ndata ${Buffer.byteLength(target)}\n${target}\n`);
  }
  push('done\n');
  execFileSync('git', ['fast-import', '--quiet', '--done'], {
    cwd: dir,
    env: GIT_ENV,
    input: Buffer.concat(chunks),
  });
}

/** n files spread over folders, like a real project: `webapp/site/pages/page-N.html` and friends. */
export function manyFiles(n: number): Record<string, string> {
  const files: Record<string, string> = {
    'webapp/site/pages/index.html': '<h1>Hello</h1>\n',
    'package.json': '{"name":"fixture"}\n',
    'README.md': '# fixture\n',
  };
  const seeded = Object.keys(files).length;
  for (let i = 0; i < n - seeded; i++) {
    const folder = `src/module-${Math.floor(i / 50)}`;
    files[`${folder}/file-${i}.ts`] = `export const value${i} = ${i};\n`;
  }
  return files;
}

/** A symlink in a plain folder, for tests that need one on disk. */
export function symlink(target: string, at: string): void {
  symlinkSync(target, at);
}
