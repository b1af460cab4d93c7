/**
 * The pipeline panel's event stream in a real Chromium against the real app, following a
 * loopback stand-in of the supervisor's control API with its real tracker: the server ends
 * every stream after its lifetime and caps streams per session, and the panel comes back each
 * time, showing each stage once.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { StageEvent } from '../src/pipeline/types';
import {
  launchChromium,
  signIn,
  startEditorSite,
  watchProblems,
  type EditorSite,
  type PageProblems,
} from './support/browser';
import { supervisorStandIn, type SupervisorStandIn } from './support/supervisorStandIn';

jest.setTimeout(90_000);

const SHA = 'd'.repeat(40);
const stage = (name: StageEvent['stage'], status: StageEvent['status']): StageEvent => ({
  sha: SHA,
  stage: name,
  status,
  at: new Date().toISOString(),
});

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the pipeline panel’s event stream in Chromium', () => {
  let browser: Browser;
  let supervisor: SupervisorStandIn;
  let site: EditorSite;
  let context: BrowserContext;
  const watched: { page: Page; problems: PageProblems }[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser.close();
  });
  async function start(env: Record<string, string>): Promise<void> {
    supervisor = await supervisorStandIn();
    site = await startEditorSite({ supervisorUrl: supervisor.url, env });
    context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  }
  afterEach(async () => {
    for (const { page, problems } of watched.splice(0)) {
      if (!page.isClosed()) expect(await problems.violations()).toEqual([]);
      expect(problems.errors).toEqual([]);
    }
    await context.close();
    await site.close();
    await supervisor.close();
  });

  async function newPage(): Promise<{ page: Page; streams: () => number }> {
    const page = await context.newPage();
    watched.push({ page, problems: await watchProblems(page) });
    let opened = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/pipeline/events') opened++;
    });
    return { page, streams: () => opened };
  }

  it('comes back each time the server ends the stream, and shows each stage once', async () => {
    await start({ REFLEX_STREAM_MAX_SECONDS: '1' });
    const { page, streams } = await newPage();
    await signIn(page, site.baseUrl);
    await page.locator('.pipeline-connection[data-connection="connected"]').waitFor();
    supervisor.emit(stage('committed', 'succeeded'));
    supervisor.emit(stage('checkout', 'succeeded'));
    supervisor.emit(stage('gate', 'started'));
    const run = page.locator(`.pipeline .run[data-sha="${SHA}"]`);
    await run.locator('.stage[data-stage="gate"][data-state="running"]').waitFor();

    // Three lifetimes later: every (re)connection replayed the recent events.
    const before = streams();
    await until(() => streams() >= before + 3, 20_000);
    supervisor.emit(stage('gate', 'succeeded'));
    await run.locator('.stage[data-stage="gate"][data-state="succeeded"]').waitFor();
    expect(await run.locator('.stage').count()).toBe(7);
    expect(await run.locator('.stage[data-stage="gate"]').count()).toBe(1);
    expect(await page.locator('.pipeline .run').count()).toBe(1);
    await page.locator('.pipeline-connection[data-connection="connected"]').waitFor();
  });

  it('a stream refused by the cap per session is asked for again, not taken for a missing pipeline', async () => {
    await start({ REFLEX_STREAMS_PER_SESSION: '1' });
    const first = await newPage();
    await signIn(first.page, site.baseUrl);
    await first.page.locator('.pipeline-connection[data-connection="connected"]').waitFor();

    const second = await newPage(); // same browser context: the same session
    await second.page.goto(`${site.baseUrl}/editor/`);
    const status = second.page.locator('.pipeline-connection');
    await status.and(second.page.locator('[data-connection="reconnecting"]')).waitFor();
    expect(await second.page.locator('.pipeline-body').textContent()).not.toContain(
      'No pipeline is connected',
    );

    await first.page.close();
    await status.and(second.page.locator('[data-connection="connected"]')).waitFor({
      timeout: 40_000,
    });
  });
});
