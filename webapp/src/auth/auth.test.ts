import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashPassword, verifyPassword } from './passwords';
import { RateLimiter } from './rateLimit';
import { RevocationList } from './revocations';
import { SessionManager } from './sessions';
import { UserStore } from './users';

const SECRET = 's'.repeat(40);
const HASH = 'scrypt$32768$8$1$salt$hash';

function manager(revocations = new RevocationList()) {
  return new SessionManager({
    secret: SECRET,
    idleSeconds: 1800,
    absoluteSeconds: 12 * 3600,
    revocations,
  });
}

describe('passwords', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('x', 'md5$abc')).toBe(false);
  });
});

describe('sessions', () => {
  const t0 = Date.UTC(2026, 0, 1);

  it('accepts its own cookie and refuses a tampered or foreign one', async () => {
    const { value } = manager().issue('ann', HASH, t0);
    expect((await manager().verify(value, t0))?.u).toBe('ann');
    const [v, body, sig] = value.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), u: 'admin' }),
    ).toString('base64url');
    expect(await manager().verify(`${v}.${forged}.${sig}`, t0)).toBeUndefined();
    const other = new SessionManager({
      secret: 'o'.repeat(40),
      idleSeconds: 1800,
      absoluteSeconds: 3600,
      revocations: new RevocationList(),
    });
    expect(await other.verify(value, t0)).toBeUndefined();
    expect(await manager().verify('garbage', t0)).toBeUndefined();
  });

  it('expires after the idle timeout, and sliding the cookie keeps it alive', async () => {
    const sessions = manager();
    const { value, payload } = sessions.issue('ann', HASH, t0);
    expect(await sessions.verify(value, t0 + 1801_000)).toBeUndefined();
    const slid = sessions.refreshed(payload, t0 + 1700_000)!;
    expect(await sessions.verify(slid, t0 + 3000_000)).toBeDefined();
    expect(sessions.refreshed(payload, t0 + 30_000)).toBeUndefined();
  });

  it('expires at the absolute bound even when kept busy', async () => {
    const sessions = manager();
    const { payload } = sessions.issue('ann', HASH, t0);
    const late = sessions.refreshed(payload, t0 + 12 * 3600_000 + 1000)!;
    expect(await sessions.verify(late, t0 + 12 * 3600_000 + 1000)).toBeUndefined();
  });

  it('a revoked session stays revoked for every instance sharing the state file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-revocations-'));
    try {
      const file = path.join(dir, 'revoked.jsonl');
      const blue = manager(new RevocationList(file));
      const green = manager(new RevocationList(file));
      const { value, payload } = blue.issue('ann', HASH);
      expect(await green.verify(value)).toBeDefined();
      await blue.revoke(payload);
      expect(await blue.verify(value)).toBeUndefined();
      expect(await green.verify(value)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a short secret', () => {
    expect(
      () =>
        new SessionManager({
          secret: 'short',
          idleSeconds: 1,
          absoluteSeconds: 1,
          revocations: new RevocationList(),
        }),
    ).toThrow('session secret must be at least 32 characters');
  });
});

describe('RateLimiter', () => {
  it('allows `limit` hits per window, then says how long to wait', () => {
    const limiter = new RateLimiter(5, 60_000);
    for (let i = 0; i < 5; i++) {
      expect(limiter.retryAfter('ip', 1000 + i)).toBe(0);
      limiter.record('ip', 1000 + i);
    }
    expect(limiter.retryAfter('ip', 2000)).toBe(59);
    expect(limiter.retryAfter('other', 2000)).toBe(0);
    expect(limiter.retryAfter('ip', 61_001)).toBe(0);
  });

  it('keeps at most maxKeys keys', () => {
    const limiter = new RateLimiter(1, 60_000, 2);
    limiter.record('a', 1);
    limiter.record('b', 1);
    limiter.record('c', 1);
    expect(limiter.retryAfter('a', 2)).toBe(0);
    expect(limiter.retryAfter('c', 2)).toBeGreaterThan(0);
  });
});

describe('UserStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'reflex-users-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the first admin once, stores only a hash, mode 0600', async () => {
    const store = new UserStore(path.join(dir, 'users.json'));
    const created = await store.ensureAdmin(undefined);
    expect(created).toMatchObject({ username: 'admin', generated: true });
    expect(created!.password.length).toBeGreaterThanOrEqual(20);
    expect(await store.ensureAdmin('another password')).toBeUndefined();
    const raw = readFileSync(store.file, 'utf8');
    expect(raw).not.toContain(created!.password);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect((await store.authenticate('admin', created!.password))?.role).toBe('admin');
    expect(await store.authenticate('admin', 'wrong')).toBeUndefined();
    expect(await store.authenticate('nobody', created!.password)).toBeUndefined();
  });

  it('adds and removes users, refusing bad names, short passwords and duplicates', async () => {
    const store = new UserStore(path.join(dir, 'users.json'));
    await store.add({ username: 'viv', role: 'viewer', password: 'long enough!' });
    await expect(
      store.add({ username: 'viv', role: 'viewer', password: 'long enough!' }),
    ).rejects.toThrow('user viv exists already');
    await expect(
      store.add({ username: 'Bad Name', role: 'viewer', password: 'long enough!' }),
    ).rejects.toThrow(/^username: /);
    await expect(store.add({ username: 'sam', role: 'viewer', password: 'short' })).rejects.toThrow(
      'password: at least 10 characters',
    );
    await store.remove('viv');
    expect(await store.find('viv')).toBeUndefined();
    await expect(store.remove('viv')).rejects.toThrow('no user viv');
  });

  it('names the file when it is not a valid users file', async () => {
    const file = path.join(dir, 'users.json');
    writeFileSync(file, '{"version":1,"users":[{"username":"x"}]}');
    await expect(new UserStore(file).all()).rejects.toThrow(`${file} is not a valid users file`);
  });
});
