/**
 * The platform under attack (issue findings 2–4 on the platform's side), over real sockets:
 * forwarded headers count only from the edge, sign-in floods are bounded before any password
 * is hashed, event streams are capped and end by themselves, and state-changing requests are
 * accepted only from the editor's own origin.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { editorHarness, fileUrl, PASSWORD, type EditorHarness } from './support/editorApp';
import { supervisorStandIn, type SupervisorStandIn } from './support/supervisorStandIn';

const EDGE_TOKEN = 'edge-token-0123456789abcdef';
const INDEX = 'webapp/site/pages/index.html';

async function listen(h: EditorHarness): Promise<{ url: string; close: () => Promise<void> }> {
  const handle = h.app.callback();
  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function signInAudits(h: EditorHarness): { result: string; address?: string; reason?: string }[] {
  return h.logs.lines
    .filter((l) => l.msg === 'audit' && (l.audit as { action: string }).action === 'signin')
    .map((l) => l.audit as { result: string; address?: string });
}

describe('honest client addresses', () => {
  let h: EditorHarness;
  beforeEach(async () => {
    h = await editorHarness({ env: { REFLEX_EDGE_TOKEN: EDGE_TOKEN } });
  });
  afterEach(() => h.close());

  const wrong = (headers: Record<string, string>) =>
    request(h.app.callback())
      .post('/api/session')
      .set(headers)
      .send({ username: 'admin', password: 'not the password' });

  it('a forged X-Forwarded-For without the edge token changes nothing: the 6th failure is 429, the audit has the socket address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await wrong({ 'X-Forwarded-For': `10.0.0.${i + 1}` })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    const addresses = signInAudits(h).map((a) => a.address);
    expect(addresses.length).toBe(5);
    expect(addresses.every((a) => a === '127.0.0.1' || a === '::ffff:127.0.0.1')).toBe(true);
  });

  it('with the edge token, the forwarded address counts, per client', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await wrong({ 'X-Reflex-Edge': EDGE_TOKEN, 'X-Forwarded-For': '192.0.2.7' });
      expect(res.status).toBe(401);
    }
    expect(
      (await wrong({ 'X-Reflex-Edge': EDGE_TOKEN, 'X-Forwarded-For': '192.0.2.7' })).status,
    ).toBe(429);
    expect(
      (await wrong({ 'X-Reflex-Edge': EDGE_TOKEN, 'X-Forwarded-For': '192.0.2.8' })).status,
    ).toBe(401);
    expect(signInAudits(h).map((a) => a.address)).toEqual([
      ...Array(5).fill('192.0.2.7'),
      '192.0.2.8',
    ]);
  });

  it('free text in X-Forwarded-For never reaches the audit as an address', async () => {
    await wrong({
      'X-Reflex-Edge': EDGE_TOKEN,
      'X-Forwarded-For': '10.0.0.1 (VPN: alice@corp)',
    }).expect(401);
    const [audit] = signInAudits(h);
    expect(audit!.address).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(JSON.stringify(h.logs.lines)).not.toContain('alice@corp');
  });

  it('the session cookie is Secure with the __Host- prefix only over https the edge vouches for', async () => {
    const forged = await request(h.app.callback())
      .post('/api/session')
      .set('X-Forwarded-Proto', 'https')
      .send({ username: 'admin', password: PASSWORD });
    expect(forged.headers['set-cookie']![0]).toMatch(
      /^reflex_session=[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Strict$/,
    );
    const viaEdge = await request(h.app.callback())
      .post('/api/session')
      .set('X-Reflex-Edge', EDGE_TOKEN)
      .set('X-Forwarded-Proto', 'https')
      .send({ username: 'admin', password: PASSWORD });
    const cookie = viaEdge.headers['set-cookie']![0]!;
    expect(cookie).toMatch(
      /^__Host-reflex_session=[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Strict; Secure$/,
    );
    expect(cookie).not.toMatch(/Domain=/i);
    const session = await request(h.app.callback())
      .get('/api/session')
      .set('X-Reflex-Edge', EDGE_TOKEN)
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', cookie.split(';')[0]!);
    expect(session.status).toBe(200);
    // The same value under the plain name is not read over https: no shadowing by a sibling host.
    const shadow = await request(h.app.callback())
      .get('/api/session')
      .set('X-Reflex-Edge', EDGE_TOKEN)
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', cookie.split(';')[0]!.replace('__Host-', ''));
    expect(shadow.status).toBe(401);
  });
});

describe('behind a load balancer without the edge (REFLEX_TRUST_PROXY, the ECS runtime)', () => {
  let h: EditorHarness;
  beforeEach(async () => {
    h = await editorHarness({ env: { REFLEX_TRUST_PROXY: 'true' } });
  });
  afterEach(() => h.close());

  // The ALB appends the address it saw to whatever X-Forwarded-For the client sent.
  const viaAlb = (clientSent: string, albSaw: string) =>
    request(h.app.callback())
      .post('/api/session')
      .set('X-Forwarded-For', `${clientSent}, ${albSaw}`)
      .send({ username: 'admin', password: 'not the password' });

  it('the client is the last X-Forwarded-For hop: a forged first hop neither resets the limit nor reaches the audit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await viaAlb(`10.9.9.${i}`, '192.0.2.7')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect((await viaAlb('192.0.2.7', '192.0.2.8')).status).toBe(401);
    expect(signInAudits(h).map((a) => a.address)).toEqual([
      ...Array(5).fill('192.0.2.7'),
      '192.0.2.8',
    ]);
  });
});

describe('bounded sign-in', () => {
  let h: EditorHarness;
  let server: { url: string; close: () => Promise<void> };
  beforeEach(async () => {
    h = await editorHarness({ env: { REFLEX_EDGE_TOKEN: EDGE_TOKEN } });
    server = await listen(h);
  });
  afterEach(async () => {
    await server.close();
    await h.close();
  });

  it('200 concurrent wrong sign-ins from one address check at most 5 passwords; the rest are 429', async () => {
    const attempts = Array.from({ length: 200 }, () =>
      fetch(`${server.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'wrong password!' }),
      }).then((res) => res.status),
    );
    const statuses = await Promise.all(attempts);
    expect(h.editor.api.signin.checks).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(195);
  });

  it('an account is refused for a while after 10 failures from many addresses, then even the right password waits', async () => {
    const from = (i: number) => ({
      'X-Reflex-Edge': EDGE_TOKEN,
      'X-Forwarded-For': `198.51.100.${i}`,
    });
    for (let i = 0; i < 10; i++) {
      await request(h.app.callback())
        .post('/api/session')
        .set(from(i))
        .send({ username: 'admin', password: 'wrong password!' })
        .expect(401);
    }
    const right = await request(h.app.callback())
      .post('/api/session')
      .set(from(50))
      .send({ username: 'admin', password: PASSWORD });
    expect(right.status).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    const other = await h.signedIn('carol');
    expect((await other.get('/api/session')).status).toBe(200);
  });
});

describe('event streams', () => {
  let h: EditorHarness;
  let supervisor: SupervisorStandIn;
  let server: { url: string; close: () => Promise<void> };
  beforeEach(async () => {
    supervisor = await supervisorStandIn();
    h = await editorHarness({
      supervisorUrl: supervisor.url,
      env: { REFLEX_STREAMS_PER_SESSION: '2', REFLEX_STREAM_MAX_SECONDS: '1' },
    });
    server = await listen(h);
  });
  afterEach(async () => {
    await server.close();
    await h.close();
    await supervisor.close();
  });

  async function cookieOf(): Promise<string> {
    const res = await fetch(`${server.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('are capped per session: the third is 429, and closing one frees its slot', async () => {
    const cookie = await cookieOf();
    const open = () => fetch(`${server.url}/api/pipeline/events`, { headers: { cookie } });
    const first = await open();
    const second = await open();
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await open();
    expect(third.status).toBe(429);
    expect(((await third.json()) as { code: string }).code).toBe('too_many_streams');
    await first.body!.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await open();
    expect(again.status).toBe(200);
    await second.body!.cancel();
    await again.body!.cancel();
  });

  it('end on the server after their lifetime, telling the browser to reconnect', async () => {
    const cookie = await cookieOf();
    const started = Date.now();
    const res = await fetch(`${server.url}/api/pipeline/events`, { headers: { cookie } });
    const text = await res.text();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(text).toMatch(/^retry: \d+\n\n/);
  });
});

describe("the editor's own origin", () => {
  let h: EditorHarness;
  beforeEach(async () => {
    h = await editorHarness({
      env: {
        REFLEX_EDITOR_URL: 'http://editor.localhost:4000/',
        REFLEX_PUBLIC_URL: 'http://localhost:4000',
      },
    });
  });
  afterEach(() => h.close());

  it('accepts state-changing requests from that origin only, whatever host they reached', async () => {
    const agent = await h.signedIn();
    const head = h.origin.head();
    const fromSite = await agent
      .put(fileUrl(INDEX))
      .set('Host', 'localhost:4000')
      .set('Origin', 'http://localhost:4000')
      .set('Sec-Fetch-Site', 'same-origin')
      .send({ content: '<h1>from a site page</h1>\n', baseCommit: head });
    expect(fromSite.status).toBe(403);
    expect(fromSite.body.code).toBe('csrf');
    expect(h.origin.head()).toBe(head);
    const fromEditor = await agent
      .put(fileUrl(INDEX))
      .set('Host', 'editor.localhost:4000')
      .set('Origin', 'http://editor.localhost:4000')
      .send({ content: '<h1>from the editor</h1>\n', baseCommit: head });
    expect(fromEditor.status).toBe(200);
  });

  it("tells the editor the site's URL, for redirect-when-live", async () => {
    const agent = await h.signedIn();
    expect((await agent.get('/api/settings')).body).toMatchObject({
      siteUrl: 'http://localhost:4000',
      wideScope: false,
    });
  });
});
