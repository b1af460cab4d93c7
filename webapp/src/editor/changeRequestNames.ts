/**
 * What a change request's names and texts may be: its branch `reflex/<author>/<slug>` (the
 * slug from its title, also a preview's host name), its title and its description. Anything
 * else is refused with what was wrong, before git or a backend is asked.
 */
import { DomainError } from '../errors';

/** `reflex/<author>/<slug>`, as the previews of the loop recognise it. */
const PART = /^[a-z0-9][a-z0-9._-]{0,39}$/;
const SLUG = /^[a-z0-9][a-z0-9-]{0,39}$/;
const MAX_TITLE = 200;
const MAX_DESCRIPTION = 10_000;

/** Refuses a user name that cannot be the `<author>` part of a branch. */
export function checkAuthorName(username: string): void {
  if (!PART.test(username)) {
    throw new DomainError(
      'invalid_request',
      `the user name ${username} cannot name a branch (a-z, 0-9, ".", "_", "-"; at most 40)`,
    );
  }
}

/** The branch of a change request, from its id's two parts; refuses anything else. */
export function branchOf(user: string, slug: string): string {
  if (!PART.test(user) || !SLUG.test(slug)) {
    throw new DomainError('invalid_request', `no change request ${user}/${slug}: not a valid id`);
  }
  return `reflex/${user}/${slug}`;
}

/** `{user, slug}` of a change request's branch, or undefined for any other branch. */
export function partsOf(branch: string): { user: string; slug: string } | undefined {
  const [prefix, user, slug, ...rest] = branch.split('/');
  if (prefix !== 'reflex' || rest.length > 0 || !user || !slug) return undefined;
  if (!PART.test(user) || !SLUG.test(slug) || slug === 'editor') return undefined;
  return { user, slug };
}

/** A slug from a title: lower-case words joined by `-`, short enough for a host name. */
export function slugify(title: string): string {
  const slug = title
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  // `editor` would be the editor's own host name.
  return !slug || slug === 'editor' ? 'change' : slug;
}
/** A title, trimmed; refuses an empty one. */
export function checkTitle(value: string): string {
  const title = checkText('title', value, MAX_TITLE);
  if (!title) throw new DomainError('invalid_request', 'title: must not be empty');
  return title;
}

/** A description, trimmed (may be empty). */
export function checkDescription(value: string): string {
  return checkText('description', value, MAX_DESCRIPTION);
}

function checkText(field: string, value: string, max: number): string {
  const text = value.trim();
  if (text.length > max || text.includes('\u0000') || !text.isWellFormed()) {
    throw new DomainError('invalid_request', `${field}: must be text of at most ${max} characters`);
  }
  return text;
}
