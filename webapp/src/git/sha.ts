/** What a commit id looks like: the one pattern every layer checks SHAs with. */

/** A full object id: SHA-1 (40 hex) or SHA-256 (64 hex). */
export const FULL_SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** An object id, possibly abbreviated (what `git rev-parse --short` prints, at least 7). */
export const ABBREVIATED_SHA = /^[0-9a-f]{7,64}$/;

export function isFullSha(value: string): boolean {
  return FULL_SHA.test(value);
}
