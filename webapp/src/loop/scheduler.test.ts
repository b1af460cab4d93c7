import { Scheduler, type Job } from './scheduler';

/** A scheduler whose jobs wait until the test finishes them, recording what happened. */
function harness() {
  const ran: string[] = [];
  const superseded: string[] = [];
  const finishers: (() => void)[] = [];
  const signals: AbortSignal[] = [];
  const scheduler = new Scheduler({
    run: (job: Job, signal) => {
      ran.push(job.kind === 'build' ? job.sha : `restore ${job.sha} (${job.reason.kind})`);
      signals.push(signal);
      return new Promise<void>((resolve) => finishers.push(resolve));
    },
    superseded: (sha) => superseded.push(sha),
    queued: () => undefined,
  });
  const finishNext = async () => {
    finishers.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { scheduler, ran, superseded, finishNext, signals };
}

describe('the pipeline scheduler', () => {
  it('runs one job at a time, in order', async () => {
    const h = harness();
    h.scheduler.build('a');
    expect(h.ran).toEqual(['a']);
    h.scheduler.build('b');
    expect(h.ran).toEqual(['a']);
    await h.finishNext();
    expect(h.ran).toEqual(['a', 'b']);
    await h.finishNext();
    await h.scheduler.idle();
  });

  it('newest wins: a push while one waits replaces it, and the replaced one is superseded', async () => {
    const h = harness();
    h.scheduler.build('a');
    h.scheduler.build('b');
    h.scheduler.build('c');
    h.scheduler.build('d');
    expect(h.superseded).toEqual(['b', 'c']);
    await h.finishNext();
    await h.finishNext();
    await h.scheduler.idle();
    expect(h.ran).toEqual(['a', 'd']);
  });

  it('ignores a commit already running or already waiting', async () => {
    const h = harness();
    h.scheduler.build('a');
    h.scheduler.build('a');
    h.scheduler.build('b');
    h.scheduler.build('b');
    expect(h.superseded).toEqual([]);
    await h.finishNext();
    await h.finishNext();
    await h.scheduler.idle();
    expect(h.ran).toEqual(['a', 'b']);
  });

  it('puts a crashed release back before any waiting build', async () => {
    const h = harness();
    h.scheduler.build('a');
    h.scheduler.build('b');
    h.scheduler.restore('old', { kind: 'crashed', sha: 'a', code: 'exited (4)' });
    await h.finishNext();
    expect(h.ran).toEqual(['a', 'restore old (crashed)']);
    await h.finishNext();
    await h.finishNext();
    await h.scheduler.idle();
    expect(h.ran).toEqual(['a', 'restore old (crashed)', 'b']);
  });

  it('a resumed release runs as a restore with its own reason', async () => {
    const h = harness();
    h.scheduler.restore('head', { kind: 'resumed' });
    await h.finishNext();
    await h.scheduler.idle();
    expect(h.ran).toEqual(['restore head (resumed)']);
  });

  it('close aborts the running job, drops what waits, and starts nothing after', async () => {
    const h = harness();
    h.scheduler.build('a');
    h.scheduler.build('b');
    const closed = h.scheduler.close();
    expect(h.signals[0]!.aborted).toBe(true);
    await h.finishNext();
    await closed;
    h.scheduler.build('c');
    h.scheduler.restore('d', { kind: 'resumed' });
    await h.scheduler.idle();
    expect(h.ran).toEqual(['a']);
  });
});
