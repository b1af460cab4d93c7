import { parseGate, typecheckNeeded } from './gate';

describe('the gate settings', () => {
  it.each([
    [undefined, ['typecheck', 'test']],
    ['', ['typecheck', 'test']],
    ['off', []],
    ['typecheck', ['typecheck']],
    ['test, typecheck', ['test', 'typecheck']],
  ])('REFLEX_GATE=%j runs %j', (value, steps) => {
    expect(parseGate(value)).toEqual(steps);
  });

  it('names an unknown step', () => {
    expect(() => parseGate('typecheck,lint')).toThrow(
      'REFLEX_GATE: unknown step "lint" (use typecheck, test, or off)',
    );
  });
});

describe('when the type-check can be skipped', () => {
  it('runs when no commit passed it yet', () => {
    expect(typecheckNeeded(undefined)).toBe(true);
  });

  it('skips when only pages, styles and assets changed since it last passed', () => {
    expect(typecheckNeeded([])).toBe(false);
    expect(
      typecheckNeeded([
        'webapp/site/pages/index.html',
        'webapp/site/assets/site.css',
        'webapp/site/assets/logo.PNG',
        'README.md',
      ]),
    ).toBe(false);
  });

  it.each([
    'webapp/site/routes.ts',
    'webapp/site/data.json',
    'webapp/site/assets/app.js',
    'package-lock.json',
    'webapp/tsconfig.json',
    'webapp/site/types.d.ts',
    'Makefile',
  ])('runs when %s changed', (file) => {
    expect(typecheckNeeded(['webapp/site/pages/index.html', file])).toBe(true);
  });
});
