/**
 * The local origin (`origin.git`) as the pipeline asks about it: the branch head, a commit's
 * author and subject, what changed between two commits, a commit's tree. Every query is an
 * asynchronous `git` child: none runs on the event loop of the process that proxies requests,
 * and a scrape reads the last head seen (`knownHead`), never git.
 */
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PLAIN_GIT_ENV } from './home';

/** How many unchanged stamps in a row before `refsMayHaveMoved` says yes anyway. */
const ASK_GIT_EVERY = 15;

/**
 * The stamp of every folder under `refs/heads` and of `packed-refs`: git writes a ref by
 * renaming it into place and deletes one by unlinking it or rewriting `packed-refs`, so any
 * move of a branch changes one of them.
 */
export function refsStamp(gitDir: string): string {
  const parts: string[] = [];
  const walk = (dir: string) => {
    try {
      parts.push(`${dir}:${statSync(dir, { bigint: true }).mtimeNs}`);
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory()) walk(path.join(dir, entry.name));
    } catch {
      parts.push(`${dir}:none`);
    }
  };
  walk(path.join(gitDir, 'refs', 'heads'));
  try {
    const packed = statSync(path.join(gitDir, 'packed-refs'), { bigint: true });
    parts.push(`packed:${packed.mtimeNs}:${packed.size}:${packed.ino}`);
  } catch {
    parts.push('packed:none');
  }
  return parts.join('\n');
}

export interface CommitInfo {
  author: string;
  committedAt: string;
  message: string;
}

export class Origin {
  private lastHead: string | undefined;
  private lastStamp: string | undefined;
  private unchangedStamps = 0;
  private readonly diffs = new Map<string, Promise<string[] | undefined>>();

  constructor(
    readonly gitDir: string,
    readonly branch: string,
  ) {}

  /** The branch head as last read by `head()` (for metrics: no git on a scrape). */
  get knownHead(): string | undefined {
    return this.lastHead;
  }

  /** The branch head now, or undefined when the branch does not exist. */
  async head(): Promise<string | undefined> {
    try {
      this.lastHead = await this.git(['rev-parse', '--verify', `refs/heads/${this.branch}`]);
    } catch {
      this.lastHead = undefined;
    }
    return this.lastHead;
  }

  /**
   * Whether a branch may have moved since the last call, from the refs' stamps on disk (no
   * `git` child: a `git` start costs the supervisor tens of ms of CPU), and yes every
   * `ASK_GIT_EVERY`th call regardless, for a file system whose clock is too coarse to tell two
   * writes apart. The first call says yes.
   */
  refsMayHaveMoved(): boolean {
    const stamp = refsStamp(this.gitDir);
    if (stamp === this.lastStamp && ++this.unchangedStamps < ASK_GIT_EVERY) return false;
    this.lastStamp = stamp;
    this.unchangedStamps = 0;
    return true;
  }

  /** Records a head the post-receive hook reported (the same fact `head()` would read). */
  sawHead(sha: string): void {
    this.lastHead = sha;
  }

  async commit(sha: string): Promise<CommitInfo | undefined> {
    try {
      const [author, committedAt, ...subject] = (
        await this.git(['log', '-1', '--format=%an <%ae>%x00%cI%x00%s', sha])
      ).split('\0');
      return { author: author ?? '', committedAt: committedAt ?? '', message: subject.join('\0') };
    } catch {
      return undefined;
    }
  }

  /**
   * Paths that differ between two commits, or undefined when either is unknown. Two commits
   * differ the same way forever: a release asks this of the same pair several times (its
   * folder, the processes it may keep, its gate), and git answers once.
   */
  changed(from: string, to: string): Promise<string[] | undefined> {
    const key = `${from}..${to}`;
    let answer = this.diffs.get(key);
    if (!answer) {
      answer = this.git(['diff', '--no-renames', '--name-only', '-z', from, to]).then(
        split,
        () => undefined,
      );
      this.diffs.set(key, answer);
      // An unknown commit may arrive later (a push in flight): ask git again next time.
      void answer.then((files) => files ?? this.diffs.delete(key));
      if (this.diffs.size > 64) this.diffs.delete(this.diffs.keys().next().value!);
    }
    return answer.then((files) => files && [...files]);
  }

  /** Every path of `sha` under `folder`. */
  async files(sha: string, folder: string): Promise<string[]> {
    try {
      return split(await this.git(['ls-tree', '-r', '--name-only', '-z', sha, '--', folder]));
    } catch {
      return [];
    }
  }

  /** Branch heads under `prefix` (`refs/heads/reflex/`), by ref. */
  async refs(prefix: string): Promise<Map<string, string>> {
    try {
      const lines = await this.git(['for-each-ref', '--format=%(refname) %(objectname)', prefix]);
      return new Map(
        lines
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ') as [string, string]),
      );
    } catch {
      return new Map();
    }
  }

  /** The tree object of a commit: equal trees gate alike. */
  async tree(sha: string): Promise<string | undefined> {
    try {
      return await this.git(['rev-parse', '--verify', `${sha}^{tree}`]);
    } catch {
      return undefined;
    }
  }

  private git(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        ['--git-dir', this.gitDir, ...args],
        { env: PLAIN_GIT_ENV, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout) => {
          if (err) reject(new Error(`git ${args[0] ?? ''}: ${err.message}`, { cause: err }));
          else resolve(stdout.trim());
        },
      );
    });
  }
}

function split(output: string): string[] {
  return output.split('\0').filter(Boolean);
}
