/**
 * promtool on prometheus/: the configuration and the rules are valid, the rule unit tests pass,
 * and they would fail if any alert stopped firing or fired when it should not (mutation checks).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT, loadAlertRules, promtoolTestFiles } from './support/dashboards';

/** Every promtool unit-test file, relative to the repository (the host's and the ecs runtime's). */
const TEST_FILES = promtoolTestFiles().map((file) => path.relative(ROOT, file));

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('promtool', () => {
  it('check config: prometheus/prometheus.yml is valid and its rule files load', () => {
    const result = promtool('check', 'config', 'prometheus/prometheus.yml');
    expect(result.output).toContain('SUCCESS');
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status).toBe(0);
  });

  it('check rules: every rule file is valid', () => {
    const result = promtool(
      'check',
      'rules',
      ...loadAlertRules()
        .map((rule) => rule.file)
        .filter((f, i, all) => all.indexOf(f) === i),
    );
    const found = [...result.output.matchAll(/SUCCESS: (\d+) rules found/g)].map((m) =>
      Number(m[1]),
    );
    expect(found.reduce((a, b) => a + b, 0)).toBe(loadAlertRules().length);
    expect(result.status).toBe(0);
  });

  it.each(TEST_FILES)('test rules %s: every alert fires and stays quiet where it says', (file) => {
    const result = promtool('test', 'rules', file);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});

describe('the rule unit tests catch a broken alert', () => {
  let copy: string;

  beforeAll(() => {
    copy = mkdtempSync(path.join(os.tmpdir(), 'reflex-rules-'));
    cpSync(path.join(ROOT, 'prometheus'), path.join(copy, 'prometheus'), { recursive: true });
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  /** Run promtool's unit tests (every file) with one alert's expression replaced. */
  function testWithMutation(alert: string, mutate: (expr: string) => string) {
    const file = loadAlertRules().find((rule) => rule.alert === alert)!.file;
    const rulesFile = path.join(copy, file);
    const original = readFileSync(path.join(ROOT, file), 'utf8');
    const rules = YAML.parse(original) as {
      groups: { rules: { alert?: string; expr: string }[] }[];
    };
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)!;
    rule.expr = mutate(rule.expr);
    writeFileSync(rulesFile, YAML.stringify(rules));
    try {
      return spawnSync('promtool', ['test', 'rules', ...TEST_FILES], {
        cwd: copy,
        encoding: 'utf8',
      });
    } finally {
      writeFileSync(rulesFile, original);
    }
  }

  const alerts = loadAlertRules().map((rule) => rule.alert);

  it('an unmodified copy passes (the mutations below are what fails)', () => {
    const result = testWithMutation(alerts[0]!, (expr) => expr);
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it.each(alerts)('%s never firing fails the tests', (alert) => {
    const result = testWithMutation(alert, (expr) => `(${expr}) and on () vector(0) == 1`);
    expect(result.stdout + result.stderr).toContain(`alertname: ${alert}`);
    expect(result.status).not.toBe(0);
  });

  it.each(alerts)('%s always firing fails the tests', (alert) => {
    const result = testWithMutation(alert, (expr) => `(${expr}) or vector(1)`);
    expect(result.stdout + result.stderr).toContain(`alertname: ${alert}`);
    expect(result.status).not.toBe(0);
  });
});
