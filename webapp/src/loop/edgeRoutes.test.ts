import fc from 'fast-check';
import {
  canonicalPath,
  endToEnd,
  forwardedHeaders,
  hostName,
  parsedPath,
  route,
  upstreamPath,
  withoutPlatformCookies,
} from './edgeRoutes';

const EDITOR = 'editor.localhost';
const at = (url: string, host = 'localhost:3000') => route({ url, headers: { host } }, EDITOR);

describe('where the edge sends a request', () => {
  it.each([
    ['/', 'site'],
    ['/about', 'site'],
    ['/assets/site.css', 'site'],
    ['/hello?name=x', 'site'],
    ['/healthz', 'platform'],
    ['/version', 'platform'],
    ['/version?x=1', 'platform'],
  ])('on the site host, %s goes to the %s', (url, kind) => {
    expect(at(url).kind).toBe(kind);
  });

  it.each(['/', '/editor/', '/api/tree', '/api/session', '/healthz', '/hello'])(
    'on the editor host, %s goes to the platform',
    (url) => {
      expect(at(url, 'editor.localhost:3000').kind).toBe('platform');
      expect(at(url, 'EDITOR.LOCALHOST.').kind).toBe('platform');
    },
  );

  it.each([
    '/metrics',
    '/metrics/',
    '/METRICS',
    '/%6detrics',
    '/%6Detrics',
    '/x/../metrics',
    '/x/%2e%2e/metrics',
    '//metrics',
    '/metrics#x',
    '/metrics?x=1',
    'http://127.0.0.1:3000/metrics',
    '/metrics/anything',
  ])('never serves %s, on any host', (url) => {
    expect(at(url).kind).toBe('not-found');
    expect(at(url, 'editor.localhost:3000').kind).toBe('not-found');
  });

  it.each(['/api', '/api/', '/api/tree', '/API/files/x', '/%61pi/tree', '/x/../api/session'])(
    'never lets the site answer %s',
    (url) => {
      expect(at(url)).toMatchObject({ kind: 'not-found' });
    },
  );

  it('sends /editor on the site host to the editor origin, same path and port', () => {
    expect(at('/editor/?x=1')).toEqual({
      kind: 'redirect',
      location: 'http://editor.localhost:3000/editor/?x=1',
    });
    expect(at('/editor', 'localhost')).toEqual({
      kind: 'redirect',
      location: 'http://editor.localhost/editor',
    });
  });

  it('sends <name>.localhost to that preview: its site only', () => {
    expect(at('/', 'new-look.localhost:3000')).toEqual({
      kind: 'preview',
      name: 'new-look',
      version: false,
    });
    expect(at('/version', 'new-look.localhost:3000')).toMatchObject({ version: true });
    expect(at('/api/tree', 'new-look.localhost:3000').kind).toBe('not-found');
    expect(at('/metrics', 'new-look.localhost:3000').kind).toBe('not-found');
    expect(at('/editor/', 'new-look.localhost:3000').kind).toBe('redirect');
    expect(at('/', 'a.b.localhost').kind).toBe('site');
    expect(at('/', 'editor.localhost').kind).toBe('platform');
  });

  it('refuses a path it cannot read', () => {
    expect(at('/%E0%A4%A').kind).toBe('bad-request');
  });
});

describe('paths as the upstream reads them', () => {
  it.each([
    ['/a/b', '/a/b'],
    ['/a/./b/', '/a/b'],
    ['/a/%2E%2E/b', '/b'],
    ['/%2fmetrics', '/metrics'],
    ['http://host:1/x?y#z', '/x'],
    ['/%5cmetrics', '/metrics'],
    ['/a/%5C..%5Cmetrics', '/metrics'],
    ['/%5c', '/'],
  ])('%s is %s', (raw, canonical) => {
    expect(canonicalPath(raw)).toBe(canonical);
  });

  it.each(['/%0a/', '/%0A', '/a%0d%0a/', '/%09metrics', '/%00', '/x%7f', '/%1b[31m'])(
    'an escaped control character makes %s unreadable: a bad request, not a path',
    (raw) => {
      expect(canonicalPath(raw)).toBeUndefined();
      expect(at(raw).kind).toBe('bad-request');
    },
  );

  it('reading a target never throws, whatever it holds (property)', () => {
    const escape = fc
      .integer({ min: 0, max: 255 })
      .map((n) => `%${n.toString(16).padStart(2, '0')}`);
    const part = fc.oneof(
      fc.string({ maxLength: 4 }),
      escape,
      fc.constantFrom('/', '..', '.', '\\'),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 10 }), (parts) => {
        const raw = `/${parts.join('')}`;
        expect(() => canonicalPath(raw)).not.toThrow();
        expect(() => at(raw)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  // Plain targets skip the URL parser: they must read exactly as the parser reads them.
  const target = fc
    .array(
      fc.constantFrom(
        '/',
        '.',
        '..',
        'a',
        'Z',
        '0',
        '-',
        '_',
        '~',
        '%',
        '%2e',
        '%2F',
        '%0a',
        '%09',
        '%5c',
        '?',
        '#',
        '=',
        '&',
        '+',
        ' ',
        '"',
        '\\',
        'metrics',
        'api',
      ),
      { maxLength: 12 },
    )
    .map((parts) => `/${parts.join('')}`);

  it('a target is read the same with or without the URL parser (property)', () => {
    fc.assert(
      fc.property(target, (raw) => {
        expect(canonicalPath(raw)).toBe(parsedPath(raw));
        if (parsedPath(raw) !== undefined) {
          const url = new URL(`http://edge.invalid${raw}`);
          expect(upstreamPath(raw)).toBe(`${url.pathname}${url.search}`);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('routes by host the same however many host names it has seen', () => {
    for (let i = 0; i < 600; i++) expect(at('/', `site${i}.example:3000`).kind).toBe('site');
    expect(at('/', 'editor.localhost:3000').kind).toBe('platform');
    expect(at('/', 'pr-7.localhost:3000')).toEqual({
      kind: 'preview',
      name: 'pr-7',
      version: false,
    });
    expect(route({ url: '/', headers: { host: 'other.localhost' } }, 'other.localhost').kind).toBe(
      'platform',
    );
    expect(at('/', 'other.localhost').kind).toBe('preview');
  });

  it('host names are compared without case, port or trailing dot', () => {
    expect(hostName('Editor.LocalHost.:8080')).toBe('editor.localhost');
    expect(hostName('[::1]:3000')).toBe('[::1]');
    expect(hostName(undefined)).toBe('');
  });
});

describe('headers the edge forwards', () => {
  const context = {
    client: '127.0.0.9',
    host: 'localhost',
    release: 'abc',
    builtAt: 'then',
    edgeToken: 'secret-token-0123456789',
  };
  const incoming = {
    host: 'localhost:3000',
    'x-forwarded-for': '10.0.0.1 (VPN: alice@corp)',
    'x-real-ip': '10.0.0.2',
    forwarded: 'for=10.0.0.3',
    'x-reflex-edge': 'forged',
    'x-reflex-release': 'forged',
    cookie: 'reflex_session=abc; theme=dark; __Host-reflex_session=def',
    connection: 'keep-alive, x-drop',
    'x-drop': '1',
    accept: 'text/html',
  };

  it('set the client address from the socket, never from what the client sent', () => {
    const out = forwardedHeaders(incoming, 'platform', context);
    expect(out['x-forwarded-for']).toBe('127.0.0.9');
    expect(out['x-real-ip']).toBeUndefined();
    expect(out.forwarded).toBeUndefined();
    expect(out['x-reflex-release']).toBe('abc');
    expect(out['x-reflex-edge']).toBe('secret-token-0123456789');
    expect(out['x-drop']).toBeUndefined();
    expect(out.accept).toBe('text/html');
  });

  it('give the site neither the edge token nor the platform session cookie', () => {
    const out = forwardedHeaders(incoming, 'site', context);
    expect(out['x-reflex-edge']).toBeUndefined();
    expect(out['x-reflex-built-at']).toBeUndefined();
    expect(out.cookie).toBe('theme=dark');
    expect(
      forwardedHeaders({ cookie: 'reflex_session=x' }, 'site', context).cookie,
    ).toBeUndefined();
  });

  it.each(['keep-alive', 'close', 'Keep-Alive, X-Drop', 'x-drop'])(
    'drop hop-by-hop headers and what Connection: %s names',
    (connection) => {
      const out = endToEnd({ connection, 'keep-alive': 'timeout=5', 'x-drop': '1', accept: 'a' });
      expect(out).toEqual(
        connection.toLowerCase().includes('x-drop')
          ? { accept: 'a' }
          : { 'x-drop': '1', accept: 'a' },
      );
    },
  );

  it('strip only the platform cookies', () => {
    expect(withoutPlatformCookies('a=1;reflex_session=2; b=3')).toBe('a=1; b=3');
    expect(withoutPlatformCookies('reflex_sessionx=1')).toBe('reflex_sessionx=1');
    expect(withoutPlatformCookies(undefined)).toBeUndefined();
  });
});
