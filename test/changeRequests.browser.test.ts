/**
 * Change requests in the editor, on the whole local loop, in Chromium with two people signed
 * in (two browser contexts): an author, whose saves go to change requests, creates one and
 * saves the homepage into it; its preview host serves the change while the deploy branch does
 * not; an admin with the homepage open sees the author there; the admin saves to the change
 * request, and the author's next save merges with it; the admin saves other lines of the
 * homepage on the deploy branch, and the author's next save takes that in, merged (the preview
 * then runs both); an overlapping change on the deploy branch gets the author the merge view,
 * nothing overwritten; the admin publishes from the change requests panel; the deploy branch
 * goes live with every change and the preview is gone. The screenshots it takes illustrate
 * docs/EDITOR.md (scripts/docs-images.sh copies them there).
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UserStore } from '../webapp/src/auth/users';
import {
  launchChromium,
  openFile,
  saveThroughReview,
  screenshot,
  signIn,
  visibleText,
  watchProblems,
} from '../webapp/test/support/browser';
import { ADMIN_PASSWORD, editorHost, git, request, startLoop, type Loop } from './support/loop';

jest.setTimeout(600_000);

const PAGE = 'webapp/site/pages/index.html';
/** Lines of the homepage (1-based) the people below change, one line each time. */
const TITLE = 6;
const HEADLINE = 11;
const TAGLINE = 13;
const headline = (text: string) => `<h1 id="headline">${text}</h1>`;
const AUTHOR = { username: 'ann', name: 'Ann Author', password: 'author-password-1' };

describe('change requests in the editor (local loop, two people)', () => {
  let loop: Loop;
  let browser: Browser;

  beforeAll(async () => {
    loop = await startLoop({ gate: [], previews: { maxRunning: 2, idleMs: 60 * 60_000 } });
    await loop.supervisor.whenLive();
    await new UserStore(path.join(loop.home, 'users.json')).add({ ...AUTHOR, role: 'author' });
    browser = await launchChromium();
    original = `${git(origin(), ['show', `main:${PAGE}`])}\n`;
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await loop?.close();
  }, 60_000);

  /** The homepage as the deploy branch has it at the start. */
  let original: string;
  const origin = () => `${loop.home}/origin.git`;
  const editorUrl = () => `http://${editorHost(loop.url)}`;
  const siteUrl = () => `http://localhost:${new URL(loop.url).port}`;
  const previewHost = (name: string) => `${name}.localhost:${new URL(loop.url).port}`;
  const head = (ref = 'main') => git(origin(), ['rev-parse', `refs/heads/${ref}`]);
  const served = (host?: string) => request(loop.url, 'GET', '/', host ? { host } : {});

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
    return context.newPage();
  }

  /** `text` with line `n` (1-based) replaced by `line`, indented as it was. */
  function withLine(text: string, n: number, line: string): string {
    const lines = text.split('\n');
    lines[n - 1] = lines[n - 1]!.replace(/^(\s*).*$/, `$1${line}`);
    return lines.join('\n');
  }

  /** Types `line` over line `n` of the editor (after its indentation), as a person would. */
  async function typeLine(page: Page, n: number, line: string): Promise<void> {
    await page.locator('.editor-host .monaco-editor .view-lines').click();
    await page.keyboard.press('Control+Home');
    for (let i = 1; i < n; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+End');
    await page.keyboard.type(line);
  }

  it('an author saves to a change request, its preview serves it, an admin sees them on the file and publishes it', async () => {
    const first = head();
    const EDITED = withLine(original, HEADLINE, headline('A new look'));
    /** The admin's change to the change request (the title) and Ann's next (the headline). */
    const THEIRS = withLine(EDITED, TITLE, '<title>Reflex, anew</title>');
    const BOTH = withLine(THEIRS, HEADLINE, headline('A newer look'));
    const ann = await newPage();
    const problems = await watchProblems(ann);
    await signIn(ann, editorUrl(), AUTHOR.username, AUTHOR.password);

    // On the deploy branch, an author's save asks for a change request and commits nothing.
    await openFile(ann, PAGE);
    await typeLine(ann, HEADLINE, headline('A new look'));
    await ann.keyboard.press('Control+s');
    const asked = ann.locator('.notice-info');
    await asked.waitFor();
    expect(await asked.locator('.notice-title').textContent()).toBe(
      'Your changes go into a change request.',
    );
    expect(await ann.locator('dialog.review').count()).toBe(0);
    expect(head()).toBe(first);

    // Create one from the notice; the workbench is then on it.
    await asked.getByRole('button', { name: 'New change request' }).click();
    const dialog = ann.locator('dialog.new-change');
    await dialog.getByLabel('Title').fill('New look');
    await dialog.getByLabel('Description (optional)').fill('A new headline.');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const onChange = ann.locator('.topbar .on-change');
    await onChange.waitFor();
    expect(await onChange.locator('strong').textContent()).toBe('New look');
    expect(await ann.locator('.topbar .repo').textContent()).toContain('reflex/ann/new-look');

    // The unsaved text went with it; its save goes to the change request's branch, not to main.
    await ann
      .locator('.notice-info', { hasText: `Restored your unsaved changes to ${PAGE}` })
      .waitFor();
    expect(await visibleText(ann)).toBe(EDITED);
    await ann.keyboard.press('Control+s');
    const review = ann.locator('dialog.review');
    await review.getByRole('button', { name: 'Commit and push to reflex/ann/new-look' }).waitFor();
    // Its commit goes live on the preview, never on the deploy branch's /version: not polled.
    let versionPolls = 0;
    ann.on('request', (r) => void (new URL(r.url()).pathname === '/version' && versionPolls++));
    expect(await review.locator('.diff-line.diff-add').allTextContents()).toEqual([
      `+${EDITED.split('\n')[HEADLINE - 1]}`,
    ]);
    await review.getByRole('button', { name: /^Commit and push/ }).click();
    await ann.locator('.notice-success').waitFor();
    const changeHead = head('reflex/ann/new-look');
    expect(git(origin(), ['show', `${changeHead}:${PAGE}`])).toBe(EDITED.trimEnd());
    expect(head()).toBe(first);

    // The preview serves the change; the deploy branch does not.
    await loop.waitForEvent(
      (e) =>
        e.preview === 'new-look' &&
        e.sha === changeHead &&
        e.stage === 'live' &&
        e.status === 'succeeded',
      180_000,
    );
    expect((await served(previewHost('new-look'))).body).toContain('A new look');
    expect((await served()).body).not.toContain('A new look');
    const row = ann.locator('.changes .change[data-change="ann/new-look"]');
    // The list follows saves and previews on its own: the file count comes with the save, the
    // preview's state with its own event, so each is awaited before the row is read whole.
    await row.locator('.change-meta', { hasText: '1 file' }).waitFor({ timeout: 30_000 });
    await row
      .locator('.change-preview', { hasText: /^preview live$/ })
      .waitFor({ timeout: 30_000 });
    expect(await row.locator('.change-meta').textContent()).toBe('by ann · 1 file · open');
    expect(await row.locator('.change-files').textContent()).toBe(PAGE);
    expect(await row.locator('.change-preview').textContent()).toBe('preview live');
    expect(await row.getByRole('button', { name: 'Publish' }).count()).toBe(0);
    await shoot(ann, 'editor-change-request.png');
    expect(versionPolls).toBe(0);

    // The admin, with the homepage open on main, sees Ann on it (in her change request).
    const admin = await newPage();
    await signIn(admin, editorUrl(), 'admin', ADMIN_PASSWORD);
    await openFile(admin, PAGE);
    const presence = admin.locator('.statusbar .presence');
    await presence.filter({ hasText: 'Ann Author' }).waitFor({ timeout: 10_000 });
    expect(await presence.textContent()).toBe('Also open by Ann Author (on reflex/ann/new-look)');
    await shoot(admin, 'editor-presence.png');

    // The admin saves to the change request too; Ann is told, and her next save, on the line
    // of hers, is merged with it three-way.
    const adminRow = admin.locator('.changes .change[data-change="ann/new-look"]');
    await adminRow.getByRole('button', { name: 'Open' }).click();
    await admin.locator('.topbar .on-change').waitFor();
    await openFile(admin, PAGE);
    await typeLine(admin, TITLE, '<title>Reflex, anew</title>');
    await admin.keyboard.press('Control+s');
    await admin
      .locator('dialog.review')
      .getByRole('button', { name: /^Commit and push/ })
      .click();
    await admin.locator('.notice-success').waitFor();
    const theirs = head('reflex/ann/new-look');
    expect(theirs).not.toBe(changeHead);
    await ann.locator('.notice-info', { hasText: `admin saved ${PAGE}` }).waitFor();
    // Ann's tab of the file says who else has it open.
    // (the mark follows the admin's tab: unsaved changes while typing, then saved)
    await ann
      .locator(`.tab[data-path="${PAGE}"] .tab-others[aria-label="Also open by Administrator"]`)
      .waitFor();
    await typeLine(ann, HEADLINE, headline('A newer look'));
    await ann.keyboard.press('Control+s');
    await ann
      .locator('dialog.review')
      .getByRole('button', { name: /^Commit and push/ })
      .click();
    const merged = ann.locator('.notice-success', { hasText: "merged with admin's change" });
    await merged.waitFor();
    const mergedHead = head('reflex/ann/new-look');
    expect(await merged.locator('.notice-title').textContent()).toBe(
      `Saved ${PAGE} as ${mergedHead.slice(0, 7)}: merged with admin's change.`,
    );
    expect(git(origin(), ['show', `${mergedHead}:${PAGE}`])).toBe(BOTH.trimEnd());
    expect(await visibleText(ann)).toBe(BOTH);
    expect(await ann.locator('.file-state').textContent()).toContain('Saved');
    await shoot(ann, 'editor-merged.png');
    // A reload stays on the change request.
    expect(new URL(ann.url()).hash).toBe('#change=ann/new-look');
    await ann.reload();
    await ann.locator('.topbar .on-change', { hasText: 'New look' }).waitFor();
    await openFile(ann, PAGE);

    // Back on main, the admin changes other lines of the homepage there (not following the
    // pipeline to the site meanwhile). Ann, who has it open in her change request, is told, and
    // her next save takes it in, merged: the change request is a merge with main.
    await admin.locator('.topbar .on-change').getByRole('button', { name: 'Back to main' }).click();
    await admin.locator('.topbar .on-change').waitFor({ state: 'detached' });
    await admin.getByLabel('Take me to the updated app when it is live').uncheck();
    await openFile(admin, PAGE);
    const TAGLINE_TEXT = 'Edit it, preview it in a change request, publish it.';
    await typeLine(admin, TAGLINE, TAGLINE_TEXT);
    await saveThroughReview(admin);
    await until(() => head() !== first);
    const onMain = head();
    expect(git(origin(), ['show', `${onMain}:${PAGE}`])).toBe(
      withLine(original, TAGLINE, TAGLINE_TEXT).trimEnd(),
    );
    await ann.locator('.notice-info', { hasText: `admin saved ${PAGE} on main` }).waitFor();
    await typeLine(ann, TITLE, '<title>Reflex, anew and together</title>');
    await saveThroughReview(ann);
    await until(() => head('reflex/ann/new-look') !== mergedHead);
    const withMain = head('reflex/ann/new-look');
    const ALL = withLine(
      withLine(BOTH, TITLE, '<title>Reflex, anew and together</title>'),
      TAGLINE,
      TAGLINE_TEXT,
    );
    const tookIn = ann.locator('.notice-success', {
      hasText: `${PAGE} as ${withMain.slice(0, 7)}`,
    });
    await tookIn.waitFor();
    expect(await tookIn.locator('.notice-title').textContent()).toBe(
      `Saved ${PAGE} as ${withMain.slice(0, 7)}: merged with admin's change.`,
    );
    expect(git(origin(), ['show', `${withMain}:${PAGE}`])).toBe(ALL.trimEnd());
    expect(git(origin(), ['rev-parse', `${withMain}^2`])).toBe(onMain);
    expect(head()).toBe(onMain);
    expect(await visibleText(ann)).toBe(ALL);
    await shoot(ann, 'editor-change-takes-in-main.png');
    // Its preview runs what publishing would make: both changes.
    await loop.waitForEvent(
      (e) =>
        e.preview === 'new-look' &&
        e.sha === withMain &&
        e.stage === 'live' &&
        e.status === 'succeeded',
      180_000,
    );
    const preview = (await served(previewHost('new-look'))).body;
    expect(preview).toContain(TAGLINE_TEXT);
    expect(preview).toContain('A newer look');

    // The admin then changes the headline on main, which Ann's change request changes too: her
    // next save of it gets the merge view against main's version, and nothing is written.
    await typeLine(admin, HEADLINE, headline('Hello from main'));
    await saveThroughReview(admin);
    await until(() => head() !== onMain);
    const overlapping = head();
    await typeLine(ann, HEADLINE, headline('Our newest look'));
    await saveThroughReview(ann);
    const merge = ann.locator('.merge');
    await merge.locator('.monaco-diff-editor').waitFor();
    expect(await merge.locator('.merge-title').textContent()).toBe(
      `${PAGE} changed on main (now at ${overlapping.slice(0, 7)}) while you edited it.`,
    );
    await ann
      .locator('.notice-warning', {
        hasText: 'changed on main since this change request took it in',
      })
      .waitFor();
    expect(await visibleText(ann, '.merge .editor.original')).toContain('Hello from main');
    expect(await visibleText(ann, '.merge .editor.modified')).toContain('Our newest look');
    expect(head('reflex/ann/new-look')).toBe(withMain);
    expect(head()).toBe(overlapping);
    await shoot(ann, 'editor-change-merge-view.png', { x: 0 });
    // Ann keeps her headline; saved on the new base, the change request takes main in again.
    await merge.getByRole('button', { name: 'Keep mine' }).click();
    await merge.getByRole('button', { name: 'Save on the new base' }).click();
    await ann
      .locator('dialog.review')
      .getByRole('button', { name: /^Commit and push/ })
      .click();
    await ann.locator('.merge').waitFor({ state: 'hidden' });
    const FINAL = withLine(ALL, HEADLINE, headline('Our newest look'));
    await until(() => head('reflex/ann/new-look') !== withMain);
    const resolved = head('reflex/ann/new-look');
    expect(git(origin(), ['show', `${resolved}:${PAGE}`])).toBe(FINAL.trimEnd());
    expect(git(origin(), ['rev-parse', `${resolved}^2`])).toBe(overlapping);

    // The admin publishes (following it to the site again, once main's own saves are live).
    await loop.waitForVersion(overlapping, 180_000);
    await admin
      .locator('.notice-success', { hasText: `${overlapping.slice(0, 7)} is live.` })
      .waitFor({ timeout: 60_000 });
    await admin.getByLabel('Take me to the updated app when it is live').check();
    await adminRow.getByRole('button', { name: 'Publish' }).click();
    const confirm = admin.locator('dialog.confirm');
    await confirm.getByRole('button', { name: 'Publish to main' }).waitFor();
    await shoot(admin, 'editor-publish.png');
    await confirm.getByRole('button', { name: 'Publish to main' }).click();
    // The publish is followed like a save: once live, the admin is taken to the updated site.
    await admin.waitForURL(`${siteUrl()}/`, { timeout: 180_000 });
    expect(await admin.locator('#headline').textContent()).toBe('Our newest look');
    expect(await admin.title()).toBe('Reflex, anew and together');
    expect(await admin.locator('#tagline').textContent()).toContain(TAGLINE_TEXT);
    const published = head();
    expect(git(origin(), ['show', `${published}:${PAGE}`])).toBe(FINAL.trimEnd());
    await loop.waitForVersion(published, 180_000);
    expect((await served()).body).toContain('Our newest look');
    await until(async () => (await served(previewHost('new-look'))).status === 404);
    expect(problems.errors).toEqual([]);
    await ann.context().close();
    await admin.context().close();
  });
});

/**
 * A screenshot in test-artifacts; with REFLEX_DOC_IMAGES=1 also the copy docs/EDITOR.md shows
 * (docs/images), without the file tree unless `from.x` says otherwise, to keep it small.
 */
async function shoot(page: Page, name: string, from: { x?: number } = {}): Promise<void> {
  await screenshot(page, name);
  if (process.env.REFLEX_DOC_IMAGES !== '1') return;
  const x = from.x ?? 270;
  const { width, height } = page.viewportSize()!;
  await page.screenshot({
    path: path.join(__dirname, '..', 'docs', 'images', name),
    clip: { x, y: 0, width: width - x, height },
  });
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
