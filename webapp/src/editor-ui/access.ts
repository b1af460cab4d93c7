/**
 * Who may change what, as the editor shows it. The server decides every write; this only
 * explains its answers before the user tries: the lock and reason on each file, and whether
 * the editable scope reaches beyond the site. Pure, no DOM.
 */
import type { Role } from './api';
import type { TreeFile } from './tree';

/** Whether the signed-in user may change a file, and if not, why. */
export interface Access {
  editable: boolean;
  reason?: string;
}

/** The folder the site's files live in: the default editable scope. */
export const SITE_FOLDER = 'webapp/site/';

export const VIEWER_REASON = 'you are signed in as a viewer';
const OUTSIDE_SCOPE = 'outside the editable scope';

/** Every role but `viewer` may change something; which paths, the server says per file. */
export function canWrite(role: Role): boolean {
  return role !== 'viewer';
}

/**
 * Whether `role` may change the file the tree lists as `file`, and if not, why. A viewer's
 * reason is their role, whatever the file; otherwise the server's verdict on the path (which
 * already accounts for the role when the server lists files per role).
 */
export function fileAccess(file: TreeFile | undefined, role: Role): Access {
  if (!canWrite(role)) return { editable: false, reason: VIEWER_REASON };
  if (file?.editable) return { editable: true };
  return { editable: false, reason: file?.reason ?? OUTSIDE_SCOPE };
}

/**
 * The globs of the editable scope that reach beyond the site's folder, i.e. into the platform
 * (the editor, its API, the build and tests). Empty for the default scope.
 */
export function beyondSite(editable: readonly string[]): string[] {
  return editable.filter((glob) => !glob.toLowerCase().startsWith(SITE_FOLDER));
}

/**
 * Whether the editable scope reaches the platform: what the server says (`wideScope`), or,
 * from a server that does not say, whether a glob reaches beyond the site.
 */
export function isWideScope(settings: { editable: readonly string[]; wideScope?: boolean }) {
  return settings.wideScope ?? beyondSite(settings.editable).length > 0;
}
