import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../logger';
import type { StageEvent } from '../pipeline/types';
import { EventBus, History } from './history';
import { createLoopMetrics } from './metrics';
import type { Origin } from './origin';
import { ProcessError } from './processes';
import { Recorder } from './recorder';

const origin = {
  commit: (sha: string) =>
    Promise.resolve({
      author: 'Ada <ada@x>',
      committedAt: '2026-01-01T00:00:00Z',
      message: `m ${sha}`,
    }),
} as unknown as Origin;

describe('the release recorder', () => {
  let dir: string;
  let history: History;
  let events: StageEvent[];
  let metrics: ReturnType<typeof createLoopMetrics>;
  let recorder: Recorder;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-recorder-'));
    history = new History(path.join(dir, 'releases.json'));
    const bus = new EventBus();
    events = [];
    bus.subscribe((e) => events.push(e));
    metrics = createLoopMetrics(() => 0);
    recorder = new Recorder(history, bus, metrics, origin, createLogger('silent'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const counter = async (name: string, labels: string) =>
    (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${name}${labels}`));

  it('opens a run with the commit it is for, saved, and says it was committed', async () => {
    const record = await recorder.opened('a');
    expect(record).toMatchObject({
      sha: 'a',
      author: 'Ada <ada@x>',
      message: 'm a',
      outcome: 'running',
    });
    expect(events.map((e) => [e.stage, e.status])).toEqual([['committed', 'succeeded']]);
    expect(JSON.parse(readFileSync(path.join(dir, 'releases.json'), 'utf8'))[0].sha).toBe('a');
  });

  it('records a stage that succeeds and one that fails, with the failing command log', async () => {
    const record = await recorder.opened('a');
    await recorder.stage(record, 'checkout', () => Promise.resolve());
    await expect(
      recorder.stage(record, 'gate', () =>
        Promise.reject(new ProcessError('tests exited with 1', 'FAIL x.test.ts')),
      ),
    ).rejects.toThrow('tests exited with 1');
    expect(record.stages.map((s) => [s.stage, s.outcome])).toEqual([
      ['checkout', 'succeeded'],
      ['gate', 'failed'],
    ]);
    const failed = events.find((e) => e.status === 'failed')!;
    expect(failed.log).toBe('tests exited with 1\nFAIL x.test.ts');
  });

  it('markLive for a build retires the previous release and counts a successful deploy', async () => {
    const first = await recorder.opened('a');
    recorder.markLive(first, 'built');
    recorder.pushed('b');
    const second = await recorder.opened('b');
    recorder.markLive(second, 'built', 'a');
    expect(history.get('a')).toMatchObject({ outcome: 'retired', live: false });
    expect(history.get('b')).toMatchObject({ outcome: 'live', live: true });
    expect(await counter('reflex_deploys_total', '{result="success"}')).toMatch(/ 2$/);
    expect(await counter('reflex_edit_to_live_seconds_count', '')).toMatch(/ 1$/);
    expect(await counter('reflex_release_info', '{sha="b"}')).toMatch(/ 1$/);
  });

  it('markLive after a crash says restored and counts it; a resumed release counts nothing', async () => {
    const restored = await recorder.reopened('a');
    recorder.markLive(restored, 'restored');
    expect(history.get('a')!.outcome).toBe('restored');
    expect(await counter('reflex_deploys_total', '{result="restored"}')).toMatch(/ 1$/);
    const resumed = await recorder.reopened('c');
    recorder.markLive(resumed, 'resumed', 'a');
    expect(history.get('c')!.outcome).toBe('live');
    expect(await counter('reflex_deploys_total', '{result="success"}')).toMatch(/ 0$/);
  });

  it('markCrashed reports the live stage failed and clears the live release', async () => {
    const record = await recorder.opened('a');
    recorder.markLive(record, 'built');
    recorder.markCrashed('a', 'the live release exited (4) after the switch');
    expect(history.get('a')).toMatchObject({ outcome: 'failed', live: false });
    expect(events.at(-1)).toMatchObject({ stage: 'live', status: 'failed' });
    expect(await counter('reflex_release_info', '{sha="a"}')).toBeUndefined();
  });

  it('markSuperseded records a push that was never built', async () => {
    await recorder.markSuperseded('z');
    expect(history.get('z')!.outcome).toBe('superseded');
  });
});
