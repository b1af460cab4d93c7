// Test tiers, one jest project each. `npm test` (scripts/test.mjs) decides which tiers run,
// by the system tools each needs (test/tiers.json).
'use strict';
const tiers = require('./test/tiers.json');

/** Dependencies published as ES modules only (Octokit and what it imports). */
const ESM_ONLY = '(?:@octokit|before-after-hook|universal-user-agent|json-with-bigint)';

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.tsx?$': '<rootDir>/jest/esbuild-transform.cjs',
    // Octokit ships ES modules only; jest's CommonJS runtime needs them transformed.
    [`/node_modules/${ESM_ONLY}/.+\\.js$`]: '<rootDir>/jest/esbuild-transform.cjs',
  },
  transformIgnorePatterns: [`^(?!.*/node_modules/${ESM_ONLY}/).*/node_modules/`],
  moduleFileExtensions: ['ts', 'js', 'cjs', 'mjs', 'json'],
  // Anchored to <rootDir>: the local pipeline runs these tests inside release folders under
  // `.reflex/releases/<sha>/`, and an unanchored `/\.reflex/` would ignore every test there.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/(?:.+/)?dist/', '<rootDir>/\\.reflex/'],
  // Release folders in `.reflex/` hold copies of every module: keep them out of the module map.
  modulePathIgnorePatterns: ['<rootDir>/\\.reflex/', '<rootDir>/(?:.+/)?dist/'],
};

const suffixed = Object.keys(tiers).filter((name) => name !== 'unit');

/** Per-tier additions: the browser tier builds the editor's UI once for all its files. */
const extra = {
  browser: {
    globalSetup: '<rootDir>/jest/browserSetup.mjs',
    globalTeardown: '<rootDir>/jest/browserTeardown.mjs',
  },
};

module.exports = {
  // Tests start real processes and git repositories on a shared two-core machine. (A global
  // option: Jest ignores it inside a project.)
  testTimeout: 30_000,
  projects: Object.keys(tiers).map((name) =>
    name === 'unit'
      ? {
          ...base,
          displayName: 'unit',
          testMatch: ['<rootDir>/**/*.test.ts'],
          testPathIgnorePatterns: [
            ...base.testPathIgnorePatterns,
            `\\.(${suffixed.join('|')})\\.test\\.ts$`,
          ],
        }
      : {
          ...base,
          displayName: name,
          testMatch: [`<rootDir>/**/*.${name}.test.ts`],
          ...extra[name],
        },
  ),
};
