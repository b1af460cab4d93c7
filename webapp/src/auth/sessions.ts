/**
 * Sessions as signed cookies (HMAC-SHA256), so any instance — blue or green — can check one
 * without shared memory. A session carries a random id (new at every sign-in), the username,
 * a fingerprint of the password hash (changing the password ends every session), when it was
 * issued and last seen. Idle sessions expire; sign-out revokes the id.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RevocationList } from './revocations';

export interface SessionPayload {
  sid: string;
  u: string;
  /** Fingerprint of the user's password hash when the session was issued. */
  pv: string;
  /** Issued and last seen, in seconds since the epoch. */
  iat: number;
  seen: number;
}

export interface SessionOptions {
  secret: string;
  idleSeconds: number;
  absoluteSeconds: number;
  revocations: RevocationList;
}

const VERSION = 'v1';
/** Re-issue the cookie (sliding the idle timeout) at most this often. */
const REFRESH_AFTER_SECONDS = 60;

export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 16);
}

export class SessionManager {
  private readonly key: Buffer;

  constructor(private readonly options: SessionOptions) {
    if (options.secret.length < 32)
      throw new Error('session secret must be at least 32 characters');
    this.key = createHash('sha256').update(`reflex-session:${options.secret}`).digest();
  }

  get idleSeconds(): number {
    return this.options.idleSeconds;
  }

  issue(
    username: string,
    passwordHash: string,
    now = Date.now(),
  ): { value: string; payload: SessionPayload } {
    const seconds = Math.floor(now / 1000);
    const payload: SessionPayload = {
      sid: randomBytes(18).toString('base64url'),
      u: username,
      pv: passwordFingerprint(passwordHash),
      iat: seconds,
      seen: seconds,
    };
    return { value: this.encode(payload), payload };
  }

  /** The payload of a valid, unexpired, unrevoked cookie; undefined otherwise. */
  async verify(value: string | undefined, now = Date.now()): Promise<SessionPayload | undefined> {
    if (!value) return undefined;
    const [version, body, signature] = value.split('.');
    if (version !== VERSION || !body || !signature) return undefined;
    const expected = this.sign(`${version}.${body}`);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let payload: SessionPayload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SessionPayload;
    } catch {
      return undefined;
    }
    const seconds = Math.floor(now / 1000);
    if (seconds - payload.seen > this.options.idleSeconds) return undefined;
    if (seconds - payload.iat > this.options.absoluteSeconds) return undefined;
    if (await this.options.revocations.isRevoked(payload.sid)) return undefined;
    return payload;
  }

  /** A fresh cookie value when the idle timer should slide, else undefined. */
  refreshed(payload: SessionPayload, now = Date.now()): string | undefined {
    const seconds = Math.floor(now / 1000);
    if (seconds - payload.seen < REFRESH_AFTER_SECONDS) return undefined;
    return this.encode({ ...payload, seen: seconds });
  }

  async revoke(payload: SessionPayload): Promise<void> {
    await this.options.revocations.revoke(
      payload.sid,
      (payload.iat + this.options.absoluteSeconds) * 1000,
    );
  }

  private encode(payload: SessionPayload): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${VERSION}.${body}.${this.sign(`${VERSION}.${body}`).toString('base64url')}`;
  }

  private sign(data: string): Buffer {
    return createHmac('sha256', this.key).update(data).digest();
  }
}
