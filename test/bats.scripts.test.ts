/** The deploy scripts' bats suites (lock, argument validation, pure functions), one jest test each. */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const SUITES = path.join(ROOT, 'deploy-scripts/test');

describe('deploy-scripts bats suites', () => {
  const suites = readdirSync(SUITES).filter((file) => file.endsWith('.bats'));

  it('finds the suites it runs', () => {
    expect(suites).toEqual(expect.arrayContaining(['common.bats', 'arguments.bats', 'plan.bats']));
  });

  it.each(suites)('%s passes', (suite) => {
    const result = spawnSync('bats', ['--tap', path.join(SUITES, suite)], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const tap = result.stdout;
    const planned = Number(/^1\.\.(\d+)$/m.exec(tap)?.[1] ?? 0);
    expect(planned).toBeGreaterThan(0);
    expect(tap.split('\n').filter((line) => line.startsWith('not ok'))).toEqual([]);
    expect(tap.split('\n').filter((line) => line.startsWith('ok '))).toHaveLength(planned);
    expect(result.status).toBe(0);
  });
});
