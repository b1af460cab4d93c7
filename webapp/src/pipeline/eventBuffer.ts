/**
 * Recent events and their listeners: what a subscriber that connects mid-run needs (the
 * recent ones, oldest first) and then every new one. The one buffer behind each event stream
 * (the trackers here, the supervisor's history).
 */
export class EventBuffer<T> {
  private readonly listeners = new Set<(event: T) => void>();
  private readonly kept: T[] = [];

  constructor(private readonly keep: number) {}

  /** Keeps `event` (dropping the oldest beyond `keep`) and passes it to every listener. */
  emit(event: T): T | undefined {
    this.kept.push(event);
    const dropped = this.kept.length > this.keep ? this.kept.shift() : undefined;
    for (const listener of this.listeners) listener(event);
    return dropped;
  }

  /** Events from now on; returns an unsubscribe function. */
  subscribe(listener: (event: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The kept events, oldest first. */
  recent(): T[] {
    return [...this.kept];
  }

  clearListeners(): void {
    this.listeners.clear();
  }
}
