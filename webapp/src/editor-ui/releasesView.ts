/**
 * The releases view: the pipeline's history (`GET /api/releases`) with each release's outcome
 * and stage timings, and — for editors — a rollback to a release that once served, after a
 * confirmation naming the files it changes (when the server says). A rollback is a revert commit on the branch, which then goes through the
 * pipeline like any save.
 */
import type { ReleaseRecord } from '../pipeline/types';
import { ApiError, api } from './api';
import type { Message } from './messages';
import { confirmDialog, panelDialog } from './dialogs';
import { h, replaceChildren } from './dom';
import { firstLine, formatAgo, formatDuration, shortSha } from './format';
import {
  canRollback,
  outcomeLabel,
  rolledBackMessage,
  rollbackChanges,
  stageTimings,
  totalDurationMs,
  type RollbackChanges,
} from './releases';

export interface ReleasesViewDeps {
  /** Whether the user's role may roll back (the server decides each rollback). */
  canRollBack: boolean;
  branch: string;
  /** A rollback commit was pushed. */
  onRolledBack: (release: ReleaseRecord, commit: string) => void;
}

/** The releases view from the top bar: a rollback is announced, then followed like a save. */
export function showReleases(deps: {
  canRollBack: boolean;
  branch: string;
  notify: (message: Message) => void;
  committed: (sha: string, title: string) => void;
}): Promise<void> {
  return openReleases({
    ...deps,
    onRolledBack: (release, commit) => {
      deps.notify(rolledBackMessage(release.sha, commit, deps.branch));
      deps.committed(commit, `Roll back to ${shortSha(release.sha)}`);
    },
  });
}

export function openReleases(deps: ReleasesViewDeps): Promise<void> {
  return panelDialog('releases', 'Releases', (body, close) => {
    const load = async () => {
      replaceChildren(
        body,
        h('p', { class: 'muted', text: 'Loading releases…', attrs: { role: 'status' } }),
      );
      try {
        const { releases } = await api.releases();
        replaceChildren(body, ...renderReleases(releases, deps, close));
      } catch (err) {
        const text =
          err instanceof ApiError && err.status === 404
            ? 'No release history: the pipeline is not running on this instance.'
            : `Releases could not be loaded: ${err instanceof Error ? err.message : String(err)}`;
        replaceChildren(
          body,
          h('p', { class: 'callout', text, attrs: { role: 'status' } }),
          h('button', {
            class: 'button small',
            text: 'Try again',
            attrs: { type: 'button' },
            on: { click: () => void load() },
          }),
        );
      }
    };
    void load();
  });
}

function renderReleases(
  releases: ReleaseRecord[],
  deps: ReleasesViewDeps,
  close: () => void,
): Node[] {
  if (releases.length === 0) return [h('p', { class: 'muted', text: 'No releases yet.' })];
  const editor = deps.canRollBack;
  const problem = h('p', { class: 'callout error', attrs: { role: 'alert', hidden: true } });
  const rows = releases.map((release) => {
    const total = totalDurationMs(release);
    const action =
      editor && canRollback(release)
        ? h('button', {
            class: 'button small',
            text: 'Roll back to this',
            attrs: { type: 'button', 'aria-label': `Roll back to ${shortSha(release.sha)}` },
            on: {
              click: () => void rollback(release, deps, problem, close),
            },
          })
        : null;
    return h(
      'tr',
      {
        class: release.live ? 'release live' : 'release',
        attrs: { 'data-sha': release.sha, 'data-outcome': release.outcome },
      },
      h(
        'td',
        {},
        h('code', { text: shortSha(release.sha) }),
        ' ',
        h('span', { class: 'release-message', text: firstLine(release.message) }),
      ),
      h('td', { text: release.author }),
      h(
        'td',
        {},
        h('time', {
          text: formatAgo(release.committedAt),
          attrs: { datetime: release.committedAt },
        }),
      ),
      h(
        'td',
        {},
        h('span', {
          class: `badge outcome-${release.live ? 'live' : release.outcome}`,
          text: outcomeLabel(release),
        }),
      ),
      h(
        'td',
        { class: 'timings' },
        stageTimings(release),
        total !== undefined
          ? h('span', { class: 'muted', text: ` (total ${formatDuration(total)})` })
          : null,
      ),
      editor ? h('td', {}, action) : null,
    );
  });
  return [
    editor
      ? h('p', {
          class: 'muted',
          text: `Rolling back makes a revert commit on ${deps.branch} that restores that release's files; it then goes through the pipeline.`,
        })
      : h('p', { class: 'muted', text: 'You can see the releases; only editors can roll back.' }),
    problem,
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'release-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { text: 'Release', attrs: { scope: 'col' } }),
            h('th', { text: 'Author', attrs: { scope: 'col' } }),
            h('th', { text: 'Committed', attrs: { scope: 'col' } }),
            h('th', { text: 'Outcome', attrs: { scope: 'col' } }),
            h('th', { text: 'Stages', attrs: { scope: 'col' } }),
            editor
              ? h(
                  'th',
                  { attrs: { scope: 'col' } },
                  h('span', { class: 'sr-only', text: 'Actions' }),
                )
              : null,
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    ),
  ];
}

async function rollback(
  release: ReleaseRecord,
  deps: ReleasesViewDeps,
  problem: HTMLElement,
  close: () => void,
): Promise<void> {
  // What the rollback would change, from a server that can say (older ones cannot).
  const preview = await api.rollbackPreview(release.sha).catch(() => undefined);
  const changes = preview && rollbackChanges(preview);
  if (changes?.refusal) {
    problem.hidden = false;
    problem.textContent = `You cannot roll back to ${shortSha(release.sha)}: ${changes.refusal}.`;
    return;
  }
  const ok = await confirmDialog({
    title: `Roll back to ${shortSha(release.sha)}?`,
    body: [
      `“${firstLine(release.message)}” by ${release.author}.`,
      `A revert commit restoring this release's files is pushed to ${deps.branch}; the pipeline then tests, builds and ships it like any save.`,
      ...(changes ? changedPaths(changes) : []),
    ],
    confirmLabel: 'Roll back',
    danger: true,
  });
  if (!ok) return;
  try {
    const { commit } = await api.rollback(release.sha);
    close();
    deps.onRolledBack(release, commit);
  } catch (err) {
    problem.hidden = false;
    const reason = err instanceof ApiError ? err.body.reason : undefined;
    const said = err instanceof Error ? err.message : String(err);
    problem.textContent = `Rollback refused: ${said}${reason ? ` (${reason})` : ''}`;
  }
}

function changedPaths(changes: RollbackChanges): Node[] {
  return [
    h('p', { text: changes.summary }),
    h(
      'ul',
      { class: 'rollback-paths' },
      ...changes.paths.map(({ path, protectedPath }) =>
        h(
          'li',
          { attrs: { 'data-protected': protectedPath ? 'true' : undefined } },
          h('code', { text: path }),
          protectedPath ? ' (protected)' : null,
        ),
      ),
      changes.more > 0 ? h('li', { class: 'muted', text: `and ${changes.more} more` }) : null,
    ),
  ];
}
