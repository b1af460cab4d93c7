/**
 * Browser tests: Debian's Chromium driven by playwright-core, against the real app (editor on,
 * a real bare origin) listening on a loopback port, with the editor UI the browser tier's
 * globalSetup built (jest/browserSetup.mjs).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { editorUi } from '../../src/routes/editorUi';
import { editorHarness, PASSWORD, serveHarness, type ServedHarness } from './editorApp';

export const ARTIFACTS = path.resolve(__dirname, '../../../test-artifacts');

/** Flags for a headless Chromium that never talks to the network on its own. */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The `chromium` on PATH (the browser tier's required tool). */
export function chromiumPath(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'chromium');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('chromium is not on PATH (install the Debian package "chromium")');
}

/** A headless Chromium; playwright gives it a fresh profile folder of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_FLAGS });
}

/** The UI build of the tier's globalSetup. */
export function builtUiDir(): string {
  const dir = process.env.REFLEX_TEST_UI_DIR;
  if (!dir) throw new Error('REFLEX_TEST_UI_DIR is not set: run browser tests as the browser tier');
  return dir;
}

export type EditorSite = ServedHarness;

/** The real app with the editor and its UI, listening on a free loopback port. */
export async function startEditorSite(
  options: Parameters<typeof editorHarness>[0] = {},
): Promise<EditorSite> {
  const h = await editorHarness({ ...options, editorUi: editorUi({ dir: builtUiDir() }) });
  return serveHarness(h);
}

/** Records CSP violations and uncaught errors of a page (across reloads of it). */
export interface PageProblems {
  errors: string[];
  /** Violations since the page last loaded. */
  violations(): Promise<string[]>;
}

/** Runs in the page before its own scripts (the test tsconfig has no DOM types: a string). */
const RECORD_VIOLATIONS = `
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + (e.sample ? ' (' + e.sample + ')' : '') + ' at ' + e.sourceFile + ':' + e.lineNumber);
  });
`;

export async function watchProblems(page: Page): Promise<PageProblems> {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.addInitScript({ content: RECORD_VIOLATIONS });
  return {
    errors,
    violations: () => page.evaluate<string[]>('window.cspViolations ?? []'),
  };
}

export async function signIn(
  page: Page,
  baseUrl: string,
  username = 'admin',
  password = PASSWORD,
): Promise<void> {
  await page.goto(`${baseUrl}/editor/`);
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.workbench .tree button.file').first().waitFor();
}

/** Opens `repoPath` from the tree (through the filter, so folders need not be open). */
export async function openFile(page: Page, repoPath: string): Promise<void> {
  await page.locator('#file-filter').fill(repoPath);
  await page.locator(`.tree button.file[data-path="${repoPath}"]`).click();
  await page.locator(`.tab[data-path="${repoPath}"].active`).waitFor();
  await page.locator('#file-filter').fill('');
  await page.locator('.editor-host .monaco-editor .view-lines').waitFor();
}

/** The text Monaco shows (visible lines), with its non-breaking spaces as spaces. */
export async function visibleText(page: Page, scope = '.editor-host'): Promise<string> {
  const lines: { top: number; text: string }[] = await page
    .locator(`${scope} .view-lines .view-line`)
    .evaluateAll((els) =>
      els.map((el) => {
        // Runs in the page: Monaco positions each line absolutely, not in DOM order.
        const line = el as unknown as { style: { top: string }; textContent: string | null };
        return { top: parseFloat(line.style.top), text: line.textContent ?? '' };
      }),
    );
  return lines
    .sort((a, b) => a.top - b.top)
    .map((l) => l.text)
    .join('\n')
    .replace(/\u00a0/g, ' ');
}

/** Puts the cursor at the end of the document and types `text`. */
export async function typeAtEnd(page: Page, text: string): Promise<void> {
  await page.locator('.editor-host .monaco-editor .view-lines').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(text);
}

/** Saves with Ctrl+S and confirms the review dialog as it stands (no message). */
export async function saveThroughReview(page: Page): Promise<void> {
  await page.keyboard.press('Control+s');
  await page
    .locator('dialog.review')
    .getByRole('button', { name: /^Commit and push/ })
    .click();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}
