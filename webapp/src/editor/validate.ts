/**
 * Checks a proposed file content before anything is committed: text only, within the size
 * limit, and — for source and JSON files — it parses. Errors carry the parser's position.
 */
import type * as Esbuild from 'esbuild';

/** Loaded on the first save, not at start-up: instance start time is on the edit → live path. */
let esbuild: typeof Esbuild | undefined;

export type ContentProblem =
  | { kind: 'too_large'; message: string }
  | { kind: 'invalid'; message: string; line?: number; column?: number };

const PARSED_BY_ESBUILD: Record<string, 'ts' | 'tsx' | 'js' | 'jsx'> = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.jsx': 'jsx',
};

function extension(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot).toLowerCase();
}

/** Returns undefined when the content may be saved, else the problem. */
export async function checkContent(
  path: string,
  content: string,
  maxBytes: number,
): Promise<ContentProblem | undefined> {
  const bytes = Buffer.byteLength(content, 'utf8');
  if (bytes > maxBytes) {
    return { kind: 'too_large', message: `file is ${bytes} bytes; the limit is ${maxBytes}` };
  }
  if (!content.isWellFormed()) {
    return { kind: 'invalid', message: 'content is not valid UTF-8 text (lone surrogate)' };
  }
  if (content.includes('\u0000')) {
    return {
      kind: 'invalid',
      message: 'content contains NUL bytes; only text files can be edited',
    };
  }
  const ext = extension(path);
  if (ext === '.json') return await checkJson(content);
  const loader = PARSED_BY_ESBUILD[ext];
  if (loader) return checkSource(content, loader, path);
  return undefined;
}

async function checkSource(
  content: string,
  loader: 'ts' | 'tsx' | 'js' | 'jsx' | 'json',
  path: string,
) {
  esbuild ??= await import('esbuild');
  try {
    await esbuild.transform(content, { loader, sourcefile: path, logLevel: 'silent' });
    return undefined;
  } catch (err) {
    const first = (
      err as { errors?: { text: string; location?: { line: number; column: number } }[] }
    ).errors?.[0];
    if (!first) throw err;
    return {
      kind: 'invalid' as const,
      message: `${loader === 'json' ? 'invalid JSON' : 'syntax error'}: ${first.text}`,
      ...(first.location ? { line: first.location.line, column: first.location.column + 1 } : {}),
    };
  }
}

/**
 * JSON.parse decides; its messages rarely carry a position, so esbuild's JSON parser (which
 * reports line and column) is asked where the problem is.
 */
async function checkJson(content: string): Promise<ContentProblem | undefined> {
  try {
    JSON.parse(content);
    return undefined;
  } catch (err) {
    const located = await checkSource(content, 'json', 'file.json');
    return located ?? { kind: 'invalid', message: `invalid JSON: ${(err as Error).message}` };
  }
}

/** True when stored content looks binary (and so is not offered for editing). */
export function looksBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}
