/**
 * Several instances write one audit file (blue and green on a host; the tasks of a service on
 * one EFS volume, where an append is not atomic): two real processes appending at once, each
 * the way an NFS client appends, lose no record and tear no line.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killSpawned, spawnTs, WEBAPP_DIR } from './support/processes';

const RECORDS = 150;

describe('the audit file, shared by several processes', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-audit-'))));
  afterEach(() => {
    killSpawned();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two processes appending at once, as NFS clients do, lose no record and tear no line', async () => {
    const file = path.join(dir, 'audit.log');
    const startAt = String(Date.now() + 2500);
    const writers = ['blue', 'green'].map((writer) =>
      spawnTs(path.join(WEBAPP_DIR, 'test/fixtures/auditWriter.ts'), {
        AUDIT_FILE: file,
        RECORDS: String(RECORDS),
        WRITER: writer,
        START_AT: startAt,
      }),
    );
    const codes = await Promise.all(writers.map((w) => w.exited));
    expect(codes).toEqual([0, 0]);

    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const records = lines.map((line) => JSON.parse(line) as { user: string; path: string });
    for (const writer of ['blue', 'green']) {
      expect(records.filter((r) => r.user === writer).map((r) => r.path)).toEqual(
        Array.from({ length: RECORDS }, (_, i) => `file-${i}`),
      );
    }
    expect(lines).toHaveLength(2 * RECORDS);
    // The lock is gone once both are done.
    expect(readdirSync(dir)).toEqual(['audit.log']);
  });
});
