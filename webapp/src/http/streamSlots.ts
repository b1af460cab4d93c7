/**
 * Long-lived responses (event streams) counted per session and per client address, so that
 * one browser — or one signed-in account opening streams in a loop — cannot hold every
 * connection the instance and its edge have.
 */
import { DomainError } from '../errors';

export interface StreamLimits {
  perSession: number;
  perClient: number;
}

export class StreamSlots {
  private readonly bySession = new Map<string, number>();
  private readonly byClient = new Map<string, number>();

  constructor(private readonly limits: StreamLimits) {}

  /** Takes a slot for (session, client), or refuses; returns the release function. */
  take(session: string, client: string): () => void {
    const sessionCount = this.bySession.get(session) ?? 0;
    const clientCount = this.byClient.get(client) ?? 0;
    if (sessionCount >= this.limits.perSession || clientCount >= this.limits.perClient) {
      const which = sessionCount >= this.limits.perSession ? 'this session' : 'this address';
      throw new DomainError('too_many_streams', `too many event streams open for ${which}`, {
        retryAfterSeconds: 5,
      });
    }
    this.bySession.set(session, sessionCount + 1);
    this.byClient.set(client, clientCount + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      decrement(this.bySession, session);
      decrement(this.byClient, client);
    };
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const next = (map.get(key) ?? 1) - 1;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
