/** A sliding-window counter per key (e.g. failed sign-ins per client address). */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    /** Keys tracked at most; the oldest are dropped beyond it, bounding memory. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfter(key: string, now = Date.now()): number {
    const recent = this.recent(key, now);
    if (recent.length < this.limit) return 0;
    return Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000));
  }

  record(key: string, now = Date.now()): void {
    const recent = this.recent(key, now);
    recent.push(now);
    this.hits.delete(key);
    this.hits.set(key, recent);
    if (this.hits.size > this.maxKeys) this.hits.delete(this.hits.keys().next().value!);
  }

  /** Takes back one hit recorded at `at` (an attempt that turned out to succeed). */
  forgive(key: string, at: number): void {
    const hits = this.hits.get(key);
    const index = hits?.indexOf(at) ?? -1;
    if (hits && index !== -1) hits.splice(index, 1);
  }

  private recent(key: string, now: number): number[] {
    return (this.hits.get(key) ?? []).filter((t) => t > now - this.windowMs);
  }
}
