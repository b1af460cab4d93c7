/**
 * The change requests panel: the open ones (title, author, files, status, preview, and on
 * GitHub checks and review), and what can be done with one: open it to edit its files, publish
 * it (a publishing role), close it. Creating one asks for a title and a description. What a
 * row says and what a refusal means are in changes.ts.
 */
import type { ChangeRequest, EditorSettings, SessionUser } from '../api/contract';
import { ApiError, api } from './api';
import { canClose, changeRefusal, changeRow, openChanges, titleProblem } from './changes';
import { changeRequestDialog, confirmDialog } from './dialogs';
import { h, replaceChildren } from './dom';
import { shortSha } from './format';
import type { Message } from './messages';

export interface ChangesPanelDeps {
  user: SessionUser;
  settings: EditorSettings;
  /** The change request the workbench is on, if any. */
  current: ChangeRequest | undefined;
  /**
   * Switches the workbench to `change` (undefined: back to the deploy branch); `carry`: taking
   * the deploy branch's unsaved work along.
   */
  switchTo: (change: ChangeRequest | undefined, carry?: boolean) => void;
  notify: (message: Message) => void;
  /** A publish made a commit on the deploy branch. */
  published: (commit: string, change: ChangeRequest) => void;
}

export class ChangesPanel {
  private readonly list = h('ul', { class: 'change-list', attrs: { 'aria-busy': 'true' } });
  readonly element: HTMLElement;

  constructor(private readonly deps: ChangesPanelDeps) {
    this.element = h(
      'section',
      { class: 'panel changes', attrs: { 'aria-labelledby': 'changes-heading' } },
      h(
        'div',
        { class: 'panel-head' },
        h('h2', { text: 'Change requests', attrs: { id: 'changes-heading' } }),
        h('button', {
          class: 'button',
          text: 'New change request',
          attrs: { type: 'button', 'data-action': 'new-change' },
          on: { click: () => void this.create() },
        }),
      ),
      this.list,
    );
  }

  async refresh(): Promise<void> {
    try {
      const { changeRequests } = await api.changes();
      const open = openChanges(changeRequests, this.deps.user.username);
      replaceChildren(this.list, ...open.map((c) => this.row(c)));
      if (open.length === 0) this.list.append(h('li', { class: 'muted', text: 'None open.' }));
    } catch (err) {
      this.deps.notify({ kind: 'error', title: `Could not load the change requests: ${why(err)}` });
    } finally {
      this.list.setAttribute('aria-busy', 'false');
    }
  }

  /** Asks for a title and a description, creates the change request and opens it. */
  async create(): Promise<void> {
    const asked = await changeRequestDialog(this.deps.settings.branch, titleProblem);
    if (!asked) return;
    try {
      const change = await api.createChange(asked);
      // Made from the deploy branch: what was being edited there is what it is for.
      this.deps.switchTo(change, this.deps.current === undefined);
    } catch (err) {
      this.deps.notify({
        kind: 'error',
        title: `Could not create the change request: ${why(err)}`,
      });
    }
  }

  private row(change: ChangeRequest): HTMLLIElement {
    const { deps } = this;
    const row = changeRow(change);
    const current = deps.current?.id === change.id;
    const button = (text: string, action: string, run: () => void) =>
      h('button', {
        class: 'link-button',
        text,
        attrs: { type: 'button', 'data-action': action },
        on: { click: run },
      });
    return h(
      'li',
      { class: current ? 'change current' : 'change', attrs: { 'data-change': change.id } },
      h('span', { class: 'change-title', text: row.title }),
      h('span', { class: 'change-meta', text: row.byline }),
      row.files ? h('span', { class: 'change-files', text: row.files }) : null,
      row.preview
        ? h(
            'span',
            { class: row.previewFailed ? 'change-preview failed' : 'change-preview' },
            change.previewUrl
              ? h('a', {
                  text: row.preview,
                  attrs: { href: change.previewUrl, target: '_blank', rel: 'noopener' },
                })
              : row.preview,
          )
        : null,
      row.github ? h('span', { class: 'change-github', text: row.github }) : null,
      change.url
        ? h('a', {
            text: 'On GitHub',
            attrs: { href: change.url, target: '_blank', rel: 'noopener' },
          })
        : null,
      h(
        'span',
        { class: 'change-actions' },
        current
          ? button('Back to ' + deps.settings.branch, 'leave', () => deps.switchTo(undefined))
          : button('Open', 'open', () => deps.switchTo(change)),
        deps.settings.canPublish
          ? button('Publish', 'publish', () => void this.publish(change))
          : null,
        canClose(change, deps.user.username, deps.settings.canPublish)
          ? button('Close', 'close', () => void this.close(change))
          : null,
      ),
    );
  }

  private async publish(change: ChangeRequest): Promise<void> {
    const { branch } = this.deps.settings;
    const ok = await confirmDialog({
      title: `Publish “${change.title}”?`,
      body: [
        `Its changes (${change.files.join(', ') || 'none'}) are merged into ${branch} and go live through the pipeline.`,
      ],
      confirmLabel: `Publish to ${branch}`,
    });
    if (!ok) return;
    try {
      const result = await api.publishChange(change.id);
      this.deps.notify({
        kind: 'success',
        title: `Published “${change.title}”: ${shortSha(result.commit)} is on ${branch}.`,
      });
      this.deps.published(result.commit, result.changeRequest);
    } catch (err) {
      this.refused('publish', change, err);
    }
    await this.refresh();
  }

  private async close(change: ChangeRequest): Promise<void> {
    const ok = await confirmDialog({
      title: `Close “${change.title}” without publishing?`,
      body: ['Its branch and its preview are removed. This cannot be undone.'],
      confirmLabel: 'Close it',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.closeChange(change.id);
      this.deps.notify({ kind: 'info', title: `Closed “${change.title}”.` });
      if (this.deps.current?.id === change.id) this.deps.switchTo(undefined);
    } catch (err) {
      this.refused('close', change, err);
    }
    await this.refresh();
  }

  private refused(doing: 'publish' | 'close', change: ChangeRequest, err: unknown): void {
    if (err instanceof ApiError)
      this.deps.notify(changeRefusal(doing, change, err.status, err.body));
    else this.deps.notify({ kind: 'error', title: `Could not ${doing}: ${why(err)}` });
  }
}

function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
