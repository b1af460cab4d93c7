/**
 * Presence: who has which file open (and with unsaved changes), pushed to everyone's event
 * stream the moment it changes, and a save's commit pushed to everyone who might have the
 * file open. Per instance, through the real app on a loopback port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PresenceEntry, SavedEvent } from '../src/api/contract';
import { Presence } from '../src/editor/presence';
import { editorHarness, fileUrl, PASSWORD, type EditorHarness } from './support/editorApp';
import { supervisorStandIn, type SupervisorStandIn } from './support/supervisorStandIn';

const PAGE = 'webapp/site/pages/index.html';

/** The named events of a stream, as they arrive. */
function events(body: ReadableStream<Uint8Array>) {
  const seen: { event: string; data: unknown }[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, end).split('\n');
          buffer = buffer.slice(end + 2);
          const event = frame.find((l) => l.startsWith('event: '))?.slice(7);
          const data = frame.find((l) => l.startsWith('data: '))?.slice(6);
          if (event && data) seen.push({ event, data: JSON.parse(data) as unknown });
          for (const wake of waiters.splice(0)) wake();
        }
      }
    } catch {
      // the stream was cancelled at the end of the test
    }
  })();
  return {
    async next<T>(event: string, match: (data: T) => boolean): Promise<T> {
      for (;;) {
        const found = seen.find((e) => e.event === event && match(e.data as T));
        if (found) return found.data as T;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

describe('presence over the event stream', () => {
  let h: EditorHarness;
  let server: Server;
  let base: string;
  let supervisor: SupervisorStandIn;
  beforeEach(async () => {
    supervisor = await supervisorStandIn();
    h = await editorHarness({ supervisorUrl: supervisor.url });
    const handle = h.app.callback();
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await h.close();
    await supervisor.close();
  });

  async function cookieOf(username: string): Promise<string> {
    await h.signedIn(username, 'author');
    const res = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it("B's stream shows A opening a file with unsaved changes, and A's save of it, as they happen", async () => {
    const ann = await cookieOf('ann');
    const bob = await cookieOf('bob');
    const controller = new AbortController();
    const stream = await fetch(`${base}/api/pipeline/events?presence=1`, {
      headers: { cookie: bob },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    const seen = events(stream.body!);
    await seen.next<{ files: PresenceEntry[] }>('presence', (d) => d.files.length === 0);

    const put = await fetch(`${base}/api/presence`, {
      method: 'PUT',
      headers: { cookie: ann, 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: PAGE, branch: 'main', dirty: true }] }),
    });
    expect(put.status).toBe(200);
    const shown = await seen.next<{ files: PresenceEntry[] }>(
      'presence',
      (d) => d.files.length > 0,
    );
    expect(shown.files).toEqual([
      expect.objectContaining({
        path: PAGE,
        branch: 'main',
        dirty: true,
        user: 'ann',
        name: 'ann Person',
      }),
    ]);

    const save = await fetch(`${base}${fileUrl(PAGE)}`, {
      method: 'PUT',
      headers: { cookie: ann, 'content-type': 'application/json' },
      body: JSON.stringify({ content: '<h1>Hi</h1>\n', baseCommit: h.origin.head() }),
    });
    expect(save.status).toBe(200);
    const saved = await seen.next<SavedEvent>('saved', (d) => d.path === PAGE);
    expect(saved).toEqual({ path: PAGE, branch: 'main', commit: h.origin.head(), user: 'ann' });
    controller.abort();
  });

  it('a report naming a path outside the repository is refused, naming why', async () => {
    const agent = await h.signedIn('ann', 'author');
    const res = await agent
      .put('/api/presence')
      .send({ files: [{ path: '../etc/passwd', branch: 'main', dirty: false }] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_path');
    expect((await agent.get('/api/presence')).body).toEqual({ files: [] });
  });
});

describe('presence of one instance', () => {
  const ann = { username: 'ann', name: 'Ann', email: 'ann@example.com', role: 'author' as const };
  const file = { path: PAGE, branch: 'main', dirty: false };

  it('a report lapses when not renewed', () => {
    let now = 0;
    const presence = new Presence({ ttlMs: 1000, now: () => now });
    const told: number[] = [];
    presence.subscribe((e) => e.kind === 'presence' && told.push(e.files.length));
    presence.report('s1', ann, [file]);
    now = 999;
    expect(presence.snapshot()).toHaveLength(1);
    now = 1001;
    expect(presence.snapshot()).toEqual([]);
    presence.close();
    expect(told).toEqual([1]);
  });

  it('an unchanged report tells no one again, and keeps when the file was opened', () => {
    let now = 0;
    const presence = new Presence({ now: () => now });
    const told: PresenceEntry[][] = [];
    presence.subscribe((e) => e.kind === 'presence' && told.push(e.files));
    presence.report('s1', ann, [file]);
    now = 5000;
    presence.report('s1', ann, [file]);
    presence.report('s1', ann, [{ ...file, dirty: true }]);
    presence.close();
    expect(told).toHaveLength(2);
    expect(told[1]![0]).toMatchObject({ dirty: true, since: new Date(0).toISOString() });
  });
});
