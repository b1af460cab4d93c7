/**
 * The host's nginx edge (deploy-scripts/nginx/reflex.conf, rendered by the deploy scripts'
 * render_edge_conf) in a real nginx on loopback, in front of an upstream that echoes what it
 * received: body limits, timeouts, the sign-in rate limit, and honest client addresses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, freePort, runOk } from './lab';

jest.setTimeout(60_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-edge-'));
const TOKEN = 'f'.repeat(64);
let upstream: Server;
let upstreamRequests = 0;
const nginxes: ChildProcess[] = [];

/** Start nginx with the edge config rendered for these settings; resolve its base URL. */
async function startEdge(settings: Record<string, string>): Promise<string> {
  const port = await freePort();
  const name = `edge-${port}`;
  const upstreamPort = String((upstream.address() as AddressInfo).port);
  const site = await runOk(
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
        REFLEX_EDGE_LISTEN: `127.0.0.1:${port}`,
        REFLEX_EDGE_TRUSTED_PROXIES: '',
        ...settings,
      },
    },
  );
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'tmp'), { recursive: true });
  writeFileSync(path.join(root, 'reflex.conf'), site);
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

/** GET /echo through the edge: the headers the upstream received. */
async function echoedHeaders(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/echo`, { headers });
  return (await response.json()) as IncomingHttpHeaders;
}

beforeAll(async () => {
  upstream = createServer((request, response) => {
    upstreamRequests++;
    request.resume();
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(request.headers));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const nginx of nginxes) {
    if (nginx.exitCode !== null) continue;
    const exited = new Promise((resolve) => nginx.once('exit', resolve));
    nginx.kill('SIGTERM');
    await exited;
  }
  upstream.close();
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
    const response = await fetch(`${edge}/api/files/page.html`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(2 * 1024 * 1024 + 60 * 1024, 0x20),
    });
    expect(response.status).toBe(200);
    expect(upstreamRequests).toBe(before + 1);
  });

  it('answers an oversize body 413 itself, without reaching the app', async () => {
    const before = upstreamRequests;
    const response = await fetch(`${edge}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(4 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('server')).toMatch(/^nginx/);
    expect(upstreamRequests).toBe(before);
  });

  it('limits sign-in attempts per client (POST /api/session), not other requests', async () => {
    const signIns: number[] = [];
    for (let i = 0; i < 10; i++) {
      signIns.push((await fetch(`${edge}/api/session`, { method: 'POST', body: '{}' })).status);
    }
    expect(signIns.slice(0, 6)).toEqual(Array(6).fill(200));
    expect(signIns.slice(6)).toEqual(Array(4).fill(429));
    const reads = await Promise.all(
      Array.from({ length: 10 }, async () => (await fetch(`${edge}/api/session`)).status),
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

  it('serves no /metrics at the edge', async () => {
    expect((await fetch(`${edge}/metrics`)).status).toBe(404);
    expect((await fetch(`${edge}/metrics/x`)).status).toBe(404);
  });
});
