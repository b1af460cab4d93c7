/**
 * The audit trail of every change attempted through the editor: who, what path, from which
 * base, the result and the commit. Written as structured log lines (`msg: "audit"`) and, when
 * configured, appended to a JSON-lines file the operator keeps. Several instances may share
 * the file (blue and green on a host, the tasks of a service on EFS): each line is appended
 * under the file's lock (files.ts, appendShared), so no line is torn or lost.
 */
import { appendShared, type Append } from './files';
import type { Logger } from './logger';

export interface AuditRecord {
  user: string;
  action: 'save' | 'delete' | 'rollback' | 'signin' | 'change-request' | 'publish';
  path?: string;
  base?: string;
  /** The branch changed when it is not the deploy branch (a change request's). */
  branch?: string;
  result: string;
  commit?: string;
  reason?: string;
  /** The client's IP address (http/clientAddress.ts makes sure it is one). */
  address?: string;
}

export class AuditLog {
  constructor(
    private readonly logger: Logger,
    private readonly file?: string,
    /** How a line is appended (tests stand in a filesystem whose appends are not atomic). */
    private readonly append?: Append,
  ) {}

  async record(record: AuditRecord): Promise<void> {
    const entry = { at: new Date().toISOString(), ...record };
    this.logger.info({ audit: entry }, 'audit');
    if (!this.file) return;
    try {
      await appendShared(this.file, JSON.stringify(entry) + '\n', {
        mode: 0o600,
        ...(this.append ? { append: this.append } : {}),
      });
    } catch (err) {
      this.logger.error({ err, file: this.file }, 'cannot append to the audit file');
    }
  }
}
