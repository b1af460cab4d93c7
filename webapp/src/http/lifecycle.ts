/**
 * The instance's readiness, shared by `/healthz` and graceful shutdown. Long-lived responses
 * (Server-Sent Events) register a drain hook so that shutdown ends them at once instead of
 * waiting out the drain bound.
 */
export type LifecycleState = 'starting' | 'ready' | 'draining';

export class Lifecycle {
  private current: LifecycleState = 'starting';
  private readonly drainHooks = new Set<() => void>();

  get state(): LifecycleState {
    return this.current;
  }

  get isReady(): boolean {
    return this.current === 'ready';
  }

  markReady(): void {
    if (this.current === 'starting') this.current = 'ready';
  }

  /** Run `hook` when draining starts (at once if it already has). Returns an unsubscribe. */
  onDrain(hook: () => void): () => void {
    if (this.current === 'draining') {
      hook();
      return () => undefined;
    }
    this.drainHooks.add(hook);
    return () => this.drainHooks.delete(hook);
  }

  beginDrain(): void {
    if (this.current === 'draining') return;
    this.current = 'draining';
    for (const hook of this.drainHooks) hook();
    this.drainHooks.clear();
  }
}
