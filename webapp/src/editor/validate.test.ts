import { checkContent, looksBinary } from './validate';

describe('checkContent', () => {
  it('accepts text within the limit', async () => {
    expect(await checkContent('a.html', '<p>é</p>', 100)).toBeUndefined();
  });

  it('counts the limit in UTF-8 bytes', async () => {
    expect(await checkContent('a.txt', 'é'.repeat(6), 12)).toBeUndefined();
    expect(await checkContent('a.txt', 'é'.repeat(7), 12)).toEqual({
      kind: 'too_large',
      message: 'file is 14 bytes; the limit is 12',
    });
  });

  it('refuses lone surrogates and NUL bytes', async () => {
    expect((await checkContent('a.txt', 'a\ud800', 100))?.kind).toBe('invalid');
    expect((await checkContent('a.txt', 'a\u0000b', 100))?.message).toMatch(/NUL/);
  });

  it.each([
    ['x.ts', 'const a: number = ;', 1],
    ['x.tsx', 'export const A = () => <div>;\n', 2],
    ['x.js', 'function (\n', 1],
    ['x.mjs', 'ok();\nimport {', 2],
  ])('%s that does not parse is invalid, with its line', async (file, content, line) => {
    const problem = await checkContent(file, content, 10_000);
    expect(problem).toMatchObject({ kind: 'invalid', line, column: expect.any(Number) });
    expect(problem?.message).toMatch(/^syntax error: /);
  });

  it('a type error still parses: types are the gate’s job', async () => {
    expect(await checkContent('x.ts', 'const a: number = "text";\n', 10_000)).toBeUndefined();
  });

  it('reports the line and column of a JSON error', async () => {
    expect(await checkContent('x.json', '{\n  "a": 1,\n  "b": }\n', 10_000)).toMatchObject({
      kind: 'invalid',
      line: 3,
      column: 8,
    });
    const trailing = await checkContent('x.json', '{\n  "a": 1,\n}\n', 10_000);
    expect(trailing).toMatchObject({ kind: 'invalid', line: 2 });
    expect(trailing?.message).toMatch(/^invalid JSON: /);
  });

  it('does not parse other kinds of file', async () => {
    expect(await checkContent('x.css', '}}} not css {{{', 10_000)).toBeUndefined();
  });
});

describe('looksBinary', () => {
  it('is true for content with NUL bytes only', () => {
    expect(looksBinary(Buffer.from([0x89, 0x50, 0x00]))).toBe(true);
    expect(looksBinary(Buffer.from('plain text'))).toBe(false);
  });
});
