/**
 * How the local loop starts the site: code editors change, so it runs as untrusted code.
 * - Node's permission model: the site may read its own bundle and the release folders (its
 *   pages and assets, for every release it may serve) and nothing else; it may not write, start
 *   processes or workers, load native addons or open the inspector.
 * - An allowlisted environment: no secret, no platform setting, no path to platform state.
 * The host runs the site in its own container with its own uid on top of this (docs/HOST.md).
 */
import path from 'node:path';
import type { HomePaths } from './home';

/** The permission flags for this Node (`--experimental-permission` before Node 22). */
export function permissionFlags(nodeVersion: string, readable: readonly string[]): string[] {
  const major = Number(/^v?(\d+)/.exec(nodeVersion)?.[1] ?? 0);
  if (major < 20) throw new Error(`Node ${nodeVersion} has no permission model; use Node >= 20.19`);
  const reads = readable.map((p) => `--allow-fs-read=${path.resolve(p)}`);
  return major < 22
    ? ['--experimental-permission', '--disable-warning=ExperimentalWarning', ...reads]
    : ['--permission', ...reads];
}

/** Variables of the supervisor's environment a site may see: the ones declared public. */
export const PUBLIC_SITE_SETTING = /^REFLEX_SITE_[A-Z0-9_]+$/;

export interface SiteEnvOptions {
  sha: string;
  builtAt: string;
  /** Folder holding every release (`releases/<sha>/webapp/site`): the content it may serve. */
  releases: string;
  logLevel: string;
  /** The supervisor's environment, from which only public site settings pass. */
  from: NodeJS.ProcessEnv;
}

/** The whole environment of a site process: nothing else reaches it. */
export function siteEnv(o: SiteEnvOptions): NodeJS.ProcessEnv {
  const settings = Object.entries(o.from).filter(
    ([key, value]) => PUBLIC_SITE_SETTING.test(key) && value !== undefined,
  );
  return {
    ...Object.fromEntries(settings),
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REFLEX_SHA: o.sha,
    REFLEX_BUILT_AT: o.builtAt,
    REFLEX_SITE_RELEASES: o.releases,
    REFLEX_LOG_LEVEL: o.logLevel,
    REFLEX_EXIT_WITH_PARENT: 'true',
  };
}

/** The node arguments that start the site bundle of the release folder `dir`. */
export function siteArgs(nodeVersion: string, dir: string, releases: string): string[] {
  const bundle = path.join(dir, 'webapp/dist/site.js');
  return [
    ...permissionFlags(nodeVersion, [bundle, `${bundle}.map`, releases]),
    '--enable-source-maps',
    bundle,
  ];
}

export interface PlatformEnvOptions {
  sha: string;
  workdir: string;
  sessionSecret: string;
  paths: HomePaths;
  branch: string;
  /** Operator settings (REFLEX_EDITABLE and the like). */
  settings: Record<string, string>;
  edgeToken: string;
  siteUrl: string;
  editorUrl: string;
  supervisorUrl: string;
  supervisorToken: string;
  drainTimeoutMs: number;
}

/**
 * The platform's environment: its secrets and settings, and only what the process needs of the
 * supervisor's own environment. Never given to the site (see `siteEnv`).
 */
export function platformEnv(o: PlatformEnvOptions): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG,
    ...o.settings,
    PORT: '0',
    HOST: '127.0.0.1',
    REFLEX_SHA: o.sha,
    REFLEX_REPO_URL: o.paths.origin,
    REFLEX_BRANCH: o.branch,
    REFLEX_WORKDIR: o.workdir,
    REFLEX_USERS_FILE: o.paths.usersFile,
    REFLEX_SESSION_SECRET: o.sessionSecret,
    REFLEX_STATE_DIR: o.paths.state,
    REFLEX_AUDIT_FILE: o.paths.auditFile,
    REFLEX_EDGE_TOKEN: o.edgeToken,
    REFLEX_PUBLIC_URL: o.siteUrl,
    REFLEX_EDITOR_URL: o.editorUrl,
    REFLEX_PIPELINE: 'local',
    REFLEX_SUPERVISOR_URL: o.supervisorUrl,
    REFLEX_SUPERVISOR_TOKEN: o.supervisorToken,
    REFLEX_SHUTDOWN_TIMEOUT_MS: String(o.drainTimeoutMs),
    REFLEX_EXIT_WITH_PARENT: 'true',
  };
}
