/** Every shell script in the repository passes shellcheck. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** Tracked and untracked-but-not-ignored files that are shell scripts (by name or shebang). */
function shellScripts(): string[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  return files.filter((file) => {
    if (file.endsWith('.sh') || file.endsWith('.bash')) return true;
    if (path.extname(file) !== '') return false;
    try {
      return /^#!.*\b(bash|sh)\b/.test(
        readFileSync(path.join(ROOT, file), 'utf8').split('\n', 1)[0]!,
      );
    } catch {
      return false;
    }
  });
}

describe('shell scripts', () => {
  const scripts = shellScripts();

  it('finds the scripts it checks', () => {
    expect(scripts).toEqual(expect.arrayContaining(['.ci/run', 'scripts/install-test-tools.sh']));
  });

  it.each(scripts)('%s passes shellcheck', (file) => {
    const result = spawnSync('shellcheck', ['--external-sources', '--format=gcc', file], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
