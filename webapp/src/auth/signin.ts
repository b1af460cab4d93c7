/**
 * Sign-in, bounded. An attempt is counted before its password is checked — so a burst of
 * concurrent attempts cannot all get past the limit while the first ones are still hashing —
 * and forgiven when it succeeds. Limits hold per client address and per account (an attacker
 * with many addresses still gets few guesses at one account). Password checks run a few at a
 * time, so a flood of sign-ins never stalls everyone else's requests.
 */
import { DomainError } from '../errors';
import { RateLimiter } from './rateLimit';
import { QueueFullError, Semaphore } from './semaphore';
import type { StoredUser, UserStore } from './users';

export interface SignInLimits {
  /** Failed attempts per client address per minute. */
  perClientPerMinute: number;
  /** Failed attempts per account per 15 minutes. */
  perAccount: number;
  /** Password checks at once. */
  concurrency: number;
}

export type SignInResult =
  { ok: true; user: StoredUser } | { ok: false; reason: 'wrong username or password' };

export class SignInGuard {
  readonly perClient: RateLimiter;
  readonly perAccount: RateLimiter;
  private readonly hashing: Semaphore;
  /** Password checks started (for tests and the flood benchmark). */
  checks = 0;

  constructor(
    private readonly users: UserStore,
    limits: SignInLimits,
  ) {
    this.perClient = new RateLimiter(limits.perClientPerMinute, 60_000);
    this.perAccount = new RateLimiter(limits.perAccount, 15 * 60_000);
    this.hashing = new Semaphore(limits.concurrency);
  }

  /** Refuses a client over its limit before anything else is done for it (the body unread). */
  admitClient(client: string): void {
    const wait = this.perClient.retryAfter(client);
    if (wait > 0) throw limited(wait);
  }

  /** Refuses with rate_limited (and when to retry), or checks the password. */
  async attempt(client: string, username: string, password: string): Promise<SignInResult> {
    const account = `account:${username}`;
    const wait = Math.max(this.perClient.retryAfter(client), this.perAccount.retryAfter(account));
    if (wait > 0) throw limited(wait);
    // Counted now, synchronously after the check: nothing can slip in between.
    const at = Date.now();
    this.perClient.record(client, at);
    this.perAccount.record(account, at);
    let user: StoredUser | undefined;
    try {
      user = await this.hashing.run(() => {
        this.checks++;
        return this.users.authenticate(username, password);
      });
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      throw new DomainError('rate_limited', 'too many sign-ins at once; try again in a moment', {
        retryAfterSeconds: 1,
      });
    }
    if (!user) return { ok: false, reason: 'wrong username or password' };
    this.perClient.forgive(client, at);
    this.perAccount.forgive(account, at);
    return { ok: true, user };
  }
}

function limited(seconds: number): DomainError {
  return new DomainError('rate_limited', `too many failed sign-ins; try again in ${seconds} s`, {
    retryAfterSeconds: seconds,
  });
}
