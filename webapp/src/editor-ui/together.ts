/**
 * Several people at once, as the editor sees it: who else has a file open (from the event
 * stream's `presence`), what this page reports as open (`PUT /api/presence`), who made the
 * commits a save was merged with (from `saved`), and what a clean three-way merge says.
 * Pure, no DOM.
 */
import type { OpenFile, PresenceEntry, SaveResult, SavedEvent } from '../api/contract';
import { shortSha } from './format';
import type { Message } from './messages';
import type { TabsState } from './tabs';

export interface Other {
  user: string;
  name: string;
  dirty: boolean;
  /** The branch they have it open on, when it is not `branch` (e.g. their change request). */
  elsewhere?: string;
}

/**
 * Everyone but `me` who has `path` open, once each: on `branch` first (unsaved changes win),
 * else on another branch (a change request touching the same file).
 */
export function othersOn(
  files: readonly PresenceEntry[],
  me: string,
  path: string,
  branch: string,
): Other[] {
  const byUser = new Map<string, Other>();
  for (const f of files) {
    if (f.user === me || f.path !== path) continue;
    const seen = byUser.get(f.user);
    const here = f.branch === branch;
    if (seen && seen.elsewhere === undefined && !here) continue;
    const dirty = f.dirty || (!!seen?.dirty && (seen.elsewhere === undefined) === here);
    byUser.set(f.user, {
      user: f.user,
      name: f.name || f.user,
      dirty,
      ...(here ? {} : { elsewhere: f.branch }),
    });
  }
  return [...byUser.values()].sort((a, b) => a.user.localeCompare(b.user));
}

/** The line the workbench shows for the active file; '' when nobody else has it open. */
export function presenceText(others: readonly Other[]): string {
  if (others.length === 0) return '';
  const names = others.map((o) => {
    const notes = [o.dirty ? 'unsaved changes' : '', o.elsewhere ? `on ${o.elsewhere}` : ''];
    const said = notes.filter((n) => n !== '').join(', ');
    return said ? `${o.name} (${said})` : o.name;
  });
  return `Also open by ${names.join(', ')}`;
}

/** What this page has open, as `PUT /api/presence` takes it. */
export function openFiles(state: TabsState, branch: string): OpenFile[] {
  return state.tabs.map((t) => ({ path: t.path, branch, dirty: t.dirty }));
}

/** Whether two reports say the same (a report that changes nothing is not sent). */
export function sameReport(a: readonly OpenFile[], b: readonly OpenFile[]): boolean {
  return (
    a.length === b.length &&
    a.every((f, i) => f.path === b[i]?.path && f.branch === b[i]?.branch && f.dirty === b[i]?.dirty)
  );
}

/** Who made which commit, from the `saved` events seen (the newest few). */
export class SavedBy {
  private readonly users = new Map<string, string>();

  constructor(private readonly limit = 200) {}

  add(event: SavedEvent): void {
    this.users.set(event.commit, event.user);
    if (this.users.size > this.limit) {
      const oldest = this.users.keys().next().value;
      if (oldest !== undefined) this.users.delete(oldest);
    }
  }

  user(commit: string): string | undefined {
    return this.users.get(commit);
  }
}

/** A save merged three-way with a change made meanwhile: say with whose, and that it is in. */
export function mergedMessage(
  path: string,
  merged: NonNullable<SaveResult['merged']>,
  commit: string,
  savedBy: (commit: string) => string | undefined,
): Message {
  const who = savedBy(merged.theirs);
  const theirs = who ? `${who}'s change` : `the change in ${shortSha(merged.theirs)}`;
  return {
    kind: 'success',
    title: `Saved ${path} as ${shortSha(commit)}: merged with ${theirs}.`,
    detail:
      'The file had changed since you opened it, in other lines than yours: both changes are in, and the editor now shows the merged text.',
  };
}

/**
 * A save by someone else to a file this page has open: on its branch, or on the deploy branch
 * (`deployBranch`) under a change request this page has it open in, which its next save takes in.
 */
export function savedElsewhere(
  event: SavedEvent,
  me: string,
  open: readonly OpenFile[],
  deployBranch?: string,
): Message | undefined {
  if (event.user === me) return undefined;
  const here = open.find((f) => f.path === event.path && f.branch === event.branch);
  const under =
    event.branch === deployBranch
      ? open.find((f) => f.path === event.path && f.branch !== deployBranch)
      : undefined;
  if (here) {
    return {
      kind: 'info',
      title: `${event.user} saved ${event.path} (${shortSha(event.commit)}).`,
      detail: 'Your next save merges with it when your changes are in other lines.',
    };
  }
  if (under) {
    return {
      kind: 'info',
      title: `${event.user} saved ${event.path} on ${event.branch} (${shortSha(event.commit)}).`,
      detail: `Your next save takes it into ${under.branch}, merged with yours when your changes are in other lines.`,
    };
  }
  return undefined;
}
