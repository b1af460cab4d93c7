/**
 * What the browser may change. The editable scope is the configured allowlist minus a
 * built-in denylist that no configuration can lift: the paths that control CI, deployment,
 * infrastructure, dependencies and this policy itself. Paths are normalised before any
 * check; anything not a plain relative path inside the repository is refused outright.
 */
import { matchesGlob } from './glob';

export interface ProtectedPath {
  glob: string;
  why: string;
}

/** The denylist. Order matters only for which reason is reported first. */
export const PROTECTED_PATHS: readonly ProtectedPath[] = [
  { glob: '.git/**', why: 'git internals' },
  { glob: '.github/**', why: 'controls CI and deployment (GitHub Actions)' },
  { glob: '.ci/**', why: 'controls CI' },
  { glob: 'deploy-scripts/**', why: 'controls deployment' },
  { glob: 'pulumi/**', why: 'controls infrastructure' },
  { glob: '**/Pulumi*.yaml', why: 'controls infrastructure' },
  { glob: '**/Pulumi*.yml', why: 'controls infrastructure' },
  { glob: '**/Dockerfile', why: 'controls the deployed image' },
  { glob: '**/Dockerfile.*', why: 'controls the deployed image' },
  { glob: '**/*.Dockerfile', why: 'controls the deployed image' },
  { glob: '**/.dockerignore', why: 'controls the deployed image' },
  { glob: '**/package.json', why: 'declares dependencies and install scripts' },
  { glob: '**/package-lock.json', why: 'lockfile' },
  { glob: '**/npm-shrinkwrap.json', why: 'lockfile' },
  { glob: '**/yarn.lock', why: 'lockfile' },
  { glob: '**/pnpm-lock.yaml', why: 'lockfile' },
  { glob: '**/.npmrc', why: 'controls dependency installation' },
  { glob: 'scripts/**', why: 'run by CI and the local pipeline' },
  { glob: 'webapp/scripts/**', why: 'builds the deployed app' },
  { glob: 'jest.config.*', why: 'decides what the pipeline gate tests' },
  { glob: 'jest/**', why: 'decides how the pipeline gate tests' },
  { glob: 'compose.yaml', why: 'runs the monitoring stack on the host' },
  { glob: 'prometheus/**', why: 'monitoring configuration deployed to the host' },
  { glob: 'grafana/**', why: 'monitoring configuration deployed to the host' },
  { glob: 'webapp/src/editor/policy.ts', why: 'the editor policy itself' },
  { glob: '.reflex/**', why: 'local state of Reflex' },
];

export const DEFAULT_EDITABLE = ['webapp/site/**'];

export type PathVerdict = { editable: true } | { editable: false; reason: string };

export class PathError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PathError';
  }
}

const MAX_PATH_LENGTH = 1024;
const MAX_SEGMENT_BYTES = 255;

/**
 * Returns the canonical form of a repository path, or throws PathError naming the problem.
 * Refuses (rather than repairs) anything ambiguous: absolute paths, `.`/`..`/empty segments,
 * backslashes, NUL and control characters, `.git` in any case, over-long paths.
 */
export function normalizeRepoPath(raw: string): string {
  if (raw.length === 0) throw new PathError('empty path');
  if (raw.length > MAX_PATH_LENGTH)
    throw new PathError(`path longer than ${MAX_PATH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new PathError('control character in path');
  if (raw.includes('\\')) throw new PathError('backslash in path');
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) throw new PathError('absolute path');
  if (!raw.isWellFormed()) throw new PathError('path is not valid Unicode');
  const segments = raw.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new PathError(`"${segment || '//'}" segment in path`);
    }
    if (segment.toLowerCase() === '.git') throw new PathError('.git in path');
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      throw new PathError('path segment too long');
  }
  return segments.join('/');
}

export class EditPolicy {
  readonly editable: readonly string[];

  constructor(editable: readonly string[] = DEFAULT_EDITABLE) {
    if (editable.length === 0) throw new Error('the editable scope needs at least one glob');
    this.editable = editable;
  }

  /** Whether a (normalised) path may be written from the browser, and if not, why. */
  verdict(path: string): PathVerdict {
    const denied = PROTECTED_PATHS.find((entry) => matchesGlob(path, entry.glob));
    if (denied) return { editable: false, reason: `protected: ${denied.glob} ${denied.why}` };
    if (!this.editable.some((glob) => matchesGlob(path, glob))) {
      return {
        editable: false,
        reason: `outside the editable scope (${this.editable.join(', ')})`,
      };
    }
    return { editable: true };
  }
}
