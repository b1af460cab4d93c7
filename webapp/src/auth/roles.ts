/**
 * Who may do what, by role: `viewer` reads; `author` changes the site's content; `developer`
 * also its code and tests; `admin` also manages accounts and may roll back across protected
 * paths. The path rules themselves are in editor/policy.ts.
 */
import type { Role } from '../api/contract';

export type { Role } from '../api/contract';

/** Every role, from the least to the most trusted. */
export const ROLES = ['viewer', 'author', 'developer', 'admin'] as const satisfies readonly Role[];

/** Roles written by earlier versions, and what they are now (`editor` could change any file). */
const LEGACY_ROLES: Record<string, Role> = { editor: 'developer' };
export type LegacyRole = 'editor';

/** The role a users file names, with earlier versions' names mapped; undefined if unknown. */
export function parseRole(value: string): Role | undefined {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  return LEGACY_ROLES[value];
}

export function canWrite(role: Role): boolean {
  return role !== 'viewer';
}
