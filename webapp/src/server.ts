/**
 * Process entry point of one Reflex instance: validate configuration, build the app, listen,
 * and shut down gracefully on SIGTERM/SIGINT (exit 0 once in-flight requests are done).
 */
import path from 'node:path';
import type Koa from 'koa';
import { createApp } from './app';
import { readBuildInfo } from './buildInfo';
import { ConfigError, loadConfig, type Config } from './config';
import { startEditor } from './editor/start';
import { Lifecycle } from './http/lifecycle';
import { GitHubPipelineTracker } from './pipeline/github';
import { LocalPipelineTracker } from './pipeline/local';
import type { PipelineTracker } from './pipeline/types';
import { pipelineRoutes } from './routes/pipelineApi';
import { serve } from './http/serve';
import { createLogger, finishLogging, type Logger } from './logger';
import { createMetrics } from './metrics/registry';
import { editorUi } from './routes/editorUi';

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
  const editor = config.editor ? await startEditor(config.editor, logger, metrics) : undefined;
  const tracker = pipelineTracker(config, logger);
  // A commit reached the origin (a save here, another instance's, or a push by hand): fetch it
  // now rather than at the next background fetch, so the editor lists what was pushed.
  tracker?.subscribe((event) => {
    if (event.stage !== 'committed' || !editor) return;
    editor.workspace
      .exclusive(() => editor.workspace.fetch())
      .catch((err: unknown) => logger.warn({ err }, 'fetch after a push failed'));
  });
  const app = createApp({
    config,
    logger,
    metrics,
    lifecycle,
    buildInfo,
    editor: editor && {
      ...editor.api,
      extend:
        tracker &&
        ((router) => pipelineRoutes(router, { tracker, editor: editor.api.editor, lifecycle })),
    },
    // Built next to the server bundle (dist/ui); from src/ the same folder is ../dist/ui.
    editorUi: editor ? editorUi({ dir: path.resolve(__dirname, '..', 'dist', 'ui') }) : undefined,
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
    tracker?.close();
    void running.close().then(async ({ forced }) => {
      await editor?.close();
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

/** What the editor follows after a save: the local supervisor, GitHub Actions, or nothing. */
function pipelineTracker(config: Config, logger: Logger): PipelineTracker | undefined {
  const pipeline = config.pipeline;
  switch (pipeline.kind) {
    case 'local':
      return new LocalPipelineTracker(pipeline.supervisorUrl, logger, pipeline.supervisorToken);
    case 'github':
      return new GitHubPipelineTracker({
        apiBaseUrl: pipeline.apiUrl,
        token: pipeline.token,
        repository: pipeline.repository,
        publicUrl: pipeline.publicUrl,
        workflowFile: pipeline.workflow,
      });
    case 'none':
      return undefined;
  }
}

export function exitOnStartFailure(err: unknown): never {
  process.stderr.write(
    `reflex: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
}

if (require.main === module) main().catch(exitOnStartFailure);
