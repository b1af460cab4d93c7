/** What `/version` reports: the commit this instance runs and when it was built. */
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  sha: string;
  builtAt: string;
}

export const UNKNOWN = 'unknown';

/**
 * Reads the file the build writes (`dist/build-info.json`). `shaOverride` (REFLEX_SHA, set by
 * the image and by the local supervisor) wins over the file. An unbuilt dev run has neither and
 * reports "unknown".
 */
export function readBuildInfo(file: string, shaOverride?: string): BuildInfo {
  let recorded: Partial<BuildInfo> = {};
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8')) as Partial<BuildInfo>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return {
    sha: shaOverride ?? (typeof recorded.sha === 'string' ? recorded.sha : UNKNOWN),
    builtAt: typeof recorded.builtAt === 'string' ? recorded.builtAt : UNKNOWN,
  };
}
