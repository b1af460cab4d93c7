/**
 * The protected-path list covers every file CI or the pipeline's gate reads as configuration,
 * in any letter case. The set is derived from what `.ci/run`, the npm scripts it calls, the
 * jest config, ESLint and Prettier actually read (test/fixtures/ciInputs.cjs), not listed by
 * hand, so a new config file CI starts reading fails this test until it is protected.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { EditPolicy } from '../src/editor/policy';

const inputs = JSON.parse(
  execFileSync(process.execPath, [path.join(__dirname, 'fixtures/ciInputs.cjs')], {
    timeout: 60_000,
  }).toString(),
) as string[];

/** The same path as a tool folding case might write it. */
function variants(file: string): string[] {
  const capitalised = file
    .split('/')
    .map((s) =>
      s.startsWith('.')
        ? '.' + s.charAt(1).toUpperCase() + s.slice(2)
        : s.charAt(0).toUpperCase() + s.slice(1),
    )
    .join('/');
  return [file, file.toUpperCase(), capitalised];
}

describe('the protected paths', () => {
  const everything = new EditPolicy(['**']);

  it('are derived from what CI and the gate read (the derivation finds the known inputs)', () => {
    expect(inputs).toEqual(
      expect.arrayContaining([
        '.ci/run',
        'eslint.config.mjs',
        'jest.config.js',
        'test/tiers.json',
        'tsconfig.json',
        'webapp/tsconfig.json',
        'package-lock.json',
        'scripts/test.mjs',
      ]),
    );
  });

  it.each(inputs.flatMap((file) => variants(file)))(
    '%s cannot be changed from the editor, even with the scope **',
    (file) => {
      const verdict = everything.verdict(file);
      expect(verdict).toMatchObject({
        editable: false,
        reason: expect.stringMatching(/^protected: /),
      });
    },
  );
});
