/**
 * The composition root: builds every part of the platform from the configuration and hands
 * createApp its dependencies. Nothing else constructs services. The editor comes up without
 * waiting for its clone (git/clone.ts): the instance listens, serves the site and /healthz, and
 * the editor's API answers 503 with the reason until the clone is there. The site, while it
 * still runs in this process, is wired by server.ts: nothing here imports the site's code.
 */
import path from 'node:path';
import type { Middleware } from 'koa';
import type { AppDeps } from './app';
import { AuditLog } from './audit';
import { RevocationList } from './auth/revocations';
import { SessionManager } from './auth/sessions';
import { SignInGuard } from './auth/signin';
import { UserStore } from './auth/users';
import type { BuildInfo } from './buildInfo';
import type { Config, EditorConfig } from './config';
import type { ChangeRequestBackend } from './editor/changeRequestBackend';
import { ChangeRequestService } from './editor/changeRequests';
import { GitHubChangeRequests } from './editor/githubChangeRequests';
import { LocalChangeRequests } from './editor/localChangeRequests';
import { EditPolicy } from './editor/policy';
import { Presence } from './editor/presence';
import { RollbackService } from './editor/rollback';
import { EditorService } from './editor/service';
import { BackgroundClone, type BackgroundCloneOptions } from './git/clone';
import type { Lifecycle } from './http/lifecycle';
import type { Logger } from './logger';
import type { Metrics } from './metrics/registry';
import { GitHubPipelineTracker } from './pipeline/github';
import { LocalPipelineTracker } from './pipeline/local';
import type { PipelineTracker } from './pipeline/types';
import type { EditorApiDeps } from './routes/editorApi';
import { editorUi } from './routes/editorUi';
import type { PipelineApiDeps } from './routes/pipelineApi';

export interface RunningEditor {
  api: EditorApiDeps;
  clone: BackgroundClone;
  close(): Promise<void>;
}

export interface EditorParts {
  logger: Logger;
  metrics: Metrics;
  /** Shows the first account's credentials once (default: stderr). */
  announce?: (text: string) => void;
  clone?: BackgroundCloneOptions;
  /** Change requests as pull requests of this GitHub repository (else: on one machine). */
  github?: { repository: string; token: string; apiUrl: string } | undefined;
}

/**
 * The editor of an instance: the account store (creating the first admin when there is
 * none), sessions, sign-in limits, the audit trail, and the instance's own clone of the
 * repository, made in the background and kept fresh by a background fetch.
 */
export async function composeEditor(
  config: EditorConfig,
  parts: EditorParts,
): Promise<RunningEditor> {
  const { logger, metrics } = parts;
  const announce = parts.announce ?? ((text: string) => process.stderr.write(text));
  const users = new UserStore(config.usersFile);
  const created = await users.ensureAdmin(config.adminPassword);
  if (created) {
    announce(
      created.generated
        ? `\nReflex created the first account (shown this once):\n  username: ${created.username}\n  password: ${created.password}\n` +
            `Add more with: npm run reflex -- users add <name> --role author|developer|admin|viewer\n\n`
        : `\nReflex created the first account "${created.username}" with the password from REFLEX_ADMIN_PASSWORD.\n\n`,
    );
    logger.info(
      { username: created.username, generated: created.generated },
      'first account created',
    );
  }

  let refresh: NodeJS.Timeout | undefined;
  const clone = new BackgroundClone(
    {
      repoUrl: config.repoUrl,
      branch: config.branch,
      scratchDir: config.workdir,
      credentials: { token: config.gitToken, username: config.gitUsername },
      committer: config.committer,
      logger,
      onPush: (seconds, ok) =>
        metrics.gitPushDuration.observe({ result: ok ? 'ok' : 'failed' }, seconds),
    },
    logger,
    {
      ...parts.clone,
      onReady: (workspace) => {
        parts.clone?.onReady?.(workspace);
        refresh = setInterval(() => {
          workspace
            .exclusive(() => workspace.fetch())
            .catch((err: unknown) => logger.warn({ err }, 'background fetch failed'));
        }, config.fetchIntervalMs);
        refresh.unref();
      },
    },
  );
  const audit = new AuditLog(logger, config.auditFile);
  const policy = new EditPolicy(config.editable);
  const presence = new Presence();
  const editor = new EditorService({
    workspace: clone,
    policy,
    maxFileBytes: config.maxFileBytes,
    audit,
    logger,
    onResult: (result) => metrics.savesTotal.inc({ result }),
    onSaved: (saved) => presence.saved(saved),
  });
  const sessions = new SessionManager({
    secret: config.sessionSecret,
    idleSeconds: config.sessionIdleSeconds,
    absoluteSeconds: config.sessionMaxSeconds,
    revocations: new RevocationList(
      config.stateDir ? path.join(config.stateDir, 'revoked-sessions.jsonl') : undefined,
    ),
  });
  const signin = new SignInGuard(users, {
    perClientPerMinute: config.signinLimitPerMinute,
    perAccount: config.signinAccountLimit,
    concurrency: config.signinConcurrency,
  });

  const backend: ChangeRequestBackend = parts.github
    ? new GitHubChangeRequests({ ...parts.github, branch: config.branch, logger })
    : new LocalChangeRequests(clone, config.stateDir);
  const previewUrl = config.changeRequests.previewUrl;
  const changes = new ChangeRequestService({
    ...config.changeRequests,
    previewUrl: previewUrl ? (name) => previewUrl.replaceAll('{name}', name) : undefined,
    backend,
    editor,
    workspace: clone,
    policy,
    audit,
  });

  return {
    clone,
    api: { editor, users, sessions, signin, audit, config, changes, presence },
    close: async () => {
      clearInterval(refresh);
      presence.close();
      await clone.close();
    },
  };
}

/** The pipeline routes of an editor that follows a pipeline. */
export function composePipeline(
  editor: RunningEditor,
  tracker: PipelineTracker,
  lifecycle: Lifecycle,
): PipelineApiDeps {
  const { config, audit } = editor.api;
  const previews = tracker.previews?.bind(tracker);
  if (previews) editor.api.changes.followPreviews(previews);
  return {
    tracker,
    lifecycle,
    streams: config.streams,
    rollbacks: new RollbackService({
      workspace: editor.clone,
      policy: new EditPolicy(config.editable),
      audit,
      releases: () => tracker.releases(),
    }),
  };
}

/** What the editor follows after a save: the local supervisor, GitHub Actions, or nothing. */
export function pipelineTracker(config: Config, logger: Logger): PipelineTracker | undefined {
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

export interface Platform {
  deps: AppDeps;
  close(): Promise<void>;
}

/** Everything an instance serves, from its configuration. */
export async function composePlatform(
  config: Config,
  parts: EditorParts & { lifecycle: Lifecycle; buildInfo: BuildInfo; webappDir: string },
): Promise<Platform> {
  const { logger, metrics, lifecycle } = parts;
  if (config.trustProxy && !config.edgeToken) {
    logger.warn(
      'REFLEX_TRUST_PROXY=true without REFLEX_EDGE_TOKEN: anyone who reaches this port can forge X-Forwarded-For; set REFLEX_EDGE_TOKEN',
    );
  }
  const github =
    config.pipeline.kind === 'github'
      ? {
          repository: config.pipeline.repository,
          token: config.pipeline.token,
          apiUrl: config.pipeline.apiUrl,
        }
      : undefined;
  const editor = config.editor
    ? await composeEditor(config.editor, { ...parts, github })
    : undefined;
  const tracker = editor ? pipelineTracker(config, logger) : undefined;
  // A commit reached the origin (a save here, another instance's, or a push by hand): fetch it
  // now rather than at the next background fetch, so the editor lists what was pushed.
  tracker?.subscribe((event) => {
    if (event.stage !== 'committed' || !editor?.clone.ready) return;
    const workspace = editor.clone.current();
    workspace
      .exclusive(() => workspace.fetch())
      .catch((err: unknown) => logger.warn({ err }, 'fetch after a push failed'));
  });
  // Built next to the server bundle (dist/ui); from src/ the same folder is ../dist/ui.
  const ui: Middleware | undefined = editor
    ? editorUi({ dir: path.resolve(parts.webappDir, 'dist', 'ui') })
    : undefined;
  return {
    deps: {
      config,
      logger,
      metrics,
      lifecycle,
      buildInfo: parts.buildInfo,
      editor: editor?.api,
      pipeline: editor && tracker ? composePipeline(editor, tracker, lifecycle) : undefined,
      editorUi: ui,
    },
    close: async () => {
      tracker?.close();
      await editor?.close();
    },
  };
}
