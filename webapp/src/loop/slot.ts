/**
 * One pipeline job at a time on this machine, whichever lane asks: the branch that goes live,
 * and the change requests' previews. The deploy branch goes first: a preview waits while a
 * release of the branch is waiting or running.
 */
export type Lane = 'main' | 'preview';

export class PipelineSlot {
  private held = false;
  private readonly waiting: Record<Lane, (() => void)[]> = { main: [], preview: [] };

  /** Resolves with a release function once the slot is this caller's. */
  acquire(lane: Lane): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.held = true;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.held = false;
          this.next();
        });
      };
      if (!this.held) grant();
      else this.waiting[lane].push(grant);
    });
  }

  private next(): void {
    const grant = this.waiting.main.shift() ?? this.waiting.preview.shift();
    grant?.();
  }
}
