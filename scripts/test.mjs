#!/usr/bin/env node
// Runs every test tier whose system tools are installed (test/tiers.json), one after another.
// A tier with a missing tool is skipped with the install command, and fails the run instead
// when CI=true or REFLEX_REQUIRE_ALL=1.
//
//   npm test                      every tier
//   npm test -- unit browser      only these tiers
//   npm test -- unit -- -t save   extra arguments after a second `--` go to jest
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tiers = JSON.parse(readFileSync(path.join(root, 'test/tiers.json'), 'utf8'));
const strict = process.env.CI === 'true' || process.env.REFLEX_REQUIRE_ALL === '1';

const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const requested = split === -1 ? argv : argv.slice(0, split);
const jestArgs = split === -1 ? [] : argv.slice(split + 1);

for (const name of requested) {
  if (!(name in tiers)) {
    console.error(`unknown test tier "${name}"; tiers: ${Object.keys(tiers).join(', ')}`);
    process.exit(64);
  }
}
const selected = requested.length > 0 ? requested : Object.keys(tiers);

/** PATH plus the sbin folders, where sshd and nginx live. */
const searchPath = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];

function found(command) {
  return searchPath.some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const toRun = [];
const skipped = [];
for (const name of selected) {
  const missing = tiers[name].tools.filter((tool) => !found(tool.command));
  if (missing.length === 0) {
    toRun.push(name);
    continue;
  }
  const packages = [...new Set(missing.map((tool) => tool.package))].join(' ');
  skipped.push(name);
  console.error(
    `\n[test] tier "${name}" (${tiers[name].description}) needs: ` +
      missing.map((tool) => tool.command).join(', ') +
      `\n       install with: sudo apt-get install -y ${packages}` +
      `\n       or every test tool at once: sudo bash scripts/install-test-tools.sh`,
  );
}
if (skipped.length > 0 && strict) {
  console.error(
    `\n[test] FAILED: tiers ${skipped.join(', ')} cannot run, and CI=true / REFLEX_REQUIRE_ALL=1 requires every tier.`,
  );
  process.exit(1);
}

const jest = path.join(root, 'node_modules/jest/bin/jest.js');
const results = [];
for (const name of toRun) {
  console.log(`\n[test] ===== tier: ${name} — ${tiers[name].description}`);
  const started = Date.now();
  // Heavy tiers run one file at a time: they start servers and measure under load.
  const inBand = name === 'unit' || name === 'scripts' ? [] : ['--runInBand'];
  const run = spawnSync(
    process.execPath,
    [jest, '--selectProjects', name, ...inBand, ...jestArgs],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, REFLEX_TEST_TIER: name },
    },
  );
  results.push({ name, ok: run.status === 0, seconds: Math.round((Date.now() - started) / 1000) });
}

console.log('\n[test] summary');
for (const r of results) console.log(`  ${r.ok ? 'pass' : 'FAIL'}  ${r.name} (${r.seconds} s)`);
for (const name of skipped) console.log(`  skip  ${name} (missing tools, see above)`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
