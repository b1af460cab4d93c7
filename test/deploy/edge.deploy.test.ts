/**
 * The host's nginx edge (deploy-scripts/nginx/reflex.conf, rendered by the deploy scripts'
 * render_edge_conf) in a real nginx on loopback, in front of two upstreams, a platform and a
 * site, that echo what they received: routing by host name, what the site never receives, body
 * limits, timeouts, the sign-in rate limit, and honest client addresses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, freePort, runOk } from './lab';

jest.setTimeout(60_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-edge-'));
const TOKEN = 'f'.repeat(64);
let upstream: Server;
let site: Server;
let upstreamRequests = 0;
/** The editor's host: everything on it goes to the platform. */
const EDITOR = { host: 'editor.example.test' };
const nginxes: ChildProcess[] = [];

/** Start nginx with the edge config rendered for these settings; resolve its base URL. */
async function startEdge(settings: Record<string, string>): Promise<string> {
  const port = await freePort();
  const name = `edge-${port}`;
  const upstreamPort = String((upstream.address() as AddressInfo).port);
  const sitePort = String((site.address() as AddressInfo).port);
  const conf = await runOk(
    'bash',
    [
      '-c',
      `source '${ROOT}/deploy-scripts/lib/common.sh' && render_edge_conf '${ROOT}/deploy-scripts/nginx/reflex.conf' ${TOKEN}`,
    ],
    {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        REFLEX_EDGE_SWITCH: path.join(dir, 'no-switch'),
        REFLEX_BLUE_PORT: upstreamPort,
        REFLEX_GREEN_PORT: upstreamPort,
        REFLEX_SITE_BLUE_PORT: sitePort,
        REFLEX_SITE_GREEN_PORT: sitePort,
        REFLEX_EDGE_LISTEN: `127.0.0.1:${port}`,
        REFLEX_EDGE_TRUSTED_PROXIES: '',
        ...settings,
      },
    },
  );
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'tmp'), { recursive: true });
  writeFileSync(path.join(root, 'reflex.conf'), conf);
  writeFileSync(
    path.join(root, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      'user root;',
      `pid ${root}/nginx.pid;`,
      `error_log ${root}/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${root}/tmp/body;`,
      `  proxy_temp_path ${root}/tmp/proxy;`,
      `  include ${root}/reflex.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  const nginx = spawn('nginx', ['-c', path.join(root, 'nginx.conf'), '-e', `${root}/error.log`], {
    stdio: 'ignore',
  });
  nginxes.push(nginx);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/healthz`);
      return url;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('nginx did not start');
}

/** GET /echo on the editor's host through the edge: the headers the platform received. */
async function echoedHeaders(url: string, headers: Record<string, string> = {}) {
  const answer = await get(url, '/echo', { ...EDITOR, ...headers });
  return JSON.parse(answer.body) as IncomingHttpHeaders;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Which upstream answered, with the headers it received (none when nginx answered itself). */
  upstream?: { name: 'platform' | 'site'; headers: IncomingHttpHeaders };
}

/**
 * GET `target` (the path as sent) through the edge with these headers, Host included (fetch
 * sends the URL's host whatever it is given); another method with a body when given.
 */
function get(
  url: string,
  target: string,
  headers: Record<string, string>,
  send: { method: string; body: Buffer } | undefined = undefined,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${target}`, { headers, method: send?.method }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        const echoed = response.headers['x-echo-upstream'];
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body,
          upstream:
            echoed === 'platform' || echoed === 'site'
              ? { name: echoed, headers: JSON.parse(body) as IncomingHttpHeaders }
              : undefined,
        });
      });
    });
    req.on('error', reject);
    req.end(send?.body);
  });
}

/** An upstream that answers every request with the headers it received, naming itself. */
function echoServer(name: 'platform' | 'site'): Promise<Server> {
  const server = createServer((incoming, response) => {
    if (name === 'platform') upstreamRequests++;
    incoming.resume();
    incoming.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.setHeader('x-echo-upstream', name);
      response.end(JSON.stringify(incoming.headers));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  upstream = await echoServer('platform');
  site = await echoServer('site');
});

afterAll(async () => {
  for (const nginx of nginxes) {
    if (nginx.exitCode !== null) continue;
    const exited = new Promise((resolve) => nginx.once('exit', resolve));
    nginx.kill('SIGTERM');
    await exited;
  }
  upstream.close();
  site.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the host edge in a real nginx', () => {
  let edge = '';
  beforeAll(async () => {
    edge = await startEdge({});
  });

  it('sets X-Forwarded-For to the address it sees, never the client-supplied list, and adds the edge token', async () => {
    const headers = await echoedHeaders(edge, { 'X-Forwarded-For': '10.0.0.1 (VPN: alice@corp)' });
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-reflex-edge']).toBe(TOKEN);
  });

  it('behind a trusted proxy takes the client address from its X-Forwarded-For, still as one address', async () => {
    const behindAlb = await startEdge({ REFLEX_EDGE_TRUSTED_PROXIES: '127.0.0.0/8' });
    const headers = await echoedHeaders(behindAlb, {
      'X-Forwarded-For': '198.51.100.7, 203.0.113.9',
    });
    expect(headers['x-forwarded-for']).toBe('203.0.113.9');
  });

  it("passes a body up to the app's largest (a 1 MiB file saved as JSON: 2 MiB) to the app", async () => {
    const before = upstreamRequests;
    const response = await get(
      edge,
      '/api/files/page.html',
      { ...EDITOR, 'content-type': 'application/json' },
      { method: 'PUT', body: Buffer.alloc(2 * 1024 * 1024 + 60 * 1024, 0x20) },
    );
    expect(response.status).toBe(200);
    expect(upstreamRequests).toBe(before + 1);
  });

  it('answers an oversize body 413 itself, without reaching the app', async () => {
    const before = upstreamRequests;
    const response = await get(
      edge,
      '/api/session',
      { ...EDITOR, 'content-type': 'application/octet-stream' },
      { method: 'POST', body: Buffer.alloc(4 * 1024 * 1024) },
    ).catch((err: NodeJS.ErrnoException) => ({ status: err.code, headers: { server: '' } }));
    expect(response.status).toBe(413);
    expect(response.headers.server).toMatch(/^nginx/);
    expect(upstreamRequests).toBe(before);
  });

  it('limits sign-in attempts per client (POST /api/session), not other requests', async () => {
    const signIns: number[] = [];
    for (let i = 0; i < 10; i++) {
      const answer = await get(edge, '/api/session', EDITOR, {
        method: 'POST',
        body: Buffer.from('{}'),
      });
      signIns.push(answer.status);
    }
    expect(signIns.slice(0, 6)).toEqual(Array(6).fill(200));
    expect(signIns.slice(6)).toEqual(Array(4).fill(429));
    const reads = await Promise.all(
      Array.from({ length: 10 }, async () => (await get(edge, '/api/session', EDITOR)).status),
    );
    expect(reads).toEqual(Array(10).fill(200));
  });

  it('closes a connection whose headers do not arrive in time (client_header_timeout)', async () => {
    const port = Number(new URL(edge).port);
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\n'));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', () => undefined);
    });
    expect(closed).toBeGreaterThanOrEqual(9_000);
    expect(closed).toBeLessThan(20_000);
  });

  it('serves no /metrics at the edge, on any host, however the path is spelled', async () => {
    for (const host of ['editor.example.test', 'example.test']) {
      for (const target of ['/metrics', '/metrics/x', '/METRICS', '/%6detrics', '/x/../metrics']) {
        const answer = await get(edge, target, { host });
        expect([host, target, answer.status, answer.upstream]).toEqual([
          host,
          target,
          404,
          undefined,
        ]);
      }
    }
  });

  it("routes by host name: editor.* to the platform; any other host to the site, but for the platform's health and version", async () => {
    const routes: [string, string, string][] = [
      ['editor.example.test', '/', 'platform'],
      ['editor.example.test', '/api/files', 'platform'],
      ['editor.example.test', '/editor/', 'platform'],
      ['editor.example.test:8080', '/healthz', 'platform'],
      ['example.test', '/', 'site'],
      ['example.test', '/blog/post.html?x=1', 'site'],
      ['example.test', '/editorial', 'site'],
      ['example.test', '/apis', 'site'],
      ['example.test', '/healthz', 'platform'],
      ['example.test', '/version', 'platform'],
      ['www.example.test', '/', 'site'],
      ['notEditor.example.test', '/', 'site'],
    ];
    for (const [host, target, expected] of routes) {
      const answer = await get(edge, target, { host });
      expect([host, target, answer.status, answer.upstream?.name]).toEqual([
        host,
        target,
        200,
        expected,
      ]);
      expect(answer.upstream!.headers.host).toBe(host);
    }
  });

  it("answers the editor's API on the site's host 404 in JSON itself, in any letter case", async () => {
    for (const target of ['/api', '/api/session', '/API/files/x', '/%61pi/session']) {
      const answer = await get(edge, target, { host: 'example.test' });
      expect([target, answer.status, answer.upstream]).toEqual([target, 404, undefined]);
      expect(answer.headers['content-type']).toBe('application/json');
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'not found' });
    }
  });

  it("redirects /editor on the site's host to the editor's host, same path and query (308)", async () => {
    for (const [target, location] of [
      ['/editor', '//editor.example.test:8080/editor'],
      ['/editor/', '//editor.example.test:8080/editor/'],
      ['/editor/files?path=a.html', '//editor.example.test:8080/editor/files?path=a.html'],
    ]) {
      const answer = await get(edge, target!, { host: 'example.test:8080' });
      expect([target, answer.status, answer.headers.location]).toEqual([target, 308, location]);
      expect(answer.upstream).toBeUndefined();
    }
  });

  it("gives the site neither the edge token nor the platform's session cookie; the platform gets both", async () => {
    const sent = {
      'x-reflex-edge': 'forged',
      'x-forwarded-for': '10.9.9.9',
    };
    for (const [cookie, kept] of [
      ['theme=dark; reflex_session=SECRET; lang=en', 'theme=dark; lang=en'],
      ['reflex_session=SECRET', ''],
      ['reflex_session=SECRET; theme=dark', 'theme=dark'],
      ['theme=dark; __Host-reflex_session=SECRET', 'theme=dark'],
      ['theme=dark', 'theme=dark'],
      ['reflex_session=A; theme=dark; reflex_session=B', ''],
    ] as const) {
      const toSite = await get(edge, '/', { host: 'example.test', cookie, ...sent });
      expect(toSite.upstream!.name).toBe('site');
      expect([cookie, toSite.upstream!.headers.cookie ?? '']).toEqual([cookie, kept]);
      expect(toSite.upstream!.headers['x-reflex-edge']).toBeUndefined();
      expect(toSite.upstream!.headers['x-forwarded-for']).toBe('127.0.0.1');
    }
    const toPlatform = await get(edge, '/api/session', {
      host: 'editor.example.test',
      cookie: 'reflex_session=SECRET',
      ...sent,
    });
    expect(toPlatform.upstream!.name).toBe('platform');
    expect(toPlatform.upstream!.headers.cookie).toBe('reflex_session=SECRET');
    expect(toPlatform.upstream!.headers['x-reflex-edge']).toBe(TOKEN);
  });
});
