import { SseReader, sseFrame } from './sse';

describe('server-sent events', () => {
  it('reads back what it frames, across arbitrary chunk boundaries, skipping comments', () => {
    const events = [
      { sha: 'a', stage: 'gate' },
      { sha: 'b', stage: 'live', log: 'line\nline' },
    ];
    const stream = `retry: 1000\n\n${sseFrame('stage', events[0])}: keep-alive\n\n${sseFrame('stage', events[1])}`;
    for (const size of [1, 3, 7, stream.length]) {
      const reader = new SseReader();
      const read: unknown[] = [];
      for (let i = 0; i < stream.length; i += size)
        read.push(...reader.push(stream.slice(i, i + size)));
      expect(read).toEqual(events);
    }
  });

  it('holds an incomplete frame until its end arrives', () => {
    const reader = new SseReader();
    const frame = sseFrame('stage', { sha: 'c' });
    expect(reader.push(frame.slice(0, -1))).toEqual([]);
    expect(reader.push('\n')).toEqual([{ sha: 'c' }]);
  });
});
