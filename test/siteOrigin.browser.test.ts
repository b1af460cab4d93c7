/**
 * A site page is as untrusted as site code: editors write it. In Chromium on the whole local
 * loop, an editor saves a page whose inline script tries what an attacker would with the
 * platform's API, and an admin signed in to the editor opens it on the site's origin. The
 * script reads nothing and writes nothing through the API, never sees the session cookie, the
 * admin's session is untouched, and no commit appears on the origin.
 *
 * Before the editor had its own origin, the same page read the tree and saved a file to `main`
 * as the admin, with the site's CSP in force or not.
 *
 * Run twice: with the site's own Content-Security-Policy as served, and with the browser
 * ignoring every CSP (`bypassCSP`), so that the platform's own layers are shown to hold
 * without it: the editor's own host name (the edge answers `/api` only there), CORS, the
 * Origin check and a host-only, SameSite session cookie.
 */
import path from 'node:path';
import type { Browser, Request } from 'playwright-core';
import { UserStore } from '../webapp/src/auth/users';
import { SESSION_COOKIE } from '../webapp/src/http/session';
import { launchChromium, signIn } from '../webapp/test/support/browser';
import {
  ADMIN_PASSWORD,
  editorClient,
  editorHost,
  git,
  startLoop,
  type Loop,
} from './support/loop';

jest.setTimeout(300_000);

/** What the script tries to write. */
const TARGET = 'webapp/site/pages/pwned.html';
/** An account the attacker holds, to sign the admin into (login CSRF). */
const MALLORY = { username: 'mallory', password: 'mallory-password-1' };

/** Every attempt the page's script makes, by the name it reports it under. */
const ATTEMPTS = [
  'read the tree (editor origin)',
  'read a file (editor origin)',
  'read the session (editor origin)',
  'read the session cookie (document.cookie)',
  'read the tree (site origin)',
  'read a file (site origin)',
  'save (editor origin)',
  'save (site origin)',
  'delete (editor origin)',
  'save as text/plain (editor origin, no-cors)',
  'roll back (editor origin, no-cors)',
  'roll back (site origin)',
  'form: save as text/plain (editor origin)',
  'form: roll back (editor origin)',
  'sign in as mallory (editor origin, no-cors)',
  'form: sign in as mallory (editor origin)',
];

/**
 * The page: an inline script that reports each attempt's outcome in `#report` (JSON), then
 * marks the body done. An outcome starting `read` or `wrote` is a breach.
 */
function attackPage(values: { editor: string; base: string; rollBackTo: string }): string {
  const script = `
const EDITOR = ${JSON.stringify(values.editor)};
const BASE = ${JSON.stringify(values.base)};
const ROLL_BACK_TO = ${JSON.stringify(values.rollBackTo)};
const LOGIN = ${JSON.stringify(JSON.stringify(MALLORY))};
const SESSION_COOKIE = ${JSON.stringify(SESSION_COOKIE)};
const FILE = '/api/files/webapp/site/pages/index.html';
const TARGET = '/api/files/${TARGET}';
const results = {};
let head = BASE;

async function attempt(name, url, init) {
  try {
    const r = await fetch(url, { credentials: 'include', cache: 'no-store', ...init });
    if (r.type === 'opaque') return void (results[name] = 'sent, answer unreadable');
    const text = await r.text();
    const verb = (init && init.method) ? 'wrote' : 'read';
    results[name] = r.ok ? verb + ' ' + r.status + ' ' + text.slice(0, 200) : 'refused ' + r.status;
    const commit = r.ok && /"commit":"([0-9a-f]{40})"/.exec(text);
    if (commit) head = commit[1];
  } catch (e) {
    results[name] = 'blocked ' + e.name;
  }
}

function form(name, action, body) {
  return new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.name = 'f' + Math.random().toString(36).slice(2);
    frame.hidden = true;
    document.body.append(frame);
    const f = document.createElement('form');
    f.method = 'POST';
    f.enctype = 'text/plain';
    f.action = action;
    f.target = frame.name;
    if (body) {
      // text/plain sends name=value: a JSON body whose last string swallows the '='.
      const input = document.createElement('input');
      input.name = body.slice(0, -1) + ',"x":"';
      input.value = '"}';
      f.append(input);
    }
    document.body.append(f);
    const timer = setTimeout(() => { results[name] = 'no answer'; resolve(); }, 5000);
    frame.addEventListener('load', function answered() {
      let href, text;
      try {
        href = frame.contentWindow.location.href;
        text = frame.contentDocument.body.textContent;
      } catch {}
      // The frame's own empty first document is not the answer.
      if (href === 'about:blank') return;
      frame.removeEventListener('load', answered);
      clearTimeout(timer);
      results[name] = text ? 'read ' + text.slice(0, 200) : 'frame loaded, unreadable';
      resolve();
    });
    f.submit();
  });
}

(async () => {
  const json = { 'Content-Type': 'application/json' };
  const save = () => JSON.stringify({ content: '<h1>pwned</h1>', baseCommit: head, message: 'pwned' });
  await attempt('read the tree (editor origin)', EDITOR + '/api/tree');
  await attempt('read a file (editor origin)', EDITOR + FILE);
  await attempt('read the session (editor origin)', EDITOR + '/api/session');
  results['read the session cookie (document.cookie)'] = document.cookie.includes(SESSION_COOKIE)
    ? 'read ' + document.cookie
    : 'not visible';
  await attempt('read the tree (site origin)', '/api/tree');
  await attempt('read a file (site origin)', FILE);
  await attempt('save (editor origin)', EDITOR + TARGET, { method: 'PUT', headers: json, body: save() });
  await attempt('save (site origin)', TARGET, { method: 'PUT', headers: json, body: save() });
  await attempt('delete (editor origin)', EDITOR + FILE, { method: 'DELETE' });
  await attempt('save as text/plain (editor origin, no-cors)', EDITOR + TARGET, {
    method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: save(),
  });
  const rollback = '/api/releases/' + ROLL_BACK_TO + '/rollback';
  await attempt('roll back (editor origin, no-cors)', EDITOR + rollback, { method: 'POST', mode: 'no-cors' });
  await attempt('roll back (site origin)', rollback, { method: 'POST' });
  await Promise.all([
    form('form: save as text/plain (editor origin)', EDITOR + TARGET, save()),
    form('form: roll back (editor origin)', EDITOR + rollback),
  ]);
  // Last: signing the admin into the attacker's account would change who the rest runs as.
  await attempt('sign in as mallory (editor origin, no-cors)', EDITOR + '/api/session', {
    method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: LOGIN,
  });
  await form('form: sign in as mallory (editor origin)', EDITOR + '/api/session', LOGIN);
  document.getElementById('report').textContent = JSON.stringify(results);
  document.body.dataset.done = 'yes';
})();
`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Opening hours</title>
  </head>
  <body>
    <h1>Opening hours</h1>
    <pre id="report"></pre>
    <script>${script}</script>
  </body>
</html>
`;
}

describe('a site page whose script turns the API against an admin who opens it (the editor on its own origin)', () => {
  let loop: Loop;
  let browser: Browser;
  let first: string;

  const origin = () => path.join(loop.home, 'origin.git');
  const head = () => git(origin(), ['rev-parse', 'refs/heads/main']);
  // The editor is used from its own origin; the site is every other host name of the edge.
  const editorUrl = () => `http://${editorHost(loop.url)}`;
  const siteUrl = () => `http://localhost:${new URL(loop.url).port}`;

  beforeAll(async () => {
    // No gate steps: what is under test is who may act through the API, not the gate.
    loop = await startLoop({ gate: [] });
    first = await loop.supervisor.whenLive();
    await new UserStore(path.join(loop.home, 'users.json')).add({
      username: MALLORY.username,
      name: 'Mallory',
      role: 'viewer',
      password: MALLORY.password,
    });
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await loop?.close();
  });

  /** Saves the page as `pages/<name>.html` (through the API) and waits until it is live. */
  async function plant(name: string): Promise<string> {
    const editor = await editorClient(loop.url);
    const commit = await editor.save(
      `webapp/site/pages/${name}.html`,
      attackPage({ editor: editorUrl(), base: head(), rollBackTo: first }),
    );
    await loop.waitForVersion(commit);
    return commit;
  }

  it.each([
    ['with the site’s own CSP as served', 'attack', false],
    ['with the browser ignoring every CSP (the platform’s own layers alone)', 'attack-2', true],
  ])(
    '%s: the script can neither read from nor write through the API, never holds the session, and no commit appears',
    async (_, name, bypassCSP) => {
      const planted = await plant(name);
      const context = await browser.newContext({ bypassCSP });
      const page = await context.newPage();
      await signIn(page, editorUrl(), 'admin', ADMIN_PASSWORD);
      const whoAmI = () =>
        page.evaluate<{ username?: string }>(
          "fetch('/api/session', { cache: 'no-store' }).then((r) => r.json())",
        );
      expect((await whoAmI()).username).toBe('admin');
      // The admin's session: host-only on the editor's host name, out of any script's reach.
      const session = (await context.cookies()).filter((c) => c.name === SESSION_COOKIE);
      expect(
        session.map(({ domain, httpOnly, sameSite }) => ({ domain, httpOnly, sameSite })),
      ).toEqual([{ domain: new URL(editorUrl()).hostname, httpOnly: true, sameSite: 'Strict' }]);

      // What the page sent to the editor's origin.
      const sent: Request[] = [];
      page.on('request', (r) => {
        if (r.url().startsWith(`${editorUrl()}/`)) sent.push(r);
      });
      const served = await page.goto(`${siteUrl()}/${name}`);
      expect(served?.status()).toBe(200);
      await page.locator('body[data-done]').waitFor({ timeout: 60_000 });
      const report = JSON.parse((await page.locator('#report').textContent()) ?? '{}') as Record<
        string,
        string
      >;

      expect(Object.keys(report).sort()).toEqual([...ATTEMPTS].sort());
      const breaches = Object.entries(report).filter(([, outcome]) =>
        /^(read|wrote)/.test(outcome),
      );
      expect(breaches).toEqual([]);
      expect(head()).toBe(planted);
      expect(git(origin(), ['log', '--format=%H %s', `${planted}..refs/heads/main`])).toBe('');

      const requests = await Promise.all(
        sent.map(async (r) => ({
          request: `${r.method()} ${r.url()}`,
          status: (await r.response())?.status(),
          cookie: (await r.allHeaders()).cookie ?? '',
        })),
      );
      // None carried the session; every write that reached the platform was refused.
      expect(requests.filter((r) => r.cookie.includes(SESSION_COOKIE))).toEqual([]);
      expect(
        requests.filter((r) => !r.request.startsWith('GET ') && r.status && r.status < 400),
      ).toEqual([]);
      // Without the CSP the requests did leave the page: the platform's layers stopped them.
      if (bypassCSP) expect(requests.length).toBeGreaterThan(0);

      // The CSP this was measured with (ignored by the browser in the second run).
      expect(served?.headers()['content-security-policy']).toContain("connect-src 'self'");

      // The admin is still signed in, as themself.
      await page.goto(`${editorUrl()}/editor/`);
      expect((await whoAmI()).username).toBe('admin');
      await context.close();
    },
  );
});
