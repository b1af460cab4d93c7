/**
 * The inside of the ECS lab (ecsLab.ts): runs in a network namespace of its own, where it plays
 * the parts of AWS that Prometheus meets on ECS.
 *
 * - The VPC's DNS resolver answering Cloud Map's records, on 127.0.0.1:53 (the namespace's own
 *   loopback): for a service name, one SRV record per task (priority 1, weight 1, the task's
 *   port, target `<task id>.<service>.<namespace>`), at most eight as Route 53 answers a
 *   multivalue service; for a target, its A record; NXDOMAIN for any other name.
 * - The task-metrics sidecar of each task: its recorded /metrics on `<task address>:<port>`.
 * - Unix sockets forwarding to TCP ports inside, the only way in from the test's namespace.
 *
 * It is driven over HTTP on `<dir>/control.sock` by ecsLab.ts:
 *   PUT /records                 {"srv": {name: [{target, port}]}, "a": {name: address}}
 *   PUT /task-metrics/<address>  the exposition text to serve on <address>:<port>
 *   DELETE /task-metrics/<address>
 *   PUT /forward/<address>:<port>  makes a unix socket in <dir> that leads to <address>:<port>
 *
 *   usage: node --import tsx ecsLabServer.ts <dir> <task-metrics port>
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const [dir, taskMetricsPortArg] = process.argv.slice(2);
if (dir === undefined || taskMetricsPortArg === undefined) {
  process.stderr.write('usage: ecsLabServer.ts <dir> <task-metrics port>\n');
  process.exit(64);
}
const taskMetricsPort = Number(taskMetricsPortArg);

/** Route 53 answers a multivalue Cloud Map service with at most this many records. */
const MAX_ANSWERS = 8;
const TTL = 10;
const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

interface SrvRecord {
  target: string;
  port: number;
}
let srvRecords = new Map<string, SrvRecord[]>();
let aRecords = new Map<string, string>();

interface Question {
  id: number;
  flags: number;
  name: string;
  type: number;
  /** The question section as received, echoed in the answer. */
  raw: Buffer;
}

function readQuestion(message: Buffer): Question | undefined {
  if (message.length < 12 || message.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  while (offset < message.length) {
    const length = message[offset]!;
    if (length === 0) break;
    if (length > 63) return undefined; // compression never appears in a question
    labels.push(message.toString('ascii', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  const end = offset + 5;
  if (end > message.length) return undefined;
  return {
    id: message.readUInt16BE(0),
    flags: message.readUInt16BE(2),
    name: labels.join('.').toLowerCase(),
    type: message.readUInt16BE(offset + 1),
    raw: message.subarray(12, end),
  };
}

function encodeName(name: string): Buffer {
  return Buffer.concat([
    ...name
      .split('.')
      .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])),
    Buffer.from([0]),
  ]);
}

/** One resource record named by a pointer to the question's name (offset 12). */
function record(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(TTL, 6);
  head.writeUInt16BE(data.length, 10);
  return Buffer.concat([head, data]);
}

function answers(question: Question): { rcode: number; records: Buffer[] } {
  const srv = srvRecords.get(question.name);
  const address = aRecords.get(question.name);
  if (srv === undefined && address === undefined) return { rcode: 3, records: [] };
  if (question.type === TYPE.SRV && srv !== undefined) {
    return {
      rcode: 0,
      records: srv.slice(0, MAX_ANSWERS).map(({ target, port }) => {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(1, 0);
        fixed.writeUInt16BE(1, 2);
        fixed.writeUInt16BE(port, 4);
        return record(TYPE.SRV, Buffer.concat([fixed, encodeName(target)]));
      }),
    };
  }
  if (question.type === TYPE.A && address !== undefined) {
    return { rcode: 0, records: [record(TYPE.A, Buffer.from(address.split('.').map(Number)))] };
  }
  // The name exists, but has no record of this type (AAAA, or A of a service name).
  return { rcode: 0, records: [] };
}

function reply(question: Question): Buffer {
  const { rcode, records } = answers(question);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(question.id, 0);
  // QR, the query's opcode and RD, AA and RA, the response code.
  header.writeUInt16BE(0x8000 | (question.flags & 0x7900) | 0x0400 | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, question.raw, ...records]);
}

const dns = dgram.createSocket('udp4');
dns.on('message', (message, from) => {
  const question = readQuestion(message);
  if (question) dns.send(reply(question), from.port, from.address);
});

const taskMetrics = new Map<string, { server: http.Server; text: string }>();

async function serveTaskMetrics(address: string, text: string): Promise<void> {
  const existing = taskMetrics.get(address);
  if (existing) {
    existing.text = text;
    return;
  }
  const entry = { text, server: http.createServer() };
  entry.server.on('request', (request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    response.end(entry.text);
  });
  await new Promise<void>((resolve, reject) => {
    entry.server.once('error', reject);
    entry.server.listen(taskMetricsPort, address, resolve);
  });
  taskMetrics.set(address, entry);
}

async function stopTaskMetrics(address: string): Promise<void> {
  const entry = taskMetrics.get(address);
  if (!entry) return;
  taskMetrics.delete(address);
  entry.server.closeAllConnections();
  await new Promise((resolve) => entry.server.close(resolve));
}

const forwards = new Map<string, net.Server>();

async function forward(to: string): Promise<string> {
  const [host, port] = to.split(':') as [string, string];
  const socketPath = path.join(dir!, `forward-${host}-${port}.sock`);
  if (forwards.has(to)) return socketPath;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) });
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  forwards.set(to, server);
  return socketPath;
}

function body(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

async function control(request: http.IncomingMessage): Promise<unknown> {
  const [, resource, argument] = (request.url ?? '').split('/');
  const method = request.method ?? 'GET';
  if (resource === 'ready') return { pid: process.pid };
  if (resource === 'records' && method === 'PUT') {
    const records = JSON.parse(await body(request)) as {
      srv: Record<string, SrvRecord[]>;
      a: Record<string, string>;
    };
    srvRecords = new Map(Object.entries(records.srv).map(([k, v]) => [k.toLowerCase(), v]));
    aRecords = new Map(Object.entries(records.a).map(([k, v]) => [k.toLowerCase(), v]));
    return {};
  }
  if (resource === 'task-metrics' && argument && method === 'PUT') {
    await serveTaskMetrics(argument, await body(request));
    return {};
  }
  if (resource === 'task-metrics' && argument && method === 'DELETE') {
    await stopTaskMetrics(argument);
    return {};
  }
  if (resource === 'forward' && argument && method === 'PUT') {
    return { socketPath: await forward(argument) };
  }
  throw new Error(`no such control request: ${method} ${request.url}`);
}

const controlServer = http.createServer((request, response) => {
  control(request).then(
    (result) =>
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(result)),
    (err: unknown) => response.writeHead(500).end(String(err)),
  );
});

dns.bind(53, '127.0.0.1', () => {
  controlServer.listen(path.join(dir, 'control.sock'));
});

process.on('SIGTERM', () => process.exit(0));
