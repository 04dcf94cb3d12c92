import type { TokenRef } from '../auth/token.js';
import { StoreUnavailableError } from '../errors.js';
import type { RevocationStore } from './revocation-store.js';

/** An answer known without the store: one settled promise, shared. */
const REVOKED = Promise.resolve(true);

/** Options of {@link SafeguardedRevocationStore}. */
export interface SafeguardedRevocationStoreOptions {
  inner: RevocationStore;
  /**
   * Tokens whose `iat` is below this (seconds) are refused as revoked, without a store
   * command: Redis lost the data behind revocations (the data-loss watcher's cutoff).
   */
  cutoffSeconds: () => number;
  /**
   * Why the store must not be trusted right now (this host's clock beyond MAX_CLOCK_SKEW,
   * the data-loss cutoff not read yet), or undefined. Every operation then fails with
   * StoreUnavailableError: 503 AUTH_UNAVAILABLE, as when Redis is down.
   */
  unavailable: () => string | undefined;
}

/**
 * A {@link RevocationStore} decorator that applies the safeguards of issue 10 in process:
 * the per-request check stays the inner store's one command, preceded by two comparisons.
 */
export class SafeguardedRevocationStore implements RevocationStore {
  readonly lookupBoundMs: number | undefined;
  readonly batchesLookups: boolean | undefined;
  private readonly inner: RevocationStore;
  private readonly cutoffSeconds: () => number;
  private readonly unavailable: () => string | undefined;

  constructor(options: SafeguardedRevocationStoreOptions) {
    this.inner = options.inner;
    this.cutoffSeconds = options.cutoffSeconds;
    this.unavailable = options.unavailable;
    this.lookupBoundMs = options.inner.lookupBoundMs;
    this.batchesLookups = options.inner.batchesLookups;
  }

  private guard(operation: string): void {
    const why = this.unavailable();
    if (why) throw new StoreUnavailableError(`${operation}: ${why}`);
  }

  /** No token is issued while the safeguards cannot vouch for it (sign-in gets 503). */
  async recordIssued(token: TokenRef): Promise<void> {
    this.guard('recordIssued');
    await this.inner.recordIssued(token);
  }

  isRevoked(token: TokenRef): Promise<boolean> {
    // A token without iat (readiness' probe) is not a token anyone presented.
    if (token.issuedAt !== undefined && token.issuedAt < this.cutoffSeconds()) return REVOKED;
    // One reaction on the inner lookup, no async layer of its own (the per-request path).
    return this.inner.isRevoked(token).then(this.afterLookup);
  }

  /** After the lookup, so a Redis that is down fails as the lookup does (and is counted so). */
  private readonly afterLookup = (revoked: boolean): boolean => {
    this.guard('isRevoked');
    return revoked;
  };

  /** Revocations always go through: writing one is never unsafe, and the scripts use Redis' clock. */
  async revoke(token: TokenRef): Promise<void> {
    await this.inner.revoke(token);
  }

  async revokeAllForUser(userId: string, current?: TokenRef): Promise<number> {
    return this.inner.revokeAllForUser(userId, current);
  }

  async ping(): Promise<void> {
    await this.inner.ping();
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}
