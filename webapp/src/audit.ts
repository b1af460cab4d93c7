/**
 * The audit trail of every change attempted through the editor: who, what path, from which
 * base, the result and the commit. Written as structured log lines (`msg: "audit"`) and, when
 * configured, appended to a JSON-lines file the operator keeps.
 */
import { appendFile } from 'node:fs/promises';
import type { Logger } from './logger';

export interface AuditRecord {
  user: string;
  action: 'save' | 'delete' | 'rollback' | 'signin';
  path?: string;
  base?: string;
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
  ) {}

  async record(record: AuditRecord): Promise<void> {
    const entry = { at: new Date().toISOString(), ...record };
    this.logger.info({ audit: entry }, 'audit');
    if (!this.file) return;
    try {
      // One write per record with O_APPEND: concurrent writers never interleave a line.
      await appendFile(this.file, JSON.stringify(entry) + '\n', { mode: 0o600 });
    } catch (err) {
      this.logger.error({ err, file: this.file }, 'cannot append to the audit file');
    }
  }
}
