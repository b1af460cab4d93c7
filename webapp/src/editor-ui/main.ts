/**
 * The editor's entry point: asks who is signed in, shows the sign-in page or the workbench,
 * and loads Monaco (its own chunk) in the background meanwhile.
 */
import './styles.css';
// Before Monaco's chunks load: every Trusted Types policy they create goes through it.
import './monacoPolicies';
import type { ChangeRequest } from '../api/contract';
import { ApiError, api, onUnauthorized } from './api';
import { h, replaceChildren } from './dom';
import { isMissingChunk } from './messages';
import type { Monaco, WorkerUrls } from './monaco';
import { signInView } from './signin';
import { moveWork } from './storage';
import { changeFromHash, changeHash, workScope } from './changes';
import { Workbench } from './workbench';

const root = document.getElementById('app')!;
const workers: WorkerUrls = {
  editor: assetUrl('editorWorker'),
  json: assetUrl('jsonWorker'),
};
let monaco: Promise<Monaco> | undefined;
let workbench: Workbench | undefined;
/** Whether the sign-in page is what the user sees. */
let signingIn = false;

const SESSION_ENDED =
  'Your session has ended. Sign in again; unsaved changes are kept in this browser.';

function assetUrl(name: string): string {
  const value = document.documentElement.dataset[name];
  if (!value) throw new Error(`the page names no ${name}`);
  return new URL(value, document.baseURI).href;
}

function loadMonaco(): Promise<Monaco> {
  monaco ??= import('./monaco').then((m) => m.setUpMonaco(workers));
  return monaco;
}

function show(view: HTMLElement, signIn = false): void {
  signingIn = signIn;
  replaceChildren(root, view);
  root.setAttribute('aria-busy', 'false');
}

function showSignIn(notice?: string): void {
  workbench?.dispose();
  workbench = undefined;
  show(signInView({ ...(notice ? { notice } : {}), onSignedIn: () => void boot() }), true);
}

function showProblem(text: string): void {
  show(
    h(
      'main',
      { class: 'signin', attrs: { id: 'main' } },
      h(
        'div',
        { class: 'signin-card' },
        h('h1', { class: 'brand-title', text: 'Reflex' }),
        h('p', { class: 'callout error', text, attrs: { role: 'alert' } }),
        h('button', {
          class: 'button primary',
          text: 'Try again',
          attrs: { type: 'button' },
          on: { click: () => void boot() },
        }),
      ),
    ),
  );
}

// Any call that finds the session over, wherever it was made, ends up here (once).
onUnauthorized(() => {
  if (!signingIn) showSignIn(SESSION_ENDED);
});

/** The change request the workbench was last opened on (undefined: the deploy branch). */
let change: ChangeRequest | undefined;

async function boot(): Promise<void> {
  root.setAttribute('aria-busy', 'true');
  const loading = loadMonaco();
  try {
    const user = await api.session();
    if (!user) {
      showSignIn();
      return;
    }
    const [settings, monacoApi] = await Promise.all([api.settings(), loading]);
    if (change === undefined && window.location.hash.startsWith('#change=')) {
      // A reload on a change request: back on it, unless it is no longer open.
      const { changeRequests } = await api.changes().catch(() => ({ changeRequests: [] }));
      change = changeFromHash(window.location.hash, changeRequests);
    }
    workbench?.dispose();
    workbench = new Workbench({
      monaco: monacoApi,
      user,
      settings,
      storage: window.localStorage,
      change,
      switchTo: (next, carry) => {
        workbench?.dispose(); // its drafts are written now, before they move
        if (next && carry) {
          moveWork(window.localStorage, workScope(user.username), workScope(user.username, next));
        }
        change = next;
        const { pathname, search } = window.location;
        window.history.replaceState(null, '', pathname + search + changeHash(next));
        void boot();
      },
      onSignedOut: () => showSignIn(),
    });
    show(workbench.element);
    await workbench.start();
  } catch (err) {
    if (signingIn) return; // the session ended on the way (api.ts's onUnauthorized)
    console.error(err);
    showProblem(
      err instanceof ApiError
        ? `The editor could not start: ${err.message}.`
        : 'The editor could not start. Reload the page to try again.',
    );
  }
}

// A release with a changed editor serves new asset names; a page loaded before the switch
// can no longer fetch the chunks it loads on demand (a language, the JSON service). Monaco
// reports such failures as uncaught errors, other code as unhandled rejections.
function staleChunk(reason: unknown, event: Event): void {
  if (!isMissingChunk(reason)) return;
  event.preventDefault();
  workbench?.notify(
    {
      kind: 'warning',
      title: 'A newer version of the editor is live.',
      detail: 'Reload the page to keep working; unsaved changes are kept in this browser.',
    },
    [{ label: 'Reload', run: () => window.location.reload() }],
  );
}
window.addEventListener('unhandledrejection', (event) => staleChunk(event.reason, event));
window.addEventListener('error', (event) => staleChunk(event.error ?? event.message, event));

void boot();
