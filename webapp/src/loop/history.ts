/** Release history (state/releases.json, newest first) and the pipeline's event stream. */
import { readFileSync } from 'node:fs';
import { writeAtomically } from '../files';
import { EventBuffer } from '../pipeline/eventBuffer';
import type { ReleaseRecord, StageEvent } from '../pipeline/types';

const KEEP_RECORDS = 50;
const KEEP_EVENTS = 300;

export class History {
  private records: ReleaseRecord[];

  constructor(private readonly file: string) {
    try {
      this.records = JSON.parse(readFileSync(file, 'utf8')) as ReleaseRecord[];
    } catch {
      this.records = [];
    }
  }

  all(): ReleaseRecord[] {
    return this.records;
  }

  get(sha: string): ReleaseRecord | undefined {
    return this.records.find((r) => r.sha === sha);
  }

  /** The release marked live when the supervisor last ran. */
  lastLive(): ReleaseRecord | undefined {
    return this.records.find((r) => r.live);
  }

  /** Adds `record` (replacing an earlier one for the same commit) and saves. */
  put(record: ReleaseRecord): void {
    this.records = [record, ...this.records.filter((r) => r.sha !== record.sha)].slice(
      0,
      KEEP_RECORDS,
    );
    this.save();
  }

  /** Saves after in-place changes to records. Atomic: temp file + rename. */
  save(): void {
    writeAtomically(this.file, JSON.stringify(this.records, null, 2) + '\n');
  }
}

/** The pipeline's stage events: the recent ones for a client that connects mid-run, then each new one. */
export class EventBus extends EventBuffer<StageEvent> {
  constructor() {
    super(KEEP_EVENTS);
  }

  recentEvents(): StageEvent[] {
    return this.recent();
  }
}
