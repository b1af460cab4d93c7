/** The releases view's rules and wording. Pure, no DOM. */
import type { RollbackPreview } from '../api/contract';
import type { ReleaseOutcome, ReleaseRecord } from '../pipeline/types';
import { formatDuration, shortSha } from './format';
import type { Message } from './messages';

const OUTCOMES: Record<ReleaseOutcome, string> = {
  queued: 'queued',
  running: 'in progress',
  live: 'live',
  failed: 'failed',
  superseded: 'skipped (a newer commit came)',
  retired: 'was live',
  restored: 'restored',
};

export function outcomeLabel(release: ReleaseRecord): string {
  if (release.live) return 'live';
  return OUTCOMES[release.outcome] ?? release.outcome;
}

/**
 * A release can be rolled back to when it once served and serves no more: rolling back to a
 * release that failed or never ran would ship something never proven to work.
 */
export function canRollback(release: ReleaseRecord): boolean {
  return !release.live && ['retired', 'restored', 'live'].includes(release.outcome);
}

/** "gate 1.2 s · build 3 s · …", in the order the stages ran. */
export function stageTimings(release: ReleaseRecord): string {
  return release.stages
    .map((s) => {
      const time =
        s.durationMs !== undefined
          ? formatDuration(s.durationMs)
          : s.outcome === 'running'
            ? 'running'
            : '';
      const failed = s.outcome === 'failed' ? ' (failed)' : '';
      return `${s.stage}${time ? ` ${time}` : ''}${failed}`;
    })
    .join(' · ');
}

/** Total time from the first stage's start to the last stage's end, when known. */
export function totalDurationMs(release: ReleaseRecord): number | undefined {
  const starts = release.stages.map((s) => Date.parse(s.startedAt)).filter(Number.isFinite);
  const ends = release.stages
    .map((s) => (s.endedAt ? Date.parse(s.endedAt) : NaN))
    .filter(Number.isFinite);
  if (starts.length === 0 || ends.length === 0) return undefined;
  return Math.max(...ends) - Math.min(...starts);
}

export interface RollbackChanges {
  summary: string;
  /** The first paths, protected ones first. */
  paths: { path: string; protectedPath: boolean }[];
  /** How many more there are. */
  more: number;
  /** Why this user may not run it, when they may not. */
  refusal?: string;
}

/** What the confirmation of a rollback says about the files it changes. */
export function rollbackChanges(preview: RollbackPreview, shown = 12): RollbackChanges {
  if (!preview.allowed) {
    return { summary: '', paths: [], more: 0, refusal: preview.reason ?? 'not allowed' };
  }
  const isProtected = new Set(preview.protectedPaths);
  const ordered = [...preview.paths].sort(
    (a, b) => Number(isProtected.has(b)) - Number(isProtected.has(a)),
  );
  const files = preview.paths.length === 1 ? '1 file' : `${preview.paths.length} files`;
  const guarded = isProtected.size > 0 ? `, ${isProtected.size} of them protected` : '';
  return {
    summary: `It changes ${files}${guarded}:`,
    paths: ordered.slice(0, shown).map((path) => ({ path, protectedPath: isProtected.has(path) })),
    more: Math.max(0, ordered.length - shown),
  };
}

/** What the editor says once a rollback's revert commit is on the branch. */
export function rolledBackMessage(sha: string, commit: string, branch: string): Message {
  return {
    kind: 'success',
    title: `Rolling back to ${shortSha(sha)}: revert commit ${shortSha(commit)} is on ${branch}.`,
    detail: 'It goes through the pipeline like any save.',
  };
}
