// The size rule of docs/ARCHITECTURE.md: no source file over 400 lines, and the two modules
// that once held everything stay small. Tests, fixtures, test support and generated files aside.
// It walks the tree rather than asking git, so that it holds in a release folder as well.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const SOURCES = [
  'webapp/src',
  'webapp/site',
  'webapp/scripts',
  'pulumi',
  'deploy-scripts',
  'bench',
  'scripts',
  'jest',
  '.github',
];
const CODE = /\.(?:ts|mts|cts|js|mjs|cjs|sh)$/;
const NOT_SOURCE =
  /(?:\.test\.ts$|\.d\.m?ts$|(?:^|\/)(?:node_modules|dist|testing|fixtures|test)\/)/;
const LIMIT = 400;
const TIGHTER: Record<string, number> = {
  'webapp/src/editor-ui/workbench.ts': 300,
  'webapp/src/loop/pipeline.ts': 250,
  'webapp/src/loop/scheduler.ts': 250,
  'webapp/src/loop/recorder.ts': 250,
  'webapp/src/loop/fleet.ts': 250,
};

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const relative = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(relative);
    else if (entry.isFile() && CODE.test(relative) && !NOT_SOURCE.test(relative)) yield relative;
  }
}

function lines(file: string): number {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

describe('source size', () => {
  const sources = SOURCES.flatMap((dir) => [...files(dir)]);

  it('finds the sources it measures', () => {
    expect(sources).toEqual(expect.arrayContaining(Object.keys(TIGHTER)));
    expect(sources).toContain('webapp/src/loop/supervisor.ts');
  });

  it(`keeps every source file at ${LIMIT} lines or fewer`, () => {
    const over = sources
      .map((file) => ({ file, lines: lines(file) }))
      .filter(({ file, lines: n }) => n > (TIGHTER[file] ?? LIMIT));
    expect(over).toEqual([]);
  });
});
