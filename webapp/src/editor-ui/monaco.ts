/**
 * Monaco, as much of it as the editor uses: the editor and diff editor, the everyday editing
 * features, syntax highlighting for the site's languages (TypeScript, JavaScript, CSS, HTML,
 * Markdown) and the JSON language service. Loaded on demand by the app (its own chunk).
 *
 * Left out on purpose: the TypeScript language service (its worker alone is ~1.4 MB gzip, over
 * the editor's whole first-load budget; the server's 422 and the pipeline's gate catch errors)
 * and the CSS/HTML language services (highlighting comes from the Monarch grammars).
 */
import * as monaco from 'monaco-editor/editor/editor.api.js';
import 'monaco-editor/features/codicon/register.js';
import 'monaco-editor/features/codeEditor/register.js';
import 'monaco-editor/features/diffEditor/register.js';
import 'monaco-editor/features/bracketMatching/register.js';
import 'monaco-editor/features/caretOperations/register.js';
import 'monaco-editor/features/clipboard/register.js';
import 'monaco-editor/features/comment/register.js';
import 'monaco-editor/features/contextmenu/register.js';
import 'monaco-editor/features/cursorUndo/register.js';
import 'monaco-editor/features/find/register.js';
import 'monaco-editor/features/folding/register.js';
import 'monaco-editor/features/format/register.js';
import 'monaco-editor/features/gotoError/register.js';
import 'monaco-editor/features/gotoLine/register.js';
import 'monaco-editor/features/hover/register.js';
import 'monaco-editor/features/indentation/register.js';
import 'monaco-editor/features/linesOperations/register.js';
import 'monaco-editor/features/linkedEditing/register.js';
import 'monaco-editor/features/links/register.js';
import 'monaco-editor/features/multicursor/register.js';
import 'monaco-editor/features/quickCommand/register.js';
import 'monaco-editor/features/quickHelp/register.js';
import 'monaco-editor/features/readOnlyMessage/register.js';
import 'monaco-editor/features/smartSelect/register.js';
import 'monaco-editor/features/snippet/register.js';
import 'monaco-editor/features/suggest/register.js';
import 'monaco-editor/features/toggleTabFocusMode/register.js';
import 'monaco-editor/features/tokenization/register.js';
import 'monaco-editor/features/unicodeHighlighter/register.js';
import 'monaco-editor/features/wordHighlighter/register.js';
import 'monaco-editor/features/wordOperations/register.js';
import 'monaco-editor/features/wordPartOperations/register.js';
import 'monaco-editor/languages/definitions/typescript/register.js';
import 'monaco-editor/languages/definitions/javascript/register.js';
import 'monaco-editor/languages/definitions/css/register.js';
import 'monaco-editor/languages/definitions/html/register.js';
import 'monaco-editor/languages/definitions/markdown/register.js';
import 'monaco-editor/languages/features/json/register.js';

export type Monaco = typeof monaco;

export interface WorkerUrls {
  /** The editor worker (diffs, word completions, links). */
  editor: string;
  /** The JSON language service's worker. */
  json: string;
}

interface TrustedTypePolicyFactoryLike {
  createPolicy(
    name: string,
    rules: { createScriptURL: (input: string) => string },
  ): { createScriptURL(input: string): unknown };
}

/**
 * Tells Monaco where its workers are. They are same-origin module workers (the page's CSP
 * allows `worker-src 'self'` and no blob: URLs), created through a Trusted Types policy that
 * accepts exactly these two URLs.
 */
export function setUpMonaco(workers: WorkerUrls): Monaco {
  const allowed = new Set([workers.editor, workers.json]);
  const factory = (globalThis as { trustedTypes?: TrustedTypePolicyFactoryLike }).trustedTypes;
  const policy = factory?.createPolicy('reflexWorkers', {
    createScriptURL: (url) => {
      if (!allowed.has(url)) throw new TypeError(`not a worker of the editor: ${url}`);
      return url;
    },
  });
  globalThis.MonacoEnvironment = {
    ...globalThis.MonacoEnvironment,
    getWorker(_workerId, label) {
      const url = label === 'json' ? workers.json : workers.editor;
      return new Worker((policy ? policy.createScriptURL(url) : url) as string, {
        type: 'module',
        name: label,
      });
    },
  };
  return monaco;
}
