/**
 * The editor on the whole local loop (issue 4's browser acceptance), with real processes and
 * real git on loopback: in Chromium, edit the homepage in Monaco and save; the pipeline
 * panel streams the stages; once /version reports the commit the editor takes the user to
 * the updated page, on the site's origin (the editor is used from its own, `editor.localhost`).
 * Then the releases view rolls back to the first release, which goes through the pipeline and
 * brings the old page back.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UserStore } from '../webapp/src/auth/users';
import { LOCAL_STAGES } from '../webapp/src/pipeline/types';
import {
  launchChromium,
  openFile,
  saveThroughReview,
  screenshot,
  signIn,
  watchProblems,
} from '../webapp/test/support/browser';
import { ADMIN_PASSWORD, editorHost, git, request, startLoop, type Loop } from './support/loop';

jest.setTimeout(300_000);

const PAGE = 'webapp/site/pages/index.html';
const EDITED =
  '<!doctype html>\n<title>Reflex</title>\n<h1 id=headline>Edited in the browser</h1>\n';

/** Runs in the page: reports every stage state the pipeline panel renders, as it renders it. */
const OBSERVE_STAGES = `
  const seen = new Set();
  new MutationObserver(() => {
    for (const run of document.querySelectorAll('.pipeline .run[data-sha]')) {
      for (const stage of run.querySelectorAll('.stage')) {
        const key = run.dataset.sha + ' ' + stage.dataset.stage + ' ' + stage.dataset.state;
        if (!seen.has(key)) {
          seen.add(key);
          window.reflexStageSeen(key);
        }
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true });
`;

describe('the editor on the local loop', () => {
  let loop: Loop;
  let browser: Browser;

  beforeAll(async () => {
    // No gate steps: the gate's own behaviour is the e2e tier's; this is about what the
    // editor shows while the pipeline runs (the gate stage still starts and succeeds).
    loop = await startLoop({ gate: [] });
    await loop.supervisor.whenLive();
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await loop?.close();
  });

  const origin = () => `${loop.home}/origin.git`;
  // The editor is used from its own origin; the site is every other host name of the edge.
  const editorUrl = () => `http://${editorHost(loop.url)}`;
  const siteUrl = () => `http://localhost:${new URL(loop.url).port}`;
  const head = () => git(origin(), ['rev-parse', 'refs/heads/main']);
  const version = async () =>
    (JSON.parse((await request(loop.url, 'GET', '/version')).body) as { sha: string }).sha;

  async function stagePage(): Promise<{ page: Page; seen: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
    const page = await context.newPage();
    const seen: string[] = [];
    await page.exposeFunction('reflexStageSeen', (key: string) => void seen.push(key));
    await page.addInitScript({ content: OBSERVE_STAGES });
    return { page, seen };
  }

  it('a save in Monaco streams the stages and takes the user to the updated page; a rollback from the releases view brings the old page back', async () => {
    const first = head();
    expect(await version()).toBe(first);
    const { page, seen } = await stagePage();
    const problems = await watchProblems(page);
    await signIn(page, editorUrl(), 'admin', ADMIN_PASSWORD);
    await page.locator('.pipeline-connection[data-connection="connected"]').waitFor();

    await openFile(page, PAGE);
    await page.locator('.editor-host .monaco-editor .view-lines').click();
    await page.keyboard.press('Control+a');
    await page.keyboard.type(EDITED);
    await saveThroughReview(page);
    await page.locator('.notice-success').waitFor();
    const commit = head();
    expect(commit).not.toBe(first);
    expect(git(origin(), ['show', `${commit}:${PAGE}`])).toBe(EDITED.trimEnd());

    // The panel follows the commit; the build stage is seen running, then done.
    const run = page.locator(`.pipeline .run[data-sha="${commit}"]`);
    await run.locator('.stage[data-stage="build"][data-state="succeeded"]').waitFor({
      timeout: 180_000,
    });
    await screenshot(page, 'editor-pipeline.png');
    expect(await problems.violations()).toEqual([]);

    // Live: the editor takes the user to the page they edited, on the site's origin.
    await page.waitForURL(`${siteUrl()}/`, { timeout: 180_000 });
    await page.locator('#headline').waitFor();
    expect(await page.locator('#headline').textContent()).toBe('Edited in the browser');
    expect(await version()).toBe(commit);
    for (const stage of LOCAL_STAGES) expect(seen).toContain(`${commit} ${stage} succeeded`);
    expect(seen).toContain(`${commit} build running`);
    expect(problems.errors).toEqual([]);

    // The releases view: the new release is live, the first one can be rolled back to.
    await page.goto(`${editorUrl()}/editor/`);
    await page.getByRole('button', { name: 'Releases' }).click();
    const dialog = page.locator('dialog.releases');
    const live = dialog.locator(`tr[data-sha="${commit}"]`);
    await live.waitFor();
    expect(await live.locator('.badge').textContent()).toBe('live');
    expect(await live.locator('.timings').textContent()).toMatch(/build \d/);
    expect(await live.getByRole('button').count()).toBe(0);
    const older = dialog.locator(`tr[data-sha="${first}"]`);
    expect(await older.locator('.badge').textContent()).toBe('was live');
    await older.getByRole('button', { name: `Roll back to ${first.slice(0, 7)}` }).click();
    const confirm = page.locator('dialog.confirm');
    expect(await confirm.locator('h2').textContent()).toBe(`Roll back to ${first.slice(0, 7)}?`);
    await confirm.getByRole('button', { name: 'Roll back' }).click();
    await page.locator('.notice-success').waitFor();
    const revert = head();
    expect(git(origin(), ['log', '-1', '--format=%s', revert])).toBe(
      `Roll back to ${first.slice(0, 12)}`,
    );
    expect(git(origin(), ['rev-parse', `${revert}^{tree}`])).toBe(
      git(origin(), ['rev-parse', `${first}^{tree}`]),
    );

    await page.waitForURL(`${siteUrl()}/`, { timeout: 180_000 });
    await page.locator('#headline').waitFor();
    expect(await page.locator('#headline').textContent()).toBe('Hello from Reflex');
    expect(await version()).toBe(revert);
    expect(seen).toContain(`${revert} live succeeded`);
    expect(problems.errors).toEqual([]);
    await page.context().close();
  });

  it('a viewer sees the releases with their outcome and timings, and no rollback', async () => {
    await new UserStore(path.join(loop.home, 'users.json')).add({
      username: 'vic',
      name: 'Vic Viewer',
      role: 'viewer',
      password: 'viewer-password-1',
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
    const page = await context.newPage();
    await signIn(page, editorUrl(), 'vic', 'viewer-password-1');
    await page.getByRole('button', { name: 'Releases' }).click();
    const dialog = page.locator('dialog.releases');
    const live = dialog.locator(`tr[data-sha="${await version()}"]`);
    await live.waitFor();
    expect(await live.locator('.badge').textContent()).toBe('live');
    expect(await live.locator('.timings').textContent()).toMatch(/checkout \d.* · build \d/);
    expect(await dialog.locator('tr.release').count()).toBeGreaterThanOrEqual(1);
    expect(await dialog.getByRole('button', { name: /^Roll back/ }).count()).toBe(0);
    expect(await dialog.textContent()).toContain('only editors can roll back');
    await context.close();
  });
});
