/**
 * Brings the editor up for an instance: the account store (creating the first admin when
 * there is none), sessions, the sign-in limiter, the audit trail, and the instance's own clone
 * of the repository, kept fresh by a background fetch.
 */
import path from 'node:path';
import { AuditLog } from '../audit';
import { RateLimiter } from '../auth/rateLimit';
import { RevocationList } from '../auth/revocations';
import { SessionManager } from '../auth/sessions';
import { UserStore } from '../auth/users';
import type { EditorConfig } from '../config';
import { GitWorkspace } from '../git/workspace';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics/registry';
import type { EditorApiDeps } from '../routes/editorApi';
import { EditPolicy } from './policy';
import { EditorService } from './service';

export interface RunningEditor {
  api: EditorApiDeps;
  workspace: GitWorkspace;
  close(): Promise<void>;
}

export async function startEditor(
  config: EditorConfig,
  logger: Logger,
  metrics: Metrics,
  announce: (text: string) => void = (text) => process.stderr.write(text),
): Promise<RunningEditor> {
  const users = new UserStore(config.usersFile);
  const created = await users.ensureAdmin(config.adminPassword);
  if (created) {
    announce(
      created.generated
        ? `\nReflex created the first account (shown this once):\n  username: ${created.username}\n  password: ${created.password}\n` +
            `Add more with: npm run reflex -- users add <name>\n\n`
        : `\nReflex created the first account "${created.username}" with the password from REFLEX_ADMIN_PASSWORD.\n\n`,
    );
    logger.info(
      { username: created.username, generated: created.generated },
      'first account created',
    );
  }

  const workspace = await GitWorkspace.clone({
    repoUrl: config.repoUrl,
    branch: config.branch,
    scratchDir: config.workdir,
    credentials: { token: config.gitToken, username: config.gitUsername },
    committer: config.committer,
    logger,
    onPush: (seconds, ok) =>
      metrics.gitPushDuration.observe({ result: ok ? 'ok' : 'failed' }, seconds),
  });
  const audit = new AuditLog(logger, config.auditFile);
  const editor = new EditorService({
    workspace,
    policy: new EditPolicy(config.editable),
    maxFileBytes: config.maxFileBytes,
    audit,
    logger,
    onResult: (result) => metrics.savesTotal.inc({ result }),
  });

  const refresh = setInterval(() => {
    workspace
      .exclusive(() => workspace.fetch())
      .catch((err: unknown) => {
        logger.warn({ err }, 'background fetch failed');
      });
  }, config.fetchIntervalMs);
  refresh.unref();

  const sessions = new SessionManager({
    secret: config.sessionSecret,
    idleSeconds: config.sessionIdleSeconds,
    absoluteSeconds: config.sessionMaxSeconds,
    revocations: new RevocationList(
      config.stateDir ? path.join(config.stateDir, 'revoked-sessions.jsonl') : undefined,
    ),
  });

  return {
    workspace,
    api: {
      editor,
      users,
      sessions,
      signinLimiter: new RateLimiter(config.signinLimitPerMinute, 60_000),
      audit,
      config,
    },
    close: async () => {
      clearInterval(refresh);
      await workspace.exclusive(() => workspace.close());
    },
  };
}
