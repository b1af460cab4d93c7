/**
 * GitHub's REST API as recorded: a loopback HTTP server that answers each request with the next
 * recorded exchange (webapp/test/fixtures/github/), after validating the recorded response
 * against GitHub's official OpenAPI description (`@octokit/openapi`) for its operation and
 * status. A fixture that does not match the description fails the test that serves it; so does
 * a request the recording did not expect.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export interface Exchange {
  /** `METHOD /path/{template}` as GitHub's description names the operation. */
  operation: string;
  request: { method: string; path: string; query?: Record<string, string> };
  status: number;
  body: unknown;
}

export interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
}

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'github');
const SPEC_ID = 'github';

interface OpenApi {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}
interface ResponseObject {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
}

let spec: OpenApi | undefined;
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction | null>();

function description(): { spec: OpenApi; ajv: Ajv } {
  if (!spec || !ajv) {
    spec = JSON.parse(
      readFileSync(require.resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8'),
    ) as OpenApi;
    allowNullInNullableEnums(spec);
    // OpenAPI 3.0: `nullable` is understood by Ajv; vendor keywords (x-github, example) are not
    // schema keywords, so strict mode would refuse the description itself.
    ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(spec, SPEC_ID);
  }
  return { spec, ajv };
}

/**
 * A nullable enum (`nullable: true` with `enum`) takes null, as GitHub's own OpenAPI 3.1
 * description of the same API says (`enum: [..., null]`); read literally, the 3.0 text refuses
 * the null GitHub sends for, e.g., a check run that is still running.
 */
function allowNullInNullableEnums(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) allowNullInNullableEnums(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as { nullable?: unknown; enum?: unknown[] };
  if (schema.nullable === true && Array.isArray(schema.enum) && !schema.enum.includes(null)) {
    schema.enum = [...schema.enum, null];
  }
  for (const value of Object.values(node)) allowNullInNullableEnums(value);
}

const pointer = (segments: string[]) =>
  '#/' +
  segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/**
 * The validator of `operation`'s `status` response body; null when the description declares
 * no body for it. Throws when the description has no such operation or status.
 */
function validatorFor(operation: string, status: number): ValidateFunction | null {
  const key = `${operation} ${status}`;
  if (validators.has(key)) return validators.get(key)!;
  const { spec, ajv } = description();
  const [method, template] = operation.split(' ') as [string, string];
  const op = spec.paths[template]?.[method.toLowerCase()];
  if (!op) throw new Error(`GitHub's description has no operation ${operation}`);
  let segments = ['paths', template, method.toLowerCase(), 'responses', String(status)];
  let response = op.responses[String(status)] as ResponseObject | undefined;
  if (!response) throw new Error(`GitHub's description has no ${status} response for ${operation}`);
  if (response.$ref) {
    segments = response.$ref.slice(2).split('/');
    response = segments.reduce<unknown>(
      (node, s) => (node as Record<string, unknown>)[s],
      spec,
    ) as ResponseObject;
  }
  const validate = response.content?.['application/json']?.schema
    ? ajv.compile({
        $ref: `${SPEC_ID}${pointer([...segments, 'content', 'application/json', 'schema'])}`,
      })
    : null;
  validators.set(key, validate);
  return validate;
}

/** Throws naming the first mismatches when `exchange`'s body is not what GitHub documents. */
export function validateExchange(exchange: Exchange): void {
  const validate = validatorFor(exchange.operation, exchange.status);
  if (!validate) {
    if (exchange.body !== null) {
      throw new Error(`${exchange.operation} ${exchange.status}: GitHub documents no body`);
    }
    return;
  }
  if (!validate(exchange.body)) {
    const problems = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(body)'} ${e.message}`)
      .join('; ');
    throw new Error(
      `${exchange.operation} ${exchange.status}: the recorded response does not match GitHub's description: ${problems}`,
    );
  }
}

export function loadRecording(name: string): Exchange[] {
  return JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Exchange[];
}

/** Serves `exchanges` in order to a loopback server; see the file's comment. */
export async function replayGitHub(exchanges: Exchange[], token: string) {
  for (const exchange of exchanges) validateExchange(exchange);
  const received: Received[] = [];
  const problems: string[] = [];
  let next = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://github.invalid');
      const text = Buffer.concat(chunks).toString('utf8');
      const got: Received = {
        method: req.method!,
        path: decodeURIComponent(url.pathname),
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: text ? (JSON.parse(text) as unknown) : undefined,
      };
      received.push(got);
      const exchange = exchanges[next];
      const expected =
        exchange &&
        exchange.request.method === got.method &&
        exchange.request.path === got.path &&
        Object.entries(exchange.request.query ?? {}).every(([k, v]) => got.query[k] === v);
      if (req.headers.authorization !== `token ${token}`) {
        problems.push(`${got.method} ${got.path} without the token`);
      }
      if (!expected) {
        problems.push(`unexpected ${got.method} ${got.path}${url.search}`);
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'not in the recording' }));
        return;
      }
      next += 1;
      res.writeHead(exchange.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(exchange.body === null ? undefined : JSON.stringify(exchange.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    /** Every exchange was asked for, in order, with the token, and nothing else was. */
    problems: () => [
      ...problems,
      ...(next < exchanges.length
        ? [`${exchanges.length - next} recorded exchange(s) never asked for`]
        : []),
    ],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
