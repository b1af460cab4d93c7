import net from 'node:net';
import Koa from 'koa';
import pino from 'pino';
import { Lifecycle } from './lifecycle';
import { serve, type RunningServer } from './serve';

/** An app whose `/slow?ms=` holds a response in flight. */
function slowApp(): Koa {
  const app = new Koa();
  app.use(async (ctx) => {
    const ms = Number(ctx.query.ms ?? 0);
    await new Promise((resolve) => setTimeout(resolve, ms).unref());
    ctx.body = { slept: ms };
  });
  return app;
}

async function start(shutdownTimeoutMs: number): Promise<RunningServer> {
  return serve(slowApp(), {
    port: 0,
    host: '127.0.0.1',
    shutdownTimeoutMs,
    logger: pino({ level: 'silent' }),
    lifecycle: new Lifecycle(),
  });
}

/** A raw keep-alive connection: everything the server sends until it closes the connection. */
function connect(port: number): { socket: net.Socket; received: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  const received = new Promise<string>((resolve, reject) => {
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  return { socket, received };
}

const request = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('serve: draining kept-alive connections', () => {
  it('closes a kept-alive connection as soon as its in-flight response has finished', async () => {
    // If idle connections were not closed while draining, close() would wait for the bound.
    const running = await start(8_000);
    const { socket, received } = connect(running.port);
    socket.write(request('/slow?ms=400'));
    await sleep(100);
    const closed = running.close();

    const data = await received;
    expect(data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(data).toContain('{"slept":400}');
    await expect(closed).resolves.toEqual({ forced: false });
  });

  it('answers a request that arrives during the drain with Connection: close', async () => {
    const running = await start(8_000);
    const { socket, received } = connect(running.port);
    socket.write(request('/slow?ms=400'));
    await sleep(100);
    const closed = running.close();
    await sleep(50);
    socket.write(request('/slow?ms=0'));

    const responses = (await received).split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: keep-alive\r\n/);
    expect(responses[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n/);
    expect(responses[1]).toContain('{"slept":0}');
    await expect(closed).resolves.toEqual({ forced: false });
  });

  it('cuts a response that outlives the bound and reports the drain as forced', async () => {
    const running = await start(300);
    const { socket, received } = connect(running.port);
    socket.write(request('/slow?ms=5000'));
    await sleep(100);
    await expect(running.close()).resolves.toEqual({ forced: true });
    expect(await received).toBe('');
  });
});
