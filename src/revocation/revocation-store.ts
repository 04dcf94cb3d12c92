import type { TokenRef } from '../auth/token.js';

/**
 * Where issued and revoked tokens are recorded. Implementations: {@link RedisRevocationStore}
 * (shared by every instance, survives restarts) and {@link MemoryRevocationStore} (one process).
 *
 * Every method either completes or rejects with StoreUnavailableError: a failed write is
 * never reported as a success, and a failed read is never taken as "not revoked".
 */
export interface RevocationStore {
  /** Records a newly issued token in its user's token set (for revokeAll). */
  recordIssued(token: TokenRef): Promise<void>;
  /** One round trip: has this token been revoked? */
  isRevoked(token: TokenRef): Promise<boolean>;
  /**
   * Set when every `isRevoked` settles (answers or rejects) within this many ms by itself,
   * e.g. a Redis client's command timeout, armed for each command. The context builder then
   * needs no timer of its own per request. Unset: no such bound; the caller bounds the wait.
   */
  readonly lookupBoundMs?: number | undefined;
  /**
   * True when the lookups made in one turn of the event loop leave together at its end (the
   * Redis store's coalescing): the HTTP transport then lets the turn end before Apollo's work
   * on a request, so its lookup travels meanwhile (src/server/http-graphql.ts).
   */
  readonly batchesLookups?: boolean | undefined;
  /** Revokes one token until its expiry. Idempotent. */
  revoke(token: TokenRef): Promise<void>;
  /**
   * Atomically revokes every unexpired token recorded for the user, plus `current` if
   * given (so the caller's own token is revoked even if it was never recorded).
   * Returns how many tokens this call revoked.
   */
  revokeAllForUser(userId: string, current?: TokenRef): Promise<number>;
  /** Resolves when the backend answers (readiness). */
  ping(): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
