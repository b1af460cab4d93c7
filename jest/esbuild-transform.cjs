// Jest transform: TypeScript -> CommonJS with esbuild (type-checking is `npm run typecheck`'s job).
// Deliberately tiny: no jest.mock hoisting, because the code takes its dependencies as arguments.
'use strict';
const crypto = require('node:crypto');
const { transformSync, version } = require('esbuild');

const thisFile = require('node:fs').readFileSync(__filename, 'utf8');

module.exports = {
  process(source, filename) {
    const result = transformSync(source, {
      loader: filename.endsWith('.tsx') ? 'tsx' : filename.endsWith('.js') ? 'js' : 'ts',
      format: 'cjs',
      target: 'node20',
      platform: 'node',
      sourcemap: 'inline',
      // Jest runs CommonJS: lazy `await import(x)` becomes a lazy require(x).
      supported: { 'dynamic-import': false },
      sourcefile: filename,
    });
    return { code: result.code };
  },
  getCacheKey(source, filename) {
    return crypto
      .createHash('sha256')
      .update(version)
      .update(thisFile)
      .update(filename)
      .update(source)
      .digest('hex');
  },
};
