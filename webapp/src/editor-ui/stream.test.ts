import { LOCAL_STAGES, type StageEvent } from '../pipeline/types';
import { applyEvent, emptyPipeline, parseStageEvent, recentRuns, runOf } from './pipeline';
import {
  HEALTHY_STREAM_MS,
  RECONNECT_BASE_MS,
  RECONNECT_MAX_MS,
  SseParser,
  failuresAfter,
  reconnectDelay,
  worthRetrying,
  type StreamEvent,
} from './stream';

describe('reading Server-Sent Events', () => {
  it('yields each frame with its event name and data, skipping comments and the retry field', () => {
    const parser = new SseParser();
    expect(
      parser.push('retry: 1000\n\nevent: stage\ndata: {"a":1}\n\n: keep-alive\n\ndata: plain\n\n'),
    ).toEqual([
      { event: 'stage', data: '{"a":1}' },
      { event: 'message', data: 'plain' },
    ]);
  });

  it('puts frames split anywhere across chunks back together, CRLF included', () => {
    const text = 'event: stage\r\ndata: {"sha":"x"}\r\n\r\nevent: stage\rdata: two\r\r';
    const whole = new SseParser().push(text);
    expect(whole).toEqual([
      { event: 'stage', data: '{"sha":"x"}' },
      { event: 'stage', data: 'two' },
    ]);
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(events).toEqual(whole);
    }
  });

  it('joins data lines with newlines and keeps what follows the first space', () => {
    expect(new SseParser().push('data:a\ndata:  b\ndata\n\n')).toEqual([
      { event: 'message', data: 'a\n b\n' },
    ]);
  });

  it('an event name without data is no event, and does not leak into the next frame', () => {
    expect(new SseParser().push('event: stage\n\ndata: x\n\n')).toEqual([
      { event: 'message', data: 'x' },
    ]);
  });
});

describe('coming back to a stream', () => {
  it('the first reconnect is about a second away, spread over its second half', () => {
    expect(reconnectDelay(0, () => 0)).toBe(RECONNECT_BASE_MS / 2);
    expect(reconnectDelay(0, () => 1)).toBe(RECONNECT_BASE_MS);
  });

  it('each failure in a row doubles the wait, up to a ceiling', () => {
    const most = (failures: number) => reconnectDelay(failures, () => 1);
    expect([1, 2, 3, 4].map(most)).toEqual([2000, 4000, 8000, 16000]);
    expect(most(5)).toBe(RECONNECT_MAX_MS);
    expect(most(1000)).toBe(RECONNECT_MAX_MS);
  });

  it('never comes back sooner than the server’s Retry-After asks, within the ceiling', () => {
    expect(reconnectDelay(0, () => 1, 5)).toBe(5000);
    expect(reconnectDelay(4, () => 1, 5)).toBe(16000);
    expect(reconnectDelay(0, () => 1, 3600)).toBe(RECONNECT_MAX_MS);
  });

  it('a stream that lived (ended by its server on purpose) starts over; one that failed at once counts', () => {
    expect(failuresAfter(4, HEALTHY_STREAM_MS)).toBe(0);
    expect(failuresAfter(4, 20)).toBe(5);
    expect(failuresAfter(0, undefined)).toBe(1);
  });

  it.each([
    [404, false],
    [401, false],
    [429, true],
    [502, true],
    [503, true],
    [500, true],
  ])('a stream refused with %i is asked for again: %s', (status, again) => {
    expect(worthRetrying(status)).toBe(again);
  });
});

describe('a reconnect that replays recent events', () => {
  const SHA = 'c'.repeat(40);
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
  const stage = (name: StageEvent['stage'], status: StageEvent['status'], s: number) =>
    `event: stage\ndata: ${JSON.stringify({ sha: SHA, stage: name, status, at: at(s) })}\n\n`;

  /** What the panel does with a stream's text: parse, keep stage events, fold them in. */
  function follow(chunks: string[], state = emptyPipeline()) {
    const parser = new SseParser();
    const stageEvents = (events: StreamEvent[]) =>
      events.filter((e) => e.event === 'stage').map((e) => parseStageEvent(e.data)!);
    return chunks.flatMap((c) => stageEvents(parser.push(c))).reduce(applyEvent, state);
  }

  it('shows each stage once, as if the stream had never dropped', () => {
    const first = [stage('committed', 'succeeded', 0), stage('checkout', 'succeeded', 1)];
    const later = [stage('gate', 'started', 2), stage('gate', 'succeeded', 4)];
    const uninterrupted = follow([...first, ...later]);
    // Dropped mid-frame; the new connection replays everything the server still holds.
    const cut = first[1]!.slice(0, 20);
    const beforeDrop = follow([first[0]!, cut]);
    const afterReconnect = follow([...first, ...later], beforeDrop);
    expect(afterReconnect).toEqual(uninterrupted);
    const run = runOf(afterReconnect, SHA);
    expect(run.stages.map((s) => s.name)).toEqual([...LOCAL_STAGES]);
    expect(run.stages.filter((s) => s.state === 'succeeded')).toHaveLength(3);
    expect(recentRuns(afterReconnect)).toHaveLength(1);
  });

  it('a replay of what is already shown changes nothing (the panel does not render again)', () => {
    const events = [stage('committed', 'succeeded', 0), stage('gate', 'started', 2)];
    const shown = follow(events);
    expect(follow(events, shown)).toBe(shown);
  });
});
