import { previewOf } from './previews';

describe('which branches get a preview', () => {
  it.each([
    [
      'refs/heads/reflex/ada/new-look',
      { branch: 'reflex/ada/new-look', user: 'ada', name: 'new-look' },
    ],
    [
      'refs/heads/reflex/grace.h/fix-1',
      { branch: 'reflex/grace.h/fix-1', user: 'grace.h', name: 'fix-1' },
    ],
  ])('%s', (ref, expected) => {
    expect(previewOf(ref)).toEqual(expected);
  });

  it.each([
    'refs/heads/main',
    'refs/heads/reflex/ada',
    'refs/heads/reflex/ada/New-Look',
    'refs/heads/reflex/ada/with.dot',
    'refs/heads/reflex/ada/a/b',
    'refs/heads/reflex/ada/editor',
    'refs/tags/reflex/ada/x',
    `refs/heads/reflex/ada/${'x'.repeat(41)}`,
  ])('not %s', (ref) => {
    expect(previewOf(ref)).toBeUndefined();
  });
});
