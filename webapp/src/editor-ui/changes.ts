/**
 * Change requests as the editor sees them: where a save goes (the deploy branch or the change
 * request open in the workbench), what a change request's row says, and what a refused
 * publish means. Pure, no DOM.
 */
import type { ChangeRequest, EditorSettings, ErrorBody } from '../api/contract';
import type { Message } from './messages';

/** Where the workbench reads and saves files: the deploy branch, or one change request. */
export type Target = { kind: 'branch'; branch: string } | { kind: 'change'; change: ChangeRequest };

export function targetBranch(target: Target): string {
  return target.kind === 'branch' ? target.branch : target.change.branch;
}

/** What drafts and remembered tabs are kept under: a change request's are its own. */
export function workScope(username: string, change?: ChangeRequest): string {
  return change ? `${username}@${change.branch}` : username;
}

/** The page's address names the change request it is on (`#change=<user>/<slug>`): a reload stays. */
export function changeHash(change: ChangeRequest | undefined): string {
  return change ? `#change=${change.id}` : '';
}

/** The open change request the address names, if it is still open. */
export function changeFromHash(hash: string, changes: ChangeRequest[]): ChangeRequest | undefined {
  const id = /^#change=([^/#]+\/[^/#]+)$/.exec(hash)?.[1];
  return id === undefined ? undefined : changes.find((c) => c.id === id && c.status === 'open');
}

/** The API prefix of the target's files: `/api/` or `/api/changes/<user>/<slug>/`. */
export function filesRoot(target: Target): string {
  if (target.kind === 'branch') return '/api/';
  const [user = '', slug = ''] = target.change.id.split('/');
  return `/api/changes/${encodeURIComponent(user)}/${encodeURIComponent(slug)}/`;
}

/**
 * Whether a save may go where the workbench is: always into a change request; onto the deploy
 * branch only for a user who may save there and whose saves go there by default.
 */
export function saveAllowed(settings: EditorSettings, target: Target): boolean {
  if (target.kind === 'change') return true;
  return settings.directSaves && settings.saveTarget === 'direct';
}

/** What a save outside a change request says when it has to go into one. */
export function changeRequestNeeded(settings: EditorSettings): Message {
  return {
    kind: 'info',
    title: 'Your changes go into a change request.',
    detail: settings.directSaves
      ? `Open one (or create one) to save there; a publisher then brings it into ${settings.branch}.`
      : `You may not save to ${settings.branch} directly. Open a change request (or create one); a publisher brings it into ${settings.branch}.`,
  };
}

const CHECKS: Record<NonNullable<ChangeRequest['checks']>, string> = {
  pending: 'checks running',
  success: 'checks passed',
  failure: 'checks failed',
  error: 'checks errored',
};

const REVIEW: Record<NonNullable<ChangeRequest['review']>, string> = {
  approved: 'approved',
  changes_requested: 'changes requested',
  commented: 'commented',
  none: 'not reviewed',
};

export interface ChangeRow {
  title: string;
  /** `by <author> · 2 files` */
  byline: string;
  files: string;
  /** The preview's state, with why it failed when it did; '' when there is none to speak of. */
  preview: string;
  previewFailed: boolean;
  /** Checks and review (GitHub); '' on one machine. */
  github: string;
}

export function changeRow(change: ChangeRequest): ChangeRow {
  const count = change.files.length;
  const preview = change.preview;
  const github = [
    change.checks ? CHECKS[change.checks] : '',
    change.review ? REVIEW[change.review] : '',
  ].filter((part) => part !== '');
  return {
    title: change.title,
    byline: `by ${change.author} · ${count === 1 ? '1 file' : `${count} files`} · ${change.status}`,
    files: change.files.join(', '),
    preview: preview
      ? `preview ${preview.state}${preview.error ? `: ${preview.error}` : ''}`
      : change.previewUrl
        ? 'preview'
        : '',
    previewFailed: preview?.state === 'failed',
    github: github.join(' · '),
  };
}

/** The open change requests, the user's own first, then the newest title order of the server. */
export function openChanges(changes: ChangeRequest[], username: string): ChangeRequest[] {
  const open = changes.filter((c) => c.status === 'open');
  return [
    ...open.filter((c) => c.author === username),
    ...open.filter((c) => c.author !== username),
  ];
}

/** Who may close one: its author, or a publishing role. */
export function canClose(change: ChangeRequest, username: string, canPublish: boolean): boolean {
  return change.status === 'open' && (canPublish || change.author === username);
}

/** A refused publish or close, in words: the server's reason, never just a status. */
export function changeRefusal(
  doing: 'publish' | 'close',
  change: ChangeRequest,
  status: number,
  body: ErrorBody,
): Message {
  const why = body.error ?? `HTTP ${status}`;
  const verb = doing === 'publish' ? 'published' : 'closed';
  const hint =
    status === 403
      ? 'Your role may not do this; ask someone who may publish.'
      : status === 409
        ? 'Bring the change request up to date (or resolve what the reason says), then try again.'
        : undefined;
  return {
    kind: 'error',
    title: `“${change.title}” was not ${verb}: ${why}`,
    ...(hint ? { detail: hint } : {}),
  };
}

/** A slug-safe check of a title before it is sent: the server has the last word. */
export function titleProblem(title: string): string | undefined {
  if (title.trim() === '') return 'Give the change request a title.';
  if (title.length > 200) return 'The title is too long (200 characters at most).';
  return undefined;
}
