/**
 * Change requests on one machine: the branches are the origin's, and what git cannot hold
 * (title, description, author, status, the merge commit) is a JSON file in the platform's state
 * folder, rewritten whole under a lock so that several instances can share it. Publishing is a
 * merge commit pushed to the deploy branch, which the local pipeline then takes like any save;
 * the branch is deleted afterwards, which stops its preview.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DomainError } from '../errors';
import { withFileLock, writeAtomically } from '../files';
import type { WorkspaceSource } from '../git/clone';
import type {
  ChangeRequestBackend,
  ChangeRequestRecord,
  PublishRequest,
} from './changeRequestBackend';

type Records = Record<string, ChangeRequestRecord>;

export class LocalChangeRequests implements ChangeRequestBackend {
  readonly kind = 'local' as const;
  private memory: Records = {};
  private readonly file: string | undefined;

  constructor(
    private readonly workspace: WorkspaceSource,
    stateDir: string | undefined,
    private readonly maxPushAttempts = 5,
  ) {
    this.file = stateDir ? path.join(stateDir, 'change-requests.json') : undefined;
  }

  open(record: ChangeRequestRecord): Promise<ChangeRequestRecord> {
    return this.change((records) => {
      records[record.branch] = record;
      return record;
    });
  }

  async list(): Promise<ChangeRequestRecord[]> {
    return Object.values(await this.read()).filter((r) => r.status === 'open');
  }

  async get(branch: string): Promise<ChangeRequestRecord | undefined> {
    return (await this.read())[branch];
  }

  update(
    branch: string,
    change: { title?: string | undefined; description?: string | undefined },
  ): Promise<ChangeRequestRecord> {
    return this.change((records) => {
      const record = records[branch];
      if (!record) throw new DomainError('not_found', `no change request ${branch}`);
      if (change.title !== undefined) record.title = change.title;
      if (change.description !== undefined) record.description = change.description;
      return record;
    });
  }

  async publish({ record, head, by }: PublishRequest): Promise<{ commit: string }> {
    const workspace = this.workspace.current();
    const commit = await workspace.exclusive(async () => {
      for (let attempt = 1; attempt <= this.maxPushAttempts; attempt++) {
        const main = await workspace.fetch();
        const merged = await workspace.merges.trees(main, head);
        if (!merged.tree) {
          throw new DomainError(
            'conflict',
            `${record.branch} conflicts with ${workspace.branch} in ${merged.conflicts.join(', ')}: save those files on the change request again, then publish`,
            { details: { paths: merged.conflicts } },
          );
        }
        const commit = await workspace.commits.ofTree(
          merged.tree,
          [main, head],
          { name: by.name, email: by.email },
          `Publish change request: ${record.title}\n\nChange-Request: ${record.branch}\nAuthor: ${record.author}\nPublished in the Reflex editor by ${by.username}.\n`,
        );
        if ((await workspace.push(commit)).ok) {
          // The branch is done with; a commit pushed to it meanwhile keeps it (the lease).
          await workspace.deleteBranch(record.branch, head);
          return commit;
        }
      }
      throw new DomainError(
        'push_contention',
        `could not publish after ${this.maxPushAttempts} attempts: ${workspace.branch} keeps moving`,
      );
    });
    await this.change((records) => {
      records[record.branch] = { ...record, status: 'published', mergeCommit: commit };
    });
    return { commit };
  }

  async close(branch: string): Promise<void> {
    const workspace = this.workspace.current();
    await workspace.exclusive(async () => {
      const head = await workspace.fetchBranch(branch);
      if (head) {
        const deleted = await workspace.deleteBranch(branch, head);
        if (!deleted.ok) {
          throw new DomainError('conflict', `${branch} moved while closing it: ${deleted.detail}`);
        }
      }
    });
    await this.change((records) => {
      const record = records[branch];
      if (record) record.status = 'closed';
    });
  }

  private async read(): Promise<Records> {
    if (!this.file) return this.memory;
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Records;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
  }

  /** Read, change and write the records as one step (under the lock when on disk). */
  private async change<T>(edit: (records: Records) => T): Promise<T> {
    const file = this.file;
    if (!file) return edit(this.memory);
    return withFileLock(`${file}.lock`, async () => {
      const records = await this.read();
      const result = edit(records);
      writeAtomically(file, JSON.stringify(records, null, 2) + '\n', { mode: 0o600 });
      return result;
    });
  }
}
