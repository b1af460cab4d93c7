/**
 * The local edge against misbehaving clients, on real sockets: two stand-in upstreams (a
 * platform and a site that report what reached them) behind a real Edge on loopback.
 */
import http from 'node:http';
import net from 'node:net';
import { createLogger } from '../logger';
import { Edge } from './edge';
import { DEFAULT_EDGE_LIMITS, type EdgeLimits } from './edgeLimits';

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
}

async function upstream(
  name: string,
  behaviour: (req: http.IncomingMessage, res: http.ServerResponse) => boolean = () => false,
) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (behaviour(req, res)) return;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ from: name, url: req.url }));
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    get connections() {
      return connections;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A raw HTTP exchange: what the edge answers to exactly these bytes. */
function raw(port: number, bytes: string, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () =>
      socket.write(bytes),
    );
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('\r\n\r\n')) socket.end();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  localAddress = '127.0.0.1',
) {
  return new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>(
    (resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers, agent: false, localAddress }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        })
        .on('error', reject);
    },
  );
}

describe('the local edge under attack', () => {
  let platform: Awaited<ReturnType<typeof upstream>>;
  let site: Awaited<ReturnType<typeof upstream>>;
  let edge: Edge;
  let port: number;
  const limits: EdgeLimits = {
    ...DEFAULT_EDGE_LIMITS,
    maxBodyBytes: 1000,
    bodyIdleTimeoutMs: 60_000,
    maxConnectionsPerClient: 300,
    maxStreamsPerClient: 3,
    upstreamTimeoutMs: 500,
  };

  beforeAll(async () => {
    platform = await upstream('platform', (req, res) => {
      if (req.url === '/api/pipeline/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': open\n\n');
        return true;
      }
      return false;
    });
    site = await upstream('site', (req) => req.url === '/hang');
    edge = new Edge({
      logger: createLogger('silent'),
      editorHost: 'editor.localhost',
      edgeToken: 'edge-token-0123456789',
      limits,
    });
    port = await edge.listen(0, '127.0.0.1');
    edge.switchTo({
      sha: 'a'.repeat(40),
      builtAt: 'then',
      platform: edge.upstream(platform.port, 'platform'),
      site: edge.upstream(site.port, 'site'),
    });
  });

  afterAll(async () => {
    await edge.close();
    await platform.close();
    await site.close();
  });

  it('260 sockets stuck in a request body never reach an upstream, and /version still answers', async () => {
    const before = platform.connections;
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 260; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(
        'POST /api/session HTTP/1.1\r\nHost: editor.localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      );
      sockets.push(socket);
    }
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const version = await get(port, '/version', {}, '127.0.0.2');
      expect(version.status).toBe(200);
      expect(JSON.parse(version.body)).toEqual({ from: 'platform', url: '/version' });
      // The bodies are read at the edge: not one of them opened an upstream connection.
      expect(platform.connections - before).toBeLessThanOrEqual(1);
      expect(platform.seen.filter((s) => s.url === '/api/session')).toEqual([]);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('answers a declared oversize body with 413 itself', async () => {
    const answer = await raw(
      port,
      'PUT /api/files/x HTTP/1.1\r\nHost: editor.localhost\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(platform.seen.filter((s) => s.url === '/api/files/x')).toEqual([]);
  });

  it('answers a chunked body that grows past the limit with 413', async () => {
    const chunk = 'x'.repeat(600);
    const answer = await raw(
      port,
      `PUT /api/files/y HTTP/1.1\r\nHost: editor.localhost\r\nTransfer-Encoding: chunked\r\n\r\n${(600).toString(16)}\r\n${chunk}\r\n${(600).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(platform.seen.filter((s) => s.url === '/api/files/y')).toEqual([]);
  });

  it.each([
    'GET http://127.0.0.1/metrics HTTP/1.1',
    'GET /metrics#x HTTP/1.1',
    'GET /%6detrics HTTP/1.1',
    'GET //metrics HTTP/1.1',
    'GET /metrics/../metrics HTTP/1.1',
  ])('never serves /metrics: %s', async (line) => {
    const answer = await raw(port, `${line}\r\nHost: localhost\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
  });

  it.each([
    ['GET /%0a/ HTTP/1.1', 400],
    ['GET /a%0d%0a/ HTTP/1.1', 400],
    ['GET /%09metrics HTTP/1.1', 400],
    ['GET /%5c HTTP/1.1', 200],
  ])('%s is answered %d, and the edge keeps serving', async (line, status) => {
    const answer = await raw(port, `${line}\r\nHost: localhost\r\n\r\n`);
    expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect((await get(port, '/version', {}, '127.0.0.3')).status).toBe(200);
  });

  it('sets X-Forwarded-For to the socket address and drops what the client claimed', async () => {
    await get(
      port,
      '/api/tree',
      { host: 'editor.localhost:3000', 'x-forwarded-for': '10.0.0.1 (VPN: alice@corp)' },
      '127.0.0.3',
    );
    const seen = platform.seen.filter((s) => s.url === '/api/tree').at(-1)!;
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.3');
    // With its port: the platform compares the browser's Origin with it.
    expect(seen.headers['x-forwarded-host']).toBe('editor.localhost:3000');
    expect(seen.headers['x-reflex-edge']).toBe('edge-token-0123456789');
  });

  it('caps event streams per client, and other clients still open theirs', async () => {
    const open = (local: string) =>
      new Promise<{ status: number; req: http.ClientRequest }>((resolve, reject) => {
        const req = http.get(
          {
            host: '127.0.0.1',
            port,
            path: '/api/pipeline/events',
            headers: { host: 'editor.localhost' },
            agent: false,
            localAddress: local,
          },
          (res) => resolve({ status: res.statusCode ?? 0, req }),
        );
        req.on('error', reject);
      });
    const streams = [];
    for (let i = 0; i < 3; i++) streams.push(await open('127.0.0.4'));
    const refused = await open('127.0.0.4');
    const other = await open('127.0.0.5');
    try {
      expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
      expect(refused.status).toBe(429);
      expect(other.status).toBe(200);
    } finally {
      for (const s of [...streams, refused, other]) s.req.destroy();
    }
  });

  it('a site that does not answer gets 504 after the upstream bound; the editor is unaffected', async () => {
    const hung = await get(port, '/hang');
    expect(hung.status).toBe(504);
    expect((await get(port, '/api/tree', { host: 'editor.localhost' })).status).toBe(200);
  });

  it('refuses connections beyond the per-client cap at once', async () => {
    const capped = new Edge({
      logger: createLogger('silent'),
      editorHost: 'editor.localhost',
      edgeToken: 'edge-token-0123456789',
      limits: { ...limits, maxConnectionsPerClient: 2 },
    });
    const cappedPort = await capped.listen(0, '127.0.0.1');
    const sockets: net.Socket[] = [];
    try {
      const closed: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const socket = net.connect({
          port: cappedPort,
          host: '127.0.0.1',
          localAddress: '127.0.0.6',
        });
        socket.on('error', () => undefined);
        sockets.push(socket);
        closed.push(false);
        socket.on('close', () => (closed[i] = true));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(closed).toEqual([false, false, true]);
      expect((await get(cappedPort, '/version', {}, '127.0.0.7')).status).toBe(503);
    } finally {
      for (const socket of sockets) socket.destroy();
      await capped.close();
    }
  });
});
