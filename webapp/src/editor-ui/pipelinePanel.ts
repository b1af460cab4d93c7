/**
 * The pipeline panel: follows `GET /api/pipeline/events` (Server-Sent Events, through
 * pipelineStream.ts) and shows the stages of the commit the user just saved — or the newest
 * run — as they happen, with the log excerpt of a failed stage. Once `/version` reports the
 * saved commit, it tells the workbench, which takes the user to the updated app unless the
 * setting says not to.
 *
 * Without a pipeline (the stream answers 404) the panel says so and everything else keeps
 * working. A stream that ends or is refused otherwise is followed again (`reconnecting…`).
 */
import { api } from './api';
import { h, replaceChildren, srOnly } from './dom';
import { firstLine, formatDuration, shortSha } from './format';
import {
  applyEvent,
  emptyPipeline,
  parseStageEvent,
  recentRuns,
  runOf,
  sameCommit,
  type PipelineState,
  type Run,
  type StageView,
} from './pipeline';
import { PipelineStream, type Connection } from './pipelineStream';
import { saveSettings, type Settings, type StorageLike } from './storage';
import type { StreamEvent } from './stream';

export interface Followed {
  sha: string;
  /** What the commit did, for the panel's heading. */
  title: string;
  /** Where to take the user once it is live (an absolute URL on the site). */
  target: string;
}

const VERSION_POLL_MS = 1000;
const VERSION_POLL_LIMIT_MS = 15 * 60 * 1000;

const STAGE_ICONS: Record<StageView['state'], string> = {
  pending: '○',
  running: '◐',
  succeeded: '✓',
  failed: '✕',
  skipped: '–',
};

export class PipelinePanel {
  readonly element = h('section', {
    class: 'panel pipeline',
    attrs: { 'aria-labelledby': 'pipeline-heading' },
  });
  private readonly status = h('p', { class: 'pipeline-connection' });
  private readonly body = h('div', { class: 'pipeline-body', attrs: { 'aria-live': 'polite' } });
  private state: PipelineState = emptyPipeline();
  private connection: Connection = 'connecting';
  private readonly stream = new PipelineStream({
    onConnection: (connection) => this.setConnection(connection),
    onEvent: (event) => this.received(event),
  });
  private followed: Followed | undefined;
  private liveSha: string | undefined;
  private pollTimer: number | undefined;
  private pollStarted = 0;
  private disposed = false;

  constructor(
    private readonly settings: Settings,
    private readonly storage: StorageLike,
    private readonly onLive: (followed: Followed) => void,
    /** Every event of the stream, also the ones this panel does not show (`presence`, `saved`). */
    private readonly onEvent: (event: StreamEvent) => void = () => undefined,
  ) {
    const toggle = h('input', {
      attrs: { type: 'checkbox', id: 'follow-deploy' },
      on: {
        change: () => {
          this.settings.followDeploy = toggle.checked;
          saveSettings(this.storage, this.settings);
        },
      },
    });
    toggle.checked = settings.followDeploy;
    this.element.append(
      h(
        'div',
        { class: 'panel-head' },
        h('h2', { text: 'Pipeline', attrs: { id: 'pipeline-heading' } }),
        this.status,
      ),
      this.body,
      h(
        'label',
        { class: 'check', attrs: { for: 'follow-deploy' } },
        toggle,
        ' Take me to the updated app when it is live',
      ),
    );
    this.render();
  }

  connect(): void {
    this.stream.start();
  }

  private received(event: StreamEvent): void {
    this.onEvent(event);
    if (event.event !== 'stage') return;
    const parsed = parseStageEvent(event.data);
    if (!parsed) return;
    const next = applyEvent(this.state, parsed);
    if (next === this.state) return;
    this.state = next;
    if (this.followed && sameCommit(parsed.sha, this.followed.sha) && parsed.stage === 'live')
      void this.checkVersion();
    this.render();
  }

  /** Whether the user wants to be taken to the updated app (the panel's setting). */
  get followsDeploys(): boolean {
    return this.settings.followDeploy;
  }

  /** Shows the run of a commit the user just made and watches for it to go live. */
  follow(followed: Followed): void {
    this.followed = followed;
    this.liveSha = undefined;
    this.render();
    this.stopPolling();
    this.pollStarted = Date.now();
    void this.checkVersion();
  }

  dispose(): void {
    this.disposed = true;
    this.stream.stop();
    this.stopPolling();
  }

  private setConnection(connection: Connection): void {
    this.connection = connection;
    this.render();
  }

  private async checkVersion(): Promise<void> {
    const followed = this.followed;
    if (!followed || this.disposed || this.liveSha === followed.sha) return;
    this.stopPolling();
    try {
      const version = await api.version();
      if (this.followed !== followed) return;
      if (sameCommit(version.sha, followed.sha)) {
        this.liveSha = followed.sha;
        this.render();
        this.onLive(followed);
        return;
      }
    } catch {
      // Between two releases /version may briefly fail; the next poll tells.
    }
    const run = runOf(this.state, followed.sha);
    const keepPolling =
      this.connection !== 'unavailable' &&
      run.state !== 'failed' &&
      Date.now() - this.pollStarted < VERSION_POLL_LIMIT_MS;
    if (keepPolling && !this.disposed) {
      this.pollTimer = window.setTimeout(() => void this.checkVersion(), VERSION_POLL_MS);
    }
  }

  private stopPolling(): void {
    if (this.pollTimer !== undefined) window.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private render(): void {
    this.status.textContent = {
      connecting: 'connecting…',
      connected: 'following',
      reconnecting: 'reconnecting…',
      unavailable: 'not connected',
    }[this.connection];
    this.status.dataset.connection = this.connection;

    const runs = recentRuns(this.state);
    const shown = this.followed ? runOf(this.state, this.followed.sha) : runs[0];
    const content: (Node | null)[] = [];
    if (this.connection === 'unavailable') {
      content.push(
        h('p', {
          class: 'muted',
          text: 'No pipeline is connected to this editor, so stages cannot be shown. Saved commits are on the branch all the same.',
        }),
        h('button', {
          class: 'button small',
          text: 'Try again',
          attrs: { type: 'button' },
          on: { click: () => this.connect() },
        }),
      );
    }
    if (shown && this.connection === 'unavailable') {
      if (this.followed)
        content.push(
          h(
            'p',
            { class: 'run-title' },
            h('code', { text: shortSha(this.followed.sha) }),
            ` ${firstLine(this.followed.title)}: on the branch.`,
          ),
        );
    } else if (shown) content.push(this.renderRun(shown));
    else if (this.connection !== 'unavailable')
      content.push(
        h('p', { class: 'muted', text: 'No pipeline runs yet. Save a file to start one.' }),
      );
    const others = runs.filter((r) => r.sha !== shown?.sha).slice(0, 4);
    if (others.length > 0) {
      content.push(
        h(
          'ul',
          { class: 'run-list', attrs: { 'aria-label': 'Other recent runs' } },
          ...others.map((r) =>
            h(
              'li',
              { class: `run-${r.state}` },
              h('code', { text: shortSha(r.sha) }),
              ` ${r.state}`,
            ),
          ),
        ),
      );
    }
    replaceChildren(this.body, ...content);
  }

  private renderRun(run: Run): HTMLElement {
    const followed =
      this.followed && sameCommit(this.followed.sha, run.sha) ? this.followed : undefined;
    const isLive = this.liveSha !== undefined && sameCommit(this.liveSha, run.sha);
    const state = isLive ? 'live' : run.state;
    return h(
      'div',
      { class: `run run-${state}`, attrs: { 'data-sha': run.sha, 'data-state': state } },
      h(
        'p',
        { class: 'run-title' },
        h('code', { text: shortSha(run.sha) }),
        ' ',
        followed ? firstLine(followed.title) : '',
      ),
      h(
        'ol',
        { class: 'stages' },
        ...run.stages.map((stage) =>
          h(
            'li',
            {
              class: `stage stage-${stage.state}`,
              attrs: { 'data-stage': stage.name, 'data-state': stage.state },
            },
            h('span', {
              class: 'stage-icon',
              text: STAGE_ICONS[stage.state],
              attrs: { 'aria-hidden': 'true' },
            }),
            h('span', { class: 'stage-name', text: stage.name }),
            srOnly(` ${stage.state}`),
            h('span', {
              class: 'stage-time',
              text: stage.durationMs !== undefined ? formatDuration(stage.durationMs) : '',
            }),
          ),
        ),
      ),
      run.failure ? this.renderFailure(run.failure) : null,
      isLive
        ? h('p', { class: 'run-live', text: `Live: the app now serves ${shortSha(run.sha)}.` })
        : null,
    );
  }

  private renderFailure(stage: StageView): HTMLElement {
    return h(
      'div',
      { class: 'failure' },
      h('p', {
        class: 'failure-title',
        text: `Failed at ${stage.name}. The previous version keeps serving.`,
      }),
      stage.log
        ? h(
            'pre',
            {
              class: 'log',
              attrs: { tabindex: 0, 'aria-label': `Log of the ${stage.name} stage` },
            },
            stage.log,
          )
        : null,
      stage.url
        ? h('a', {
            text: 'Full log',
            attrs: { href: stage.url, target: '_blank', rel: 'noopener noreferrer' },
          })
        : null,
    );
  }
}
