/** Durations, times and diff text for display. Pure, no DOM. */

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/** "just now", "5 min ago", "3 h ago", else the date. */
export function formatAgo(iso: string, now: Date = new Date()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const seconds = Math.round((now.getTime() - at) / 1000);
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(at).toISOString().slice(0, 10);
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

export function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline === -1 ? text : text.slice(0, newline);
}

export type DiffLineKind = 'add' | 'del' | 'context' | 'hunk' | 'note';

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
}

/** The lines of a unified diff worth showing (file headers dropped), with counts. */
export function parseUnifiedDiff(diff: string): {
  lines: DiffLine[];
  added: number;
  removed: number;
} {
  const lines: DiffLine[] = [];
  let added = 0;
  let removed = 0;
  let inHunk = false;
  for (const raw of diff.split('\n')) {
    if (raw.startsWith('@@')) {
      inHunk = true;
      lines.push({ kind: 'hunk', text: raw });
    } else if (!inHunk) {
      continue;
    } else if (raw.startsWith('+')) {
      added++;
      lines.push({ kind: 'add', text: raw });
    } else if (raw.startsWith('-')) {
      removed++;
      lines.push({ kind: 'del', text: raw });
    } else if (raw.startsWith('\\')) {
      lines.push({ kind: 'note', text: raw });
    } else if (raw.startsWith(' ')) {
      lines.push({ kind: 'context', text: raw });
    }
  }
  return { lines, added, removed };
}
