/**
 * Process entry point of the site (`webapp/dist/site.js`): read the few settings a site gets
 * (an allowlist: see docs/ARCHITECTURE.md, "Trust boundary"), serve `webapp/site/`, and drain
 * on SIGTERM. The bundle includes every dependency, so that the site can run with file reads
 * limited to this bundle and the content folders (Node's permission model).
 */
import './harden';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { registerSiteRoutes } from '../../site/routes';
import { Lifecycle } from '../http/lifecycle';
import { serve } from '../http/serve';
import { createLogger, finishLogging } from '../logger';
import { createMetrics } from '../metrics/registry';
import { createSiteApp } from './app';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type Level = (typeof LEVELS)[number];

function setting(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** The build time each release recorded (its `dist/build-info.json`), for page templates. */
function buildTimes(releases: string | undefined, fallback: string) {
  return async (sha: string): Promise<string> => {
    if (!releases) return fallback;
    try {
      const info = JSON.parse(
        await readFile(path.join(releases, sha, 'webapp/dist/build-info.json'), 'utf8'),
      ) as { builtAt?: unknown };
      return typeof info.builtAt === 'string' ? info.builtAt : fallback;
    } catch {
      return fallback;
    }
  };
}

export async function main(): Promise<void> {
  const level = setting('REFLEX_LOG_LEVEL', 'info');
  const logger = createLogger(LEVELS.includes(level as Level) ? (level as Level) : 'info');
  const port = Number(setting('PORT', '3000'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`reflex site: PORT: must be a port number (got ${process.env.PORT})\n`);
    process.exit(78);
  }
  const host = setting('HOST', '127.0.0.1');
  const release = {
    sha: setting('REFLEX_SHA', 'unknown'),
    builtAt: setting('REFLEX_BUILT_AT', 'unknown'),
  };
  const releases = process.env.REFLEX_SITE_RELEASES || undefined;
  const lifecycle = new Lifecycle();
  const app = createSiteApp({
    release,
    // Beside the bundle: dist/site.js serves ../site.
    contentDir: path.resolve(__dirname, '..', 'site'),
    releases,
    builtAt: buildTimes(releases, release.builtAt),
    registerRoutes: registerSiteRoutes,
    logger,
    metrics: createMetrics(),
    lifecycle,
  });
  const running = await serve(app, {
    port,
    host,
    shutdownTimeoutMs: Number(setting('REFLEX_SHUTDOWN_TIMEOUT_MS', '30000')),
    logger,
    lifecycle,
  });
  lifecycle.markReady();
  logger.info({ port: running.port, host, sha: release.sha }, 'listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    void running.close().then(async () => {
      await finishLogging(logger);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (process.env.REFLEX_EXIT_WITH_PARENT === 'true') {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop('parent exited');
    }, 1000).unref();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `reflex site: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exit(1);
  });
}
