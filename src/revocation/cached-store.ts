import type { TokenRef } from '../auth/token.js';
import { systemClock, type Clock } from '../auth/token.js';
import type { RevocationStore } from './revocation-store.js';

/** Options of {@link CachedRevocationStore}. */
export interface CachedRevocationStoreOptions {
  /** The store that answers: every write goes to it, and every question the cache can't answer. */
  inner: RevocationStore;
  /**
   * How many answers each cache holds at most ("revoked" and "not revoked" apart); past
   * it the oldest entry goes. Default 10,000 (about 1.5 MB per cache when full).
   */
  maxEntries?: number;
  /**
   * Milliseconds a "not revoked" answer is reused. Default 0: never, every request asks
   * the store. Opt-in, because it opens a window: a token revoked on ANOTHER instance
   * (or straight in Redis) is still accepted here for up to this long. Revocations made
   * through this instance are enforced here at once whatever the value.
   */
  notRevokedTtlMs?: number;
  /** Default Date.now. */
  now?: Clock;
}

/** Answers known in process: settled promises, shared (a lookup that hits allocates none). */
const REVOKED = Promise.resolve(true);
const NOT_REVOKED = Promise.resolve(false);

function userPrefix(userId: string): string {
  // Length-prefixed, so no (userId, jti) pair can spell another pair's key.
  return `${userId.length}:${userId}`;
}

function cacheKey(token: TokenRef): string {
  return userPrefix(token.userId) + token.jti;
}

/**
 * A {@link RevocationStore} decorator that answers `isRevoked` from process memory when
 * that is safe, so the context builder and resolvers stay unchanged:
 *
 * - a "revoked" answer is final (a revocation is never undone), so it is kept until the
 *   token's own expiry; a revoked token replayed in a loop then costs no store command;
 * - a "not revoked" answer is kept only if `notRevokedTtlMs` > 0 (see its window), and
 *   only if no revocation went through this instance while it was being fetched.
 *
 * Both caches are bounded (`maxEntries`). Writes always go to the inner store first; a
 * failed write caches nothing.
 */
export class CachedRevocationStore implements RevocationStore {
  readonly lookupBoundMs: number | undefined;
  readonly batchesLookups: boolean | undefined;
  private readonly inner: RevocationStore;
  private readonly maxEntries: number;
  private readonly notRevokedTtlMs: number;
  private readonly now: Clock;
  /** key -> until (ms): the token's expiry. */
  private readonly revoked = new Map<string, number>();
  /** key -> until (ms): when the answer was fetched + notRevokedTtlMs. */
  private readonly notRevoked = new Map<string, number>();
  /** Bumped by every revocation made here: a "not revoked" fetched across one is not kept. */
  private epoch = 0;

  constructor(options: CachedRevocationStoreOptions) {
    this.inner = options.inner;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.notRevokedTtlMs = options.notRevokedTtlMs ?? 0;
    this.now = options.now ?? systemClock;
    this.lookupBoundMs = options.inner.lookupBoundMs;
    this.batchesLookups = options.inner.batchesLookups;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new Error(`CachedRevocationStore: maxEntries must be a positive integer, got ${this.maxEntries}`);
    }
    if (!Number.isFinite(this.notRevokedTtlMs) || this.notRevokedTtlMs < 0) {
      throw new Error(`CachedRevocationStore: notRevokedTtlMs must be >= 0, got ${this.notRevokedTtlMs}`);
    }
  }

  /** How many answers are cached now (for tests and the bench). */
  get size(): { revoked: number; notRevoked: number } {
    return { revoked: this.revoked.size, notRevoked: this.notRevoked.size };
  }

  private put(map: Map<string, number>, key: string, until: number): void {
    map.delete(key); // re-inserted last: eviction order is insertion order
    if (map.size >= this.maxEntries) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(key, until);
  }

  private rememberRevoked(token: TokenRef): void {
    const key = cacheKey(token);
    this.notRevoked.delete(key);
    const until = token.expiresAt * 1000;
    if (until > this.now()) this.put(this.revoked, key, until);
  }

  isRevoked(token: TokenRef): Promise<boolean> {
    // Nothing cached and nothing to cache but "revoked": no key to build (the usual case on
    // the per-request path until a revoked token is replayed).
    const keyed = this.revoked.size > 0 || this.notRevokedTtlMs > 0;
    const key = keyed ? cacheKey(token) : '';
    if (keyed) {
      const now = this.now();
      const revokedUntil = this.revoked.get(key);
      if (revokedUntil !== undefined) {
        if (revokedUntil > now) return REVOKED;
        this.revoked.delete(key);
      }
      if (this.notRevokedTtlMs > 0) {
        const until = this.notRevoked.get(key);
        if (until !== undefined) {
          if (until > now) return NOT_REVOKED;
          this.notRevoked.delete(key);
        }
      }
    }
    const epoch = this.epoch;
    // One reaction on the inner lookup, no async layer of its own (the per-request path).
    return this.inner.isRevoked(token).then((answer) => {
      if (answer) this.rememberRevoked(token);
      else if (this.notRevokedTtlMs > 0 && epoch === this.epoch) {
        this.put(this.notRevoked, key, this.now() + this.notRevokedTtlMs);
      }
      return answer;
    });
  }

  recordIssued(token: TokenRef): Promise<void> {
    return this.inner.recordIssued(token);
  }

  async revoke(token: TokenRef): Promise<void> {
    this.epoch += 1;
    await this.inner.revoke(token);
    this.epoch += 1;
    this.rememberRevoked(token);
  }

  async revokeAllForUser(userId: string, current?: TokenRef): Promise<number> {
    this.epoch += 1;
    const count = await this.inner.revokeAllForUser(userId, current);
    this.epoch += 1;
    // The other tokens' ids are not known here: forget every "not revoked" of the user.
    const prefix = userPrefix(userId);
    for (const key of this.notRevoked.keys()) if (key.startsWith(prefix)) this.notRevoked.delete(key);
    if (current) this.rememberRevoked(current);
    return count;
  }

  /**
   * Forgets every "not revoked" answer of the user: called when sessions of the user ended
   * through this instance (the session store writes past this decorator).
   */
  forgetNotRevoked(userId: string): void {
    this.epoch += 1;
    const prefix = userPrefix(userId);
    for (const key of this.notRevoked.keys()) if (key.startsWith(prefix)) this.notRevoked.delete(key);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  /** Empties the caches and closes the inner store. */
  async close(): Promise<void> {
    this.revoked.clear();
    this.notRevoked.clear();
    await this.inner.close();
  }
}
