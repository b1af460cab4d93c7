import { Freshness, type FreshnessWorkspace } from './freshness';

const sha = (n: number) => n.toString(16).padStart(40, '0');

/** A clone of an origin whose branch is a line of commits 1..n; `fetch` takes the origin's tip. */
class Clone implements FreshnessWorkspace {
  head = sha(1);
  fetches = 0;
  constructor(readonly origin: { tip: number }) {}
  hasCommit(s: string) {
    return Promise.resolve(parseInt(s, 16) <= parseInt(this.head, 16));
  }
  isAncestor(a: string, b: string) {
    return Promise.resolve(parseInt(a, 16) <= parseInt(b, 16));
  }
  exclusive<T>(job: () => Promise<T>) {
    return job();
  }
  async fetch() {
    this.fetches++;
    const tip = this.origin.tip; // a fetch takes the refs the origin had when it started
    await new Promise((resolve) => setTimeout(resolve, 20));
    this.head = sha(tip);
    return this.head;
  }
}

describe('read your writes across instances (Freshness)', () => {
  it('a commit made just after a fetch is still found: the next request waits for a later fetch', async () => {
    const origin = { tip: 2 };
    const clone = new Clone(origin);
    const freshness = new Freshness(100);
    expect(await freshness.catchUp(clone, sha(2))).toBe(true);
    origin.tip = 3; // another instance saved, right after this one fetched
    expect(await freshness.catchUp(clone, sha(3))).toBe(true);
    expect(clone.head).toBe(sha(3));
  });

  it('a request that arrives while a fetch runs waits for one that starts after it', async () => {
    const origin = { tip: 2 };
    const clone = new Clone(origin);
    const freshness = new Freshness(0);
    const first = freshness.catchUp(clone, sha(2));
    await new Promise((resolve) => setTimeout(resolve, 5)); // the first fetch is running
    origin.tip = 3;
    const second = freshness.catchUp(clone, sha(3));
    expect(await first).toBe(true);
    expect(await second).toBe(true);
  });

  it('many requests naming a commit that never comes share one fetch per interval', async () => {
    const clone = new Clone({ tip: 1 });
    const freshness = new Freshness(200);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => freshness.catchUp(clone, sha(99))),
    );
    expect(answers.every((a) => a === false)).toBe(true);
    expect(clone.fetches).toBe(1);
    const started = Date.now();
    await freshness.catchUp(clone, sha(99));
    expect(clone.fetches).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('a commit the clone already has, or no commit named, costs no fetch', async () => {
    const clone = new Clone({ tip: 5 });
    const freshness = new Freshness();
    expect(await freshness.catchUp(clone, sha(1))).toBe(true);
    expect(await freshness.catchUp(clone, undefined)).toBe(true);
    expect(await freshness.catchUp(clone, 'not-a-sha')).toBe(true);
    expect(clone.fetches).toBe(0);
  });
});
