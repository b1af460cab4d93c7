/** Release history (state/releases.json, newest first) and the pipeline's event stream. */
import { readFileSync } from 'node:fs';
import { writeAtomically } from '../files';
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

export class EventBus {
  private readonly listeners = new Set<(event: StageEvent) => void>();
  private readonly recent: StageEvent[] = [];

  emit(event: StageEvent): void {
    this.recent.push(event);
    if (this.recent.length > KEEP_EVENTS) this.recent.shift();
    for (const listener of this.listeners) listener(event);
  }

  subscribe(listener: (event: StageEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  recentEvents(): StageEvent[] {
    return [...this.recent];
  }
}
