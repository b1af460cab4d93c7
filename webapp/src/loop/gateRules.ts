/**
 * The rules of the gate, one home for the cold gate (gate.ts: the commands) and the warm one
 * (warmGate.ts: long-lived processes): which checks a change needs, which tests must run, and
 * the arguments jest gets. The two can only refuse the same commits if they share these.
 */
import { readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';

export type GateStep = 'typecheck' | 'test';

export function parseGate(value: string | undefined): GateStep[] {
  if (value === undefined || value === '') return ['typecheck', 'test'];
  if (value === 'off') return [];
  const steps = value.split(',').map((s) => s.trim());
  for (const step of steps) {
    if (step !== 'typecheck' && step !== 'test')
      throw new Error(`REFLEX_GATE: unknown step "${step}" (use typecheck, test, or off)`);
  }
  return steps as GateStep[];
}

/** Files no type-check reads: a change to these alone cannot change its result. */
const INERT = /\.(html?|css|md|txt|svg|png|jpe?g|gif|webp|ico|woff2?)$/i;

export function typecheckNeeded(changedSinceTypechecked: string[] | undefined): boolean {
  return (
    changedSinceTypechecked === undefined ||
    changedSinceTypechecked.some((file) => !INERT.test(file))
  );
}

export interface Project {
  tsconfig: string;
  buildInfo: string;
}

export const PLATFORM: Project = {
  tsconfig: 'webapp/tsconfig.json',
  buildInfo: 'webapp.tsbuildinfo',
};
export const SITE: Project = {
  tsconfig: 'webapp/site/tsconfig.json',
  buildInfo: 'site.tsbuildinfo',
};
export const EDITOR_UI: Project = {
  tsconfig: 'webapp/src/editor-ui/tsconfig.json',
  buildInfo: 'editor-ui.tsbuildinfo',
};

/**
 * The TypeScript projects a change needs checked. A change to the site's code alone needs the
 * site's project (its code, its tests, and the platform's side of the site interface); the
 * webapp's project holds all of that and the platform too, so any other change checks it. The
 * editor's browser code is its own project, checked when it (or shared config) changed.
 */
export function typecheckProjects(
  changed: string[] | undefined,
  exists: (tsconfig: string) => boolean,
): string[] {
  const meaningful = changed?.filter((file) => !INERT.test(file));
  const siteOnly =
    meaningful !== undefined && meaningful.every((file) => file.startsWith('webapp/site/'));
  const chosen = siteOnly && exists(SITE.tsconfig) ? [SITE] : [PLATFORM];
  const browser =
    meaningful === undefined ||
    meaningful.some(
      (file) => file.startsWith('webapp/src/editor-ui/') || !file.startsWith('webapp/'),
    );
  if (browser) chosen.push(EDITOR_UI);
  return chosen.map((p) => p.tsconfig).filter(exists);
}

/** Test files of the unit tier (the tier the gate runs): `*.test.ts` without a tier suffix. */
const UNIT_TEST = /\.test\.[cm]?[jt]sx?$/;
const TIER_TEST = /\.(scripts|e2e|monitoring|deploy|browser|host)\.test\.[cm]?[jt]sx?$/;
const SOURCE = /\.[cm]?[jt]sx?$/;

/**
 * The tests a change must run, by a rule independent of jest's own resolution: a changed unit
 * test, and the test beside a changed source file (`x.ts` → `x.test.ts`). jest may find more
 * (tests elsewhere that import the file); it must never find fewer. A gate that ran none of
 * these would pass on the type-check alone, so it fails instead.
 */
export function expectedTests(changed: string[], exists: (file: string) => boolean): string[] {
  const expected = new Set<string>();
  for (const file of changed) {
    if (TIER_TEST.test(file)) continue;
    if (UNIT_TEST.test(file)) {
      if (exists(file)) expected.add(file);
      continue;
    }
    if (!SOURCE.test(file) || file.endsWith('.d.ts')) continue;
    const beside = file.replace(SOURCE, '.test.ts');
    if (exists(beside)) expected.add(beside);
  }
  return [...expected].sort();
}

export class GateError extends Error {}

/** The test files a jest `--json` report ran, relative to `dir`. */
export function testsRun(report: string, dir: string): string[] {
  const parsed = JSON.parse(report) as { testResults?: { name: string }[] };
  return (parsed.testResults ?? []).map((r) =>
    path.relative(dir, r.name).split(path.sep).join('/'),
  );
}

const CODE = /\.(ts|tsx|js|mjs|cjs|json)$/;
const SITE_FOLDER = 'webapp/site/';

/**
 * The files jest is asked about: the changed code and data that exist in the tree, and — when
 * the site's content changed (a page, an asset: files no import reaches) — every test of the
 * site, which are the tests that can read them.
 */
export function testCandidates(
  changed: string[],
  exists: (file: string) => boolean,
  siteTests: string[],
): string[] {
  const code = changed.filter((f) => CODE.test(f) && exists(f));
  const content = changed.some((f) => f.startsWith(SITE_FOLDER) && !CODE.test(f));
  return [...new Set([...code, ...(content ? siteTests : [])])];
}

/** The unit tests of the site in the tree at `root` (repository paths). */
export function siteTestFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(path.join(root, relative), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const child = `${relative}${entry.name}`;
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(`${child}/`);
      else if (entry.isFile() && UNIT_TEST.test(child) && !TIER_TEST.test(child)) found.push(child);
    }
  };
  walk(SITE_FOLDER);
  return found.sort();
}

/** jest's arguments for the tests related to `candidates`, as `runCLI` takes them. */
export function jestArgs(candidates: string[], cacheDirectory: string): Record<string, unknown> {
  return {
    selectProjects: ['unit'],
    ci: true,
    runInBand: true,
    passWithNoTests: true,
    watchman: false,
    cacheDirectory,
    findRelatedTests: true,
    _: candidates,
  };
}

/** The same arguments as jest's command line flags. */
export function jestFlags(args: Record<string, unknown>): string[] {
  const flags: string[] = [];
  for (const [name, value] of Object.entries(args)) {
    if (name === '_') continue;
    if (value === true) flags.push(`--${name}`);
    else if (value === false) flags.push(`--no-${name}`);
    else if (Array.isArray(value)) flags.push(`--${name}`, ...value.map(String));
    else flags.push(`--${name}`, String(value));
  }
  return [...flags, ...(args._ as string[])];
}

/** The expected tests that a run did not run (the gate fails when there is one). */
export function missingTests(expected: string[], ran: string[]): string[] {
  return expected.filter((file) => !ran.includes(file));
}

export function notRunError(ran: string[], missing: string[], where: string): GateError {
  return new GateError(
    `the gate ran ${ran.length} test file(s), but this change has tests it did not run: ` +
      `${missing.join(', ')}. The test configuration ignores them in ${where}; ` +
      'a gate that runs no test cannot pass.',
  );
}
