/**
 * At most `limit` jobs at once; the rest wait their turn, up to `maxWaiting` of them. Password
 * hashes run in libuv's small thread pool, which file reads and DNS share: a flood of sign-ins
 * must never take all of it.
 */
export class QueueFullError extends Error {
  constructor() {
    super('too many jobs waiting');
    this.name = 'QueueFullError';
  }
}

export class Semaphore {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting = 256,
  ) {}

  /** Runs `job` when a slot is free; throws QueueFullError (not run) when too many wait. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) throw new QueueFullError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
