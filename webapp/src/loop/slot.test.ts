import { PipelineSlot } from './slot';

describe('the pipeline slot', () => {
  it('runs one holder at a time, and a waiting main job goes before waiting previews', async () => {
    const slot = new PipelineSlot();
    const order: string[] = [];
    const first = await slot.acquire('preview');
    const waits = [
      slot.acquire('preview').then((release) => (order.push('preview 1'), release)),
      slot.acquire('preview').then((release) => (order.push('preview 2'), release)),
      slot.acquire('main').then((release) => (order.push('main'), release)),
    ];
    expect(order).toEqual([]);
    first();
    (await waits[2]!)();
    (await waits[0]!)();
    (await waits[1]!)();
    expect(order).toEqual(['main', 'preview 1', 'preview 2']);
  });

  it('a release called twice releases once', async () => {
    const slot = new PipelineSlot();
    const release = await slot.acquire('main');
    const next = slot.acquire('main');
    const other = slot.acquire('main');
    release();
    release();
    const got = await next;
    let otherGranted = false;
    void other.then(() => (otherGranted = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(otherGranted).toBe(false);
    got();
    await other;
  });
});
