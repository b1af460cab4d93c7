/**
 * Minimal glob matching for repository paths (always `/`-separated, no leading `/`):
 * `**` matches any number of whole segments (including none), `*` any run of characters
 * within a segment, `?` one character within a segment. Everything else is literal.
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string, options: { ignoreCase?: boolean } = {}): RegExp {
  const key = `${options.ignoreCase ? 'i' : 's'}:${glob}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      const atStart = i === 0 || glob[i - 1] === '/';
      const atEnd = i + 2 === glob.length || glob[i + 2] === '/';
      if (atStart && atEnd) {
        // `**/` -> any leading segments; trailing `/**` -> everything below.
        if (i + 2 === glob.length) source += '.*';
        else {
          source += '(?:[^/]+/)*';
          i++; // skip the slash after `**`
        }
        i++;
        continue;
      }
      source += '[^/]*';
      i++;
      continue;
    }
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const regexp = new RegExp(`^${source}$`, options.ignoreCase ? 'i' : '');
  cache.set(key, regexp);
  return regexp;
}

export function matchesGlob(
  path: string,
  glob: string,
  options: { ignoreCase?: boolean } = {},
): boolean {
  return globToRegExp(glob, options).test(path);
}
