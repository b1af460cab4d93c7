/**
 * When a followed commit is live: take the user to it on the site after a moment in which
 * they can stay, or, when they said not to be taken there, offer a button.
 */
import { shortSha } from './format';
import type { Message } from './messages';
import type { NoticeAction } from './notices';
import type { Followed } from './pipelinePanel';

const REDIRECT_DELAY_MS = 1500;

export interface GoLiveDeps {
  /** Whether the user wants to be taken there (the pipeline panel's setting). */
  follows: boolean;
  notify: (message: Message, actions: NoticeAction[]) => void;
  /** Leaves the editor for `url` (after keeping the drafts). */
  leave: (url: string) => void;
}

/** Announces that `followed` is live; returns what cancels a pending redirect. */
export function goLive(followed: Followed, deps: GoLiveDeps): () => void {
  const go = () => deps.leave(followed.target);
  const title = `${shortSha(followed.sha)} is live.`;
  if (!deps.follows) {
    deps.notify({ kind: 'success', title }, [{ label: 'Open the app', run: go }]);
    return () => undefined;
  }
  const timer = window.setTimeout(go, REDIRECT_DELAY_MS);
  const stay = () => window.clearTimeout(timer);
  deps.notify({ kind: 'success', title, detail: `Taking you to ${followed.target}…` }, [
    { label: 'Stay here', run: stay },
  ]);
  return stay;
}
