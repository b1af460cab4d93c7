/**
 * Process entry point of one Reflex instance: validate configuration, build the app, listen,
 * and shut down gracefully on SIGTERM/SIGINT (exit 0 once in-flight requests are done).
 */
import path from 'node:path';
import type Koa from 'koa';
import { createApp } from './app';
import { readBuildInfo } from './buildInfo';
import { composePlatform } from './compose';
import { ConfigError, loadConfig } from './config';
import { Lifecycle } from './http/lifecycle';
import { serve } from './http/serve';
import { createLogger, finishLogging } from './logger';
import { createMetrics } from './metrics/registry';

/** Exit status for a configuration error (sysexits.h EX_CONFIG). */
export const EXIT_CONFIG = 78;

export interface MainHooks {
  /** Adds middleware or routes after the standard ones (used by tests for slow requests). */
  extendApp?: (app: Koa) => void;
}

export async function main(
  env: NodeJS.ProcessEnv = process.env,
  hooks: MainHooks = {},
): Promise<void> {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`reflex: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }

  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection');
    void finishLogging(logger).then(() => process.exit(1));
  });

  const lifecycle = new Lifecycle();
  const buildInfo = readBuildInfo(path.join(__dirname, 'build-info.json'), config.sha);
  const metrics = createMetrics();
  const platform = await composePlatform(config, {
    logger,
    metrics,
    lifecycle,
    buildInfo,
    webappDir: path.resolve(__dirname, '..'),
  });
  const app = createApp({
    ...platform.deps,
  });
  hooks.extendApp?.(app);
  const running = await serve(app, {
    port: config.port,
    host: config.host,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    logger,
    lifecycle,
  });
  lifecycle.markReady();
  logger.info({ port: running.port, host: config.host, sha: buildInfo.sha }, 'listening');

  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals | 'parent exited') => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    void running.close().then(async ({ forced }) => {
      await platform.close();
      logger.info({ forced }, 'stopped');
      await finishLogging(logger);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (config.exitWithParent) {
    // The local supervisor started this instance: do not outlive it (no orphan servers).
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(watch);
        shutdown('parent exited');
      }
    }, 1000);
    watch.unref();
  }
}

export function exitOnStartFailure(err: unknown): never {
  process.stderr.write(
    `reflex: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
}

if (require.main === module) main().catch(exitOnStartFailure);
