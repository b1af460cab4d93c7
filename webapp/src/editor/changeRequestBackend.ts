/**
 * Where change requests live: one interface, two implementations (like the pipeline
 * tracker): on one machine, branches of the origin and the platform's state
 * (localChangeRequests.ts); on GitHub, pull requests (githubChangeRequests.ts).
 */
import type { ChangeRequest, ChecksState, ReviewState } from '../api/contract';
import type { EditorUser } from './service';

/** What a backend keeps of a change request; files and preview come from git and the config. */
export interface ChangeRequestRecord {
  branch: string;
  title: string;
  description: string;
  author: string;
  status: ChangeRequest['status'];
  url: string | null;
  checks: ChecksState | null;
  review: ReviewState | null;
  mergeCommit?: string;
}

/** A merge the backend was asked to make, and the commit it made. */
export interface PublishRequest {
  record: ChangeRequestRecord;
  /** The branch's head the checks were made on: nothing newer may be merged unchecked. */
  head: string;
  by: EditorUser;
}

export interface ChangeRequestBackend {
  readonly kind: 'local' | 'github';
  /** Records a change request whose branch was just pushed. */
  open(record: ChangeRequestRecord, by: EditorUser): Promise<ChangeRequestRecord>;
  /** The open change requests. */
  list(): Promise<ChangeRequestRecord[]>;
  /** One change request (open or not), or undefined. */
  get(branch: string): Promise<ChangeRequestRecord | undefined>;
  update(
    branch: string,
    change: { title?: string | undefined; description?: string | undefined },
  ): Promise<ChangeRequestRecord>;
  /** Merges the branch into the deploy branch; refusals are DomainErrors saying why. */
  publish(request: PublishRequest): Promise<{ commit: string }>;
  /** Closes it unmerged. */
  close(branch: string, by: EditorUser): Promise<void>;
}
