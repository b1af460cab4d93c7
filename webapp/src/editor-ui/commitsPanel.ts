/** Recent commits on the branch (`GET /api/commits`), newest first. */
import { api, type CommitSummary } from './api';
import { h, replaceChildren } from './dom';
import { firstLine, formatAgo, shortSha } from './format';

export class CommitsPanel {
  private readonly list = h('ol', { class: 'commit-list', attrs: { 'aria-busy': 'true' } });
  readonly element = h(
    'section',
    { class: 'panel commits', attrs: { 'aria-labelledby': 'commits-heading' } },
    h(
      'div',
      { class: 'panel-head' },
      h('h2', { text: 'Recent commits', attrs: { id: 'commits-heading' } }),
    ),
    this.list,
  );

  /** Loads the list again; `failed` hears why it could not. */
  async refresh(failed: (err: unknown) => void): Promise<void> {
    try {
      const { commits } = await api.commits(10);
      replaceChildren(this.list, ...commits.map((c) => commitItem(c)));
      if (commits.length === 0)
        this.list.append(h('li', { class: 'muted', text: 'No commits yet.' }));
    } catch (err) {
      failed(err);
    } finally {
      this.list.setAttribute('aria-busy', 'false');
    }
  }
}

function commitItem(commit: CommitSummary): HTMLLIElement {
  return h(
    'li',
    { attrs: { 'data-sha': commit.sha } },
    h('code', { text: shortSha(commit.sha), attrs: { title: commit.sha } }),
    ' ',
    h('span', { class: 'commit-message', text: firstLine(commit.message) }),
    h(
      'span',
      { class: 'commit-meta' },
      `${commit.author.name} · `,
      h('time', { text: formatAgo(commit.date), attrs: { datetime: commit.date } }),
    ),
  );
}
