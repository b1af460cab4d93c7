/**
 * The instance's clone, made in the background: the instance serves (the site, /healthz)
 * while it is cloned, and a clone that fails (the origin is down, the token is wrong) is
 * retried with backoff instead of failing the start. Until it is there, `current()` throws
 * `not_ready` with the reason and when to ask again.
 */
import { DomainError } from '../errors';
import type { Logger } from '../logger';
import { GitWorkspace, type WorkspaceOptions } from './workspace';

/** Where the layers above get the workspace from, at the moment they need it. */
export interface WorkspaceSource {
  current(): GitWorkspace;
}

/** A workspace that is there already. */
export function readyWorkspace(workspace: GitWorkspace): WorkspaceSource {
  return { current: () => workspace };
}

export interface BackgroundCloneOptions {
  /** First retry after this long, doubling up to `maxRetryMs`. */
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** Called once, when the clone is ready. */
  onReady?: (workspace: GitWorkspace) => void;
  clone?: (options: WorkspaceOptions) => Promise<GitWorkspace>;
}

export class BackgroundClone implements WorkspaceSource {
  private workspace: GitWorkspace | undefined;
  private problem = 'the repository is being cloned';
  private retryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private attempt: Promise<void> | undefined;

  constructor(
    private readonly options: WorkspaceOptions,
    private readonly logger: Logger,
    private readonly background: BackgroundCloneOptions = {},
  ) {
    this.retryMs = background.firstRetryMs ?? 1000;
    this.start();
  }

  get ready(): boolean {
    return this.workspace !== undefined;
  }

  current(): GitWorkspace {
    if (this.workspace) return this.workspace;
    throw new DomainError('not_ready', `the editor is not ready: ${this.problem}`, {
      retryAfterSeconds: Math.max(1, Math.ceil(this.retryMs / 1000)),
    });
  }

  /** Resolves when the clone is there (for tests and tools; the server does not wait). */
  async whenReady(): Promise<GitWorkspace> {
    while (!this.workspace) {
      if (this.closed) throw new Error('closed before the clone was ready');
      await (this.attempt ?? new Promise((resolve) => setTimeout(resolve, 50)));
    }
    return this.workspace;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.attempt;
    await this.workspace?.exclusive(() => this.workspace!.close());
  }

  private start(): void {
    if (this.closed) return;
    this.attempt = this.tryOnce().finally(() => (this.attempt = undefined));
  }

  private async tryOnce(): Promise<void> {
    try {
      const workspace = await (this.background.clone ?? GitWorkspace.clone)(this.options);
      if (this.closed) {
        await workspace.close();
        return;
      }
      this.workspace = workspace;
      this.background.onReady?.(workspace);
    } catch (err) {
      this.problem = `cloning failed (${(err as Error).message.split('\n')[0]}); retrying`;
      this.logger.warn({ err, retryMs: this.retryMs }, 'clone failed; retrying');
      this.timer = setTimeout(() => this.start(), this.retryMs);
      this.timer.unref();
      this.retryMs = Math.min(this.retryMs * 2, this.background.maxRetryMs ?? 30_000);
    }
  }
}
