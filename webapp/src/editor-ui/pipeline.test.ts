import type { StageEvent } from '../pipeline/types';
import {
  MAX_RUNS,
  applyEvent,
  emptyPipeline,
  parseStageEvent,
  recentRuns,
  runOf,
  sameCommit,
  type PipelineState,
} from './pipeline';

const SHA = 'a'.repeat(40);
const OTHER = 'b'.repeat(40);

function at(seconds: number): string {
  return new Date(Date.UTC(2026, 0, 1, 12, 0, seconds)).toISOString();
}

function event(partial: Partial<StageEvent> & Pick<StageEvent, 'stage' | 'status'>): StageEvent {
  return { sha: SHA, at: at(0), ...partial };
}

function fold(events: StageEvent[], state: PipelineState = emptyPipeline()): PipelineState {
  return events.reduce(applyEvent, state);
}

const LOCAL_RUN: StageEvent[] = [
  event({ stage: 'committed', status: 'succeeded', at: at(0), durationMs: 0 }),
  event({ stage: 'checkout', status: 'succeeded', at: at(1), durationMs: 80 }),
  event({ stage: 'gate', status: 'started', at: at(1) }),
  event({ stage: 'gate', status: 'succeeded', at: at(3), durationMs: 2000 }),
  event({ stage: 'build', status: 'started', at: at(3) }),
  event({ stage: 'build', status: 'succeeded', at: at(4), durationMs: 900 }),
  event({ stage: 'start', status: 'started', at: at(4) }),
  event({ stage: 'start', status: 'succeeded', at: at(5), durationMs: 400 }),
  event({ stage: 'healthy', status: 'succeeded', at: at(6), durationMs: 300 }),
  event({ stage: 'live', status: 'succeeded', at: at(7), durationMs: 10 }),
];

describe('pipeline stage reducer', () => {
  it('a commit with no events yet shows every local stage pending', () => {
    const run = runOf(emptyPipeline(), SHA);
    expect(run.state).toBe('pending');
    expect(run.stages.map((s) => [s.name, s.state])).toEqual([
      ['committed', 'pending'],
      ['checkout', 'pending'],
      ['gate', 'pending'],
      ['build', 'pending'],
      ['start', 'pending'],
      ['healthy', 'pending'],
      ['live', 'pending'],
    ]);
  });

  it('stages move from pending to running to succeeded as events arrive', () => {
    const midway = fold(LOCAL_RUN.slice(0, 5));
    const run = runOf(midway, SHA);
    expect(run.state).toBe('running');
    expect(run.stages.map((s) => s.state)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'running',
      'pending',
      'pending',
      'pending',
    ]);
    expect(run.stages[2]).toEqual({ name: 'gate', state: 'succeeded', durationMs: 2000 });
  });

  it('the run is live once the live stage succeeded', () => {
    const run = runOf(fold(LOCAL_RUN), SHA);
    expect(run.state).toBe('live');
    expect(run.stages.every((s) => s.state === 'succeeded')).toBe(true);
    expect(run.updatedAt).toBe(at(7));
  });

  it('a failed stage carries its log; the stages after it are skipped', () => {
    const state = fold([
      ...LOCAL_RUN.slice(0, 3),
      event({
        stage: 'gate',
        status: 'failed',
        at: at(5),
        durationMs: 4000,
        log: 'src/site/routes.ts(3,7): error TS2322',
      }),
    ]);
    const run = runOf(state, SHA);
    expect(run.state).toBe('failed');
    expect(run.failure).toEqual({
      name: 'gate',
      state: 'failed',
      durationMs: 4000,
      log: 'src/site/routes.ts(3,7): error TS2322',
    });
    expect(run.stages.slice(3).map((s) => s.state)).toEqual([
      'skipped',
      'skipped',
      'skipped',
      'skipped',
    ]);
  });

  it('replayed events (a reconnect) change nothing, in any order', () => {
    const once = fold(LOCAL_RUN);
    const replayed = fold(LOCAL_RUN, once);
    expect(replayed).toBe(once);
    const reversed = fold([...LOCAL_RUN].reverse());
    expect(runOf(reversed, SHA)).toEqual(runOf(once, SHA));
  });

  it('a started event replayed after the stage finished does not set it back to running', () => {
    const state = fold([
      event({ stage: 'gate', status: 'started', at: at(1) }),
      event({ stage: 'gate', status: 'succeeded', at: at(3), durationMs: 2000 }),
      event({ stage: 'gate', status: 'started', at: at(1) }),
    ]);
    expect(runOf(state, SHA).stages[2]!.state).toBe('succeeded');
  });

  it('at the same instant a finished stage wins over a started one', () => {
    const state = fold([
      event({ stage: 'build', status: 'succeeded', at: at(2), durationMs: 1 }),
      event({ stage: 'build', status: 'started', at: at(2) }),
    ]);
    expect(runOf(state, SHA).stages[3]!.state).toBe('succeeded');
  });

  it('a later run of the same stage (a re-run) replaces the earlier outcome', () => {
    const state = fold([
      event({ stage: 'gate', status: 'failed', at: at(1), log: 'flaky' }),
      event({ stage: 'gate', status: 'started', at: at(10) }),
    ]);
    const run = runOf(state, SHA);
    expect(run.stages[2]!.state).toBe('running');
    expect(run.state).toBe('running');
  });

  it('recognises the AWS path by its stages, and remembers it for the next commit', () => {
    const state = fold([
      event({ stage: 'committed', status: 'succeeded', at: at(0) }),
      event({
        stage: 'tests',
        status: 'started',
        at: at(1),
        url: 'https://github.com/o/r/actions/runs/1',
      }),
    ]);
    const run = runOf(state, SHA);
    expect(run.flavor).toBe('github');
    expect(run.stages.map((s) => s.name)).toEqual([
      'committed',
      'tests',
      'image',
      'deploy',
      'live',
    ]);
    expect(run.stages[1]!.url).toBe('https://github.com/o/r/actions/runs/1');
    // A commit with only `committed` so far is shown with the stages last seen.
    const next = applyEvent(
      state,
      event({ sha: OTHER, stage: 'committed', status: 'succeeded', at: at(9) }),
    );
    expect(runOf(next, OTHER).flavor).toBe('github');
  });

  it('lists runs newest first and keeps only the most recent ones', () => {
    let state = emptyPipeline();
    for (let i = 0; i < MAX_RUNS + 5; i++) {
      const sha = i.toString(16).padStart(40, '0');
      state = applyEvent(state, event({ sha, stage: 'committed', status: 'succeeded', at: at(i) }));
    }
    const runs = recentRuns(state);
    expect(runs).toHaveLength(MAX_RUNS);
    expect(runs[0]!.sha).toBe((MAX_RUNS + 4).toString(16).padStart(40, '0'));
    expect(runs.map((r) => r.sha)).not.toContain('0'.repeat(40));
  });
});

describe('parseStageEvent', () => {
  it('accepts a stage event and keeps only the known fields', () => {
    expect(
      parseStageEvent(
        JSON.stringify({
          sha: SHA,
          stage: 'build',
          status: 'failed',
          at: at(3),
          durationMs: 12,
          log: 'boom',
          url: 'https://ci.example/run/1',
          extra: 'ignored',
        }),
      ),
    ).toEqual({
      sha: SHA,
      stage: 'build',
      status: 'failed',
      at: at(3),
      durationMs: 12,
      log: 'boom',
      url: 'https://ci.example/run/1',
    });
  });

  it.each([
    ['not JSON', 'nope'],
    [
      'an unknown stage',
      JSON.stringify({ sha: SHA, stage: 'deploy-ish', status: 'started', at: at(0) }),
    ],
    ['an unknown status', JSON.stringify({ sha: SHA, stage: 'gate', status: 'done', at: at(0) })],
    ['a bad sha', JSON.stringify({ sha: 'HEAD', stage: 'gate', status: 'started', at: at(0) })],
    ['a bad time', JSON.stringify({ sha: SHA, stage: 'gate', status: 'started', at: 'soon' })],
    ['null', 'null'],
  ])('refuses %s', (_what, data) => {
    expect(parseStageEvent(data)).toBeUndefined();
  });

  it('drops a link that is not http(s), so the page never renders a javascript: URL', () => {
    const parsed = parseStageEvent(
      JSON.stringify({
        sha: SHA,
        stage: 'tests',
        status: 'failed',
        at: at(0),
        url: 'javascript:alert(1)',
      }),
    );
    expect(parsed).toBeDefined();
    expect(parsed!.url).toBeUndefined();
  });
});

describe('sameCommit', () => {
  it.each([
    [SHA, SHA, true],
    [SHA.slice(0, 7), SHA, true],
    [SHA, SHA.slice(0, 12), true],
    [SHA, OTHER, false],
    ['aaaaaa', SHA, false],
  ])('%s vs %s: %s', (a, b, same) => {
    expect(sameCommit(a, b)).toBe(same);
  });
});
