/**
 * The editor in a real Chromium against the real app and a real bare origin (issue 3's
 * browser acceptance): sign in, edit in Monaco, review the diff, save, see the commit; a
 * conflicting save from a second tab gets the merge view; read-only markers; refusals with
 * their messages; drafts that survive a reload; viewers who cannot save.
 */
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PASSWORD } from './support/editorApp';
import {
  launchChromium,
  openFile,
  saveThroughReview,
  screenshot,
  signIn,
  startEditorSite,
  typeAtEnd,
  visibleText,
  watchProblems,
  type EditorSite,
  type PageProblems,
} from './support/browser';

jest.setTimeout(90_000);

const INDEX = 'webapp/site/pages/index.html';
const ROUTES = 'webapp/site/routes.ts';

describe('the editor in Chromium', () => {
  let browser: Browser;
  let site: EditorSite;
  const contexts: BrowserContext[] = [];
  const watched: { page: Page; problems: PageProblems }[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser.close();
  });
  beforeEach(async () => {
    site = await startEditorSite();
  });
  afterEach(async () => {
    // Every page of every test: no CSP violation, no uncaught error.
    for (const { page, problems } of watched.splice(0)) {
      if (!page.isClosed()) expect(await problems.violations()).toEqual([]);
      expect(problems.errors).toEqual([]);
    }
    for (const context of contexts.splice(0)) await context.close();
    await site.close();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
    contexts.push(context);
    const page = await context.newPage();
    watched.push({ page, problems: await watchProblems(page) });
    return page;
  }

  it('serves the built page with hashed, gzip-encoded, immutable assets and refuses framing', async () => {
    const page = await fetch(`${site.baseUrl}/editor/`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-encoding')).toBe('gzip');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/);
    const urls = [...html.matchAll(/(?:href|src|data-[a-z-]+)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThanOrEqual(5);
    for (const url of urls) {
      expect(url).toMatch(/^\/editor\/assets\/[a-z.]+-[A-Z0-9]{8}\.(js|css)$/);
      const asset = await fetch(site.baseUrl + url, { headers: { 'Accept-Encoding': 'gzip' } });
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-encoding')).toBe('gzip');
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
  });

  it('signs in, edits in Monaco, reviews the diff and saves: the commit lands on the origin and is shown', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    await openFile(page, INDEX);
    expect(await visibleText(page)).toContain('<h1>Hello</h1>');

    await typeAtEnd(page, 'Saved from the browser');
    await page.locator(`.tab[data-path="${INDEX}"].dirty`).waitFor();
    expect(await page.locator('.file-state').textContent()).toBe('Unsaved changes');

    await page.keyboard.press('Control+s');
    const review = page.locator('dialog.review');
    await review.waitFor();
    const diff = await review.locator('.diff').textContent();
    expect(diff).toContain('+Saved from the browser');
    expect(await review.locator('.diff-add').allTextContents()).toEqual([
      '+Saved from the browser',
    ]);
    await review.getByLabel('Commit message (optional)').fill('Greet from the browser');
    await review.getByRole('button', { name: 'Commit and push to main' }).click();

    const notice = page.locator('.notice-success');
    await notice.waitFor();
    const head = site.h.origin.head();
    expect(await notice.textContent()).toContain(`Committed ${head.slice(0, 7)} to main.`);
    expect(site.h.origin.show(INDEX)).toBe('<h1>Hello</h1>\nSaved from the browser');
    expect(site.h.origin.log()[0]).toMatchObject({
      sha: head,
      subject: 'Greet from the browser',
      author: 'Administrator <admin@users.reflex.invalid>',
    });
    // The commit list and the header follow; the tab is clean again.
    await page.locator(`.commit-list li[data-sha="${head}"]`).waitFor();
    expect(await page.locator('.commit-list li').first().textContent()).toContain(
      'Greet from the browser',
    );
    expect(await page.locator('.topbar .head').textContent()).toBe(head.slice(0, 7));
    expect(await page.locator(`.tab[data-path="${INDEX}"].dirty`).count()).toBe(0);
    expect(await page.locator('.file-state').textContent()).toBe(`Saved · ${head.slice(0, 7)}`);
    expect(existsSync(await screenshot(page, 'editor-saved.png'))).toBe(true);
  });

  it('highlights HTML; typing over a selected file replaces it, without auto-surround (which corrupts Monaco 0.57 tokens)', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    await openFile(page, INDEX);
    await page.locator('.editor-host .monaco-editor .view-lines').click();
    await page.keyboard.press('Control+a');
    await page.keyboard.type('<!doctype html>\n<h1>Typed</h1>');
    expect(await visibleText(page)).toBe('<!doctype html>\n<h1>Typed</h1>');
    const classes = await page
      .locator('.editor-host .view-lines .view-line span span')
      .evaluateAll((els) => [
        ...new Set(els.map((el) => (el as unknown as { className: string }).className)),
      ]);
    expect(classes.length).toBeGreaterThanOrEqual(3);
  });

  it('a second tab saving the same file from the same base gets the merge view with both versions', async () => {
    const first = await newPage();
    const second = await newPage();
    await signIn(first, site.baseUrl);
    await signIn(second, site.baseUrl);
    await openFile(first, INDEX);
    await openFile(second, INDEX);
    const base = site.h.origin.head();

    await typeAtEnd(first, 'Theirs from the first tab');
    await saveThroughReview(first);
    await first.locator('.notice-success').waitFor();
    const theirs = site.h.origin.head();
    expect(theirs).not.toBe(base);

    await typeAtEnd(second, 'Mine from the second tab');
    await second.keyboard.press('Control+s');
    const review = second.locator('dialog.review');
    await review.waitFor();
    expect(await review.locator('.callout.warning').textContent()).toContain(
      'changed on main since you opened it',
    );
    await review.getByRole('button', { name: /^Commit and push/ }).click();

    const merge = second.locator('.merge');
    await merge.locator('.monaco-diff-editor').waitFor();
    expect(await merge.isVisible()).toBe(true);
    expect(await second.locator('.notice-warning').textContent()).toContain(
      `${INDEX} changed on the branch since you opened it.`,
    );
    expect(await merge.locator('.merge-title').textContent()).toContain(theirs.slice(0, 7));
    const theirsSide = await visibleText(second, '.merge .editor.original');
    const mineSide = await visibleText(second, '.merge .editor.modified');
    expect(theirsSide).toContain('Theirs from the first tab');
    expect(theirsSide).not.toContain('Mine from the second tab');
    expect(mineSide).toContain('Mine from the second tab');
    expect(mineSide).not.toContain('Theirs from the first tab');
    expect(site.h.origin.head()).toBe(theirs);
    await screenshot(second, 'editor-merge.png');

    // Keep both: take theirs, add mine back, and save on the new base.
    await merge.getByRole('button', { name: 'Take theirs' }).click();
    await second.locator('.merge .editor.modified .view-lines').click();
    await second.keyboard.press('Control+End');
    await second.keyboard.type('\nMine from the second tab');
    await merge.getByRole('button', { name: 'Save on the new base' }).click();
    const again = second.locator('dialog.review');
    await again.waitFor();
    expect(await again.locator('.diff-add').allTextContents()).toEqual([
      '+Theirs from the first tab',
      '+Mine from the second tab',
    ]);
    await again.getByRole('button', { name: /^Commit and push/ }).click();
    await second.locator('.notice-success').waitFor();

    expect(site.h.origin.show(INDEX)).toBe(
      '<h1>Hello</h1>\nTheirs from the first tab\nMine from the second tab',
    );
    expect(
      site.h.origin
        .log()
        .map((c) => c.sha)
        .slice(1),
    ).toEqual([theirs, base]);
    expect(await second.locator('.merge').isHidden()).toBe(true);
  });

  it('tabs: arrow keys move between open files, Delete and × close them, and the next one opens', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    const DATA = 'webapp/site/data.json';
    for (const file of [INDEX, ROUTES, DATA]) await openFile(page, file);
    const tab = (p: string) => page.locator(`.tab[data-path="${p}"]`);
    const active = () => page.locator('.tab.active').getAttribute('data-path');
    expect(await active()).toBe(DATA);

    await tab(DATA).locator('.tab-label').focus();
    await page.keyboard.press('ArrowRight');
    expect(await active()).toBe(INDEX);
    await page.keyboard.press('End');
    expect(await active()).toBe(DATA);
    await page.keyboard.press('ArrowLeft');
    expect(await active()).toBe(ROUTES);
    expect(await page.locator('.file-path').textContent()).toBe(ROUTES);
    expect(await visibleText(page)).toContain('export const answer');

    await page.keyboard.press('Delete');
    expect(await tab(ROUTES).count()).toBe(0);
    expect(await active()).toBe(DATA);
    // The keyboard focus stays on the tabs, on the one now active.
    expect(await tab(DATA).locator('.tab-label:focus').count()).toBe(1);

    await tab(DATA).getByRole('button', { name: 'Close data.json' }).click();
    expect(await active()).toBe(INDEX);
    await tab(INDEX).getByRole('button', { name: 'Close index.html' }).click();
    expect(await page.locator('.tab').count()).toBe(0);
    expect(await page.locator('.empty-state').isVisible()).toBe(true);
    expect(await page.locator('.file-state').getAttribute('data-state')).toBe('none');

    // The open tabs come back after a reload.
    await openFile(page, INDEX);
    await openFile(page, DATA);
    await page.reload();
    await page.locator(`.tab[data-path="${DATA}"].active`).waitFor();
    const tabs = page.locator('.tab');
    expect([await tabs.nth(0).getAttribute('data-path'), await tabs.count()]).toEqual([INDEX, 2]);
  });

  it('Back to the editor leaves a merge for later: the next save opens it again, and Discard puts theirs', async () => {
    const first = await newPage();
    const second = await newPage();
    await signIn(first, site.baseUrl);
    await signIn(second, site.baseUrl);
    await openFile(first, INDEX);
    await openFile(second, INDEX);
    await typeAtEnd(first, 'Theirs');
    await saveThroughReview(first);
    await first.locator('.notice-success').waitFor();
    const theirs = site.h.origin.head();

    await typeAtEnd(second, 'Mine');
    await saveThroughReview(second);
    const merge = second.locator('.merge');
    await merge.locator('.monaco-diff-editor').waitFor();
    expect(await second.locator('.file-state').textContent()).toBe(
      'Changed on the branch: merge needed',
    );
    await merge.getByRole('button', { name: 'Back to the editor' }).click();
    expect(await merge.isHidden()).toBe(true);
    expect(await second.locator('.file-state').textContent()).toBe('Unsaved changes');
    expect(await visibleText(second)).toContain('Mine');

    await saveThroughReview(second);
    await merge.locator('.monaco-diff-editor').waitFor();
    expect(site.h.origin.head()).toBe(theirs);
    await merge.getByRole('button', { name: 'Back to the editor' }).click();

    await second.getByRole('button', { name: 'Discard changes' }).click();
    await second.locator('dialog.confirm').getByRole('button', { name: 'Discard changes' }).click();
    await second.locator('.file-state[data-state="saved"]').waitFor();
    expect(await second.locator('.file-state').textContent()).toBe(`Saved · ${theirs.slice(0, 7)}`);
    expect(await visibleText(second)).toContain('Theirs');
    expect(await visibleText(second)).not.toContain('Mine');
    expect(await second.locator(`.tab[data-path="${INDEX}"].dirty`).count()).toBe(0);
    expect(site.h.origin.head()).toBe(theirs);
  });

  it('marks read-only files with a lock and the reason, and opens them read-only', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    const lockOf = (p: string) =>
      page.locator(`.tree button.file[data-path="${p}"] .lock-marker`).getAttribute('title');
    expect(await lockOf('package.json')).toMatch(/^protected: \*\*\/package\.json/);
    expect(
      await page.locator('.tree button.file[data-path="package.json"]').getAttribute('title'),
    ).toMatch(/^package\.json — read-only: protected: /);
    await page.locator('#file-filter').fill('README');
    expect(await lockOf('README.md')).toBe('outside the editable scope (webapp/site/**)');
    await page.locator('#file-filter').fill('index.html');
    await page.locator(`.tree button.file[data-path="${INDEX}"]`).waitFor();
    expect(await page.locator(`.tree button.file[data-path="${INDEX}"] .lock-marker`).count()).toBe(
      0,
    );
    await page.locator('#file-filter').fill('');

    await openFile(page, 'README.md');
    expect(await page.locator('.file-state').textContent()).toContain(
      'Read-only: outside the editable scope (webapp/site/**)',
    );
    expect(await page.getByRole('button', { name: 'Review and save' }).isHidden()).toBe(true);
    await typeAtEnd(page, 'typed into a read-only file');
    expect(await visibleText(page)).not.toContain('typed into a read-only file');
    await page.keyboard.press('Control+s');
    expect(await page.locator('.notice-info').textContent()).toContain('is read-only');
    expect(site.h.origin.log()).toHaveLength(1);
  });

  it('a file that does not parse is refused with 422: the message names the line and the cursor goes there', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    await openFile(page, ROUTES);
    await typeAtEnd(page, 'export const broken = ;');
    await saveThroughReview(page);

    const notice = page.locator('.notice-error');
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/Not saved: line 2, column \d+: syntax error: /);
    const column = Number(/column (\d+)/.exec((await notice.textContent())!)![1]);
    expect(await page.locator('.statusbar .cursor-position').textContent()).toBe(
      `Ln 2, Col ${column}`,
    );
    await page.locator('.editor-host .squiggly-error').first().waitFor();
    expect(site.h.origin.log()).toHaveLength(1);
    expect(await page.locator(`.tab[data-path="${ROUTES}"].dirty`).count()).toBe(1);
  });

  it('says so when the file is over the size limit (413), and commits nothing', async () => {
    await site.close();
    site = await startEditorSite({ env: { REFLEX_MAX_FILE_BYTES: '64' } });
    const page = await newPage();
    await signIn(page, site.baseUrl);
    await openFile(page, INDEX);
    await typeAtEnd(page, 'x'.repeat(80));
    await saveThroughReview(page);
    const notice = page.locator('.notice-error');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('Not saved: the file is too large.');
    expect(await notice.textContent()).toContain('The editor accepts files up to 64 bytes.');
    expect(site.h.origin.log()).toHaveLength(1);
  });

  it('keeps unsaved edits across a reload until they are saved', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    await openFile(page, INDEX);
    await typeAtEnd(page, 'Draft that outlives a reload');
    await page.locator(`.tab[data-path="${INDEX}"].dirty`).waitFor();

    await page.reload();
    await page.locator(`.tab[data-path="${INDEX}"].dirty.active`).waitFor();
    await page.locator('.editor-host .monaco-editor .view-lines').waitFor();
    expect(await visibleText(page)).toContain('Draft that outlives a reload');
    expect(await page.locator('.notice-info').textContent()).toContain(
      `Restored your unsaved changes to ${INDEX}.`,
    );
    expect(
      await page.locator(`.tree button.file[data-path="${INDEX}"] .draft-marker`).count(),
    ).toBe(1);
    expect(site.h.origin.log()).toHaveLength(1);

    await saveThroughReview(page);
    await page.locator('.notice-success').waitFor();
    expect(site.h.origin.show(INDEX)).toBe('<h1>Hello</h1>\nDraft that outlives a reload');

    // Saved: the draft is gone, so a reload shows a clean tab with the saved text.
    await page.reload();
    await page.locator(`.tab[data-path="${INDEX}"].active`).waitFor();
    await page.locator('.editor-host .monaco-editor .view-lines').waitFor();
    expect(await page.locator(`.tab[data-path="${INDEX}"].dirty`).count()).toBe(0);
    expect(await visibleText(page)).toContain('Draft that outlives a reload');
    expect(
      await page.evaluate<string[]>(
        "Object.keys(localStorage).filter((k) => k.startsWith('reflex.draft.'))",
      ),
    ).toEqual([]);
  });

  it('when the session ends mid-edit, saving asks to sign in again and the edits come back', async () => {
    const account = {
      username: 'carol',
      name: 'Carol',
      email: 'carol@example.com',
      role: 'editor' as const,
      password: PASSWORD,
    };
    await site.h.users.add(account);
    const page = await newPage();
    await signIn(page, site.baseUrl, 'carol');
    await openFile(page, INDEX);
    await typeAtEnd(page, 'Typed before the session ended');
    await page.locator(`.tab[data-path="${INDEX}"].dirty`).waitFor();

    await site.h.users.remove('carol'); // ends every session of the account
    await page.keyboard.press('Control+s');
    await page.locator('#username').waitFor();
    expect(await page.locator('.signin .callout.warning').textContent()).toBe(
      'Your session has ended. Sign in again; unsaved changes are kept in this browser.',
    );
    expect(site.h.origin.log()).toHaveLength(1);

    await site.h.users.add(account);
    await page.locator('#username').fill('carol');
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator(`.tab[data-path="${INDEX}"].dirty.active`).waitFor();
    await page.locator('.editor-host .monaco-editor .view-lines').waitFor();
    expect(await visibleText(page)).toContain('Typed before the session ended');
  });

  it('a viewer reads files, the releases and the pipeline, but cannot change anything', async () => {
    await site.h.users.add({
      username: 'vera',
      name: 'Vera Viewer',
      email: 'vera@example.com',
      role: 'viewer',
      password: PASSWORD,
    });
    const page = await newPage();
    await signIn(page, site.baseUrl, 'vera');
    expect(await page.locator('.banner').textContent()).toContain('signed in as a viewer');
    expect(await page.locator('.topbar .badge').textContent()).toBe('viewer');

    await openFile(page, INDEX);
    expect(await page.locator('.file-state').textContent()).toContain(
      'Read-only: you are signed in as a viewer',
    );
    await typeAtEnd(page, 'a viewer typing');
    expect(await visibleText(page)).not.toContain('a viewer typing');
    await page.keyboard.press('Control+s');
    expect(await page.locator('.notice-info').textContent()).toContain('is read-only');
    expect(await page.locator('dialog.review').count()).toBe(0);
    expect(site.h.origin.log()).toHaveLength(1);
  });

  it('a viewer sees a lock on every file, the site’s included, with the role as the reason', async () => {
    await site.h.users.add({
      username: 'vic',
      name: 'Vic Viewer',
      email: 'vic@example.com',
      role: 'viewer',
      password: PASSWORD,
    });
    const page = await newPage();
    await signIn(page, site.baseUrl, 'vic');
    await page.locator('#file-filter').fill('index.html');
    const file = page.locator(`.tree button.file[data-path="${INDEX}"]`);
    expect(await file.locator('.lock-marker').getAttribute('title')).toBe(
      'you are signed in as a viewer',
    );
    expect(await file.getAttribute('title')).toBe(
      `${INDEX} — read-only: you are signed in as a viewer`,
    );
    expect(await page.locator('.empty-state').textContent()).not.toContain('Files you can change');
  });

  it('an editable scope that reaches beyond the site is named in a banner that stays', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    expect(await page.locator('.banner[data-scope="platform"]').count()).toBe(0);

    await site.close();
    site = await startEditorSite({
      env: { REFLEX_EDITABLE: 'webapp/site/**,*.md', REFLEX_WIDE_SCOPE: 'true' },
    });
    await signIn(page, site.baseUrl);
    const banner = page.locator('.banner[data-scope="platform"]');
    expect(await banner.textContent()).toContain('Editable beyond the site (*.md)');
    expect(await banner.getAttribute('role')).toBe('note');
    await openFile(page, 'README.md');
    await typeAtEnd(page, 'A change beyond the site');
    await page.locator('.tab[data-path="README.md"].dirty').waitFor();
    await page.getByRole('button', { name: 'Releases' }).click();
    await page.locator('dialog.releases').getByRole('button', { name: 'Close' }).click();
    expect(await banner.isVisible()).toBe(true);
  });

  it('whichever call finds the session ended (opening a file, discarding changes), the sign-in page asks to sign in again', async () => {
    const account = {
      username: 'dora',
      name: 'Dora',
      email: 'dora@example.com',
      role: 'editor' as const,
      password: PASSWORD,
    };
    await site.h.users.add(account);
    const page = await newPage();
    const notice = page.locator('.signin .callout.warning');
    const ended =
      'Your session has ended. Sign in again; unsaved changes are kept in this browser.';

    // Opening a file.
    await signIn(page, site.baseUrl, 'dora');
    await site.h.users.remove('dora');
    await page.locator('#file-filter').fill('routes.ts');
    await page.locator(`.tree button.file[data-path="${ROUTES}"]`).click();
    await page.locator('#username').waitFor();
    expect(await notice.textContent()).toBe(ended);

    // Discarding changes, after confirming in a dialog.
    await site.h.users.add(account);
    await signIn(page, site.baseUrl, 'dora');
    await openFile(page, ROUTES);
    await typeAtEnd(page, '// to be discarded');
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await site.h.users.remove('dora');
    await page.locator('dialog.confirm').getByRole('button', { name: 'Discard changes' }).click();
    await page.locator('#username').waitFor();
    expect(await notice.textContent()).toBe(ended);
    expect(await page.locator('dialog[open]').count()).toBe(0);
  });

  it('without a pipeline, the panel and the releases view say so and saving still works', async () => {
    const page = await newPage();
    await signIn(page, site.baseUrl);
    await page.locator('.pipeline-connection[data-connection="unavailable"]').waitFor();
    expect(await page.locator('.pipeline .pipeline-body').textContent()).toContain(
      'No pipeline is connected to this editor',
    );
    await page.getByRole('button', { name: 'Releases' }).click();
    const releases = page.locator('dialog.releases');
    await releases
      .getByText('No release history: the pipeline is not running on this instance.')
      .waitFor();
    await releases.getByRole('button', { name: 'Close' }).click();
    expect(await page.locator('dialog[open]').count()).toBe(0);

    // Taking the user to the updated app is on by default; turning it off is remembered.
    const follow = page.getByLabel('Take me to the updated app when it is live');
    expect(await follow.isChecked()).toBe(true);
    await follow.uncheck();
    await page.reload();
    await page.locator('.workbench').waitFor();
    expect(await page.getByLabel('Take me to the updated app when it is live').isChecked()).toBe(
      false,
    );
  });

  it('refuses a wrong password with a message, and signing out returns to the sign-in page', async () => {
    const page = await newPage();
    await page.goto(`${site.baseUrl}/editor/`);
    await page.locator('#username').fill('admin');
    await page.locator('#password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signin-error:not([hidden])').waitFor();
    expect(await page.locator('#signin-error').textContent()).toBe('Wrong username or password.');

    await signIn(page, site.baseUrl);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#username').waitFor();
    const session = await page.evaluate(async () => (await fetch('/api/session')).status);
    expect(session).toBe(401);
  });
});
