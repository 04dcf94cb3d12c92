import type { TokenRef } from '../auth/token.js';
import { systemClock, type Clock } from '../auth/token.js';
import type { RevocationStore } from './revocation-store.js';
import { lookupMembers, revokedByScores } from '../sessions/revocation-markers.js';

/** Options of {@link MemoryRevocationStore}. */
export interface MemoryRevocationStoreOptions {
  /** Seconds a token is still accepted after its exp; entries are kept that much longer. Default 5. */
  expiryGraceSeconds?: number;
  /** Default Date.now. */
  now?: Clock;
  /** How often expired entries are swept, in ms. Default 60000; 0 disables the timer. */
  sweepIntervalMs?: number;
}

/** One user's entries; shared with MemorySessionStore, which writes the session markers. */
export interface UserEntries {
  /** jti -> accept-until (seconds) */
  issued: Map<string, number>;
  revoked: Map<string, number>;
}

/**
 * An in-process store with the same behaviour as the Redis one. Revocations live only
 * in this process: for development, tests and single-instance deployments that accept
 * losing them on restart.
 */
export class MemoryRevocationStore implements RevocationStore {
  /** A lookup is a Map read: it never waits. */
  readonly lookupBoundMs = 0;
  private readonly users = new Map<string, UserEntries>();
  private readonly grace: number;
  private readonly now: Clock;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryRevocationStoreOptions = {}) {
    this.grace = options.expiryGraceSeconds ?? 5;
    this.now = options.now ?? systemClock;
    const interval = options.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      this.timer = setInterval(() => this.sweep(), interval);
      this.timer.unref();
    }
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private entries(userId: string): UserEntries {
    let entries = this.users.get(userId);
    if (!entries) {
      entries = { issued: new Map(), revoked: new Map() };
      this.users.set(userId, entries);
    }
    return entries;
  }

  private static prune(map: Map<string, number>, now: number): void {
    for (const [jti, until] of map) if (until < now) map.delete(jti);
  }

  /** Drops expired entries and empty users (what Redis TTLs do for the Redis store). */
  sweep(): void {
    const now = this.nowSeconds();
    for (const [userId, entries] of this.users) {
      MemoryRevocationStore.prune(entries.issued, now);
      MemoryRevocationStore.prune(entries.revoked, now);
      if (entries.issued.size === 0 && entries.revoked.size === 0) this.users.delete(userId);
    }
  }

  async recordIssued(token: TokenRef): Promise<void> {
    const entries = this.entries(token.userId);
    MemoryRevocationStore.prune(entries.issued, this.nowSeconds());
    entries.issued.set(token.jti, token.expiresAt + this.grace);
  }

  async isRevoked(token: TokenRef): Promise<boolean> {
    const revoked = this.users.get(token.userId)?.revoked;
    if (!revoked) return false;
    // The same members the Redis store asks in one ZMSCORE (sessions/revocation-markers.ts).
    const now = this.nowSeconds();
    const scores = lookupMembers(token).map((member) => {
      const until = revoked.get(member);
      return until !== undefined && until >= now ? until : null;
    });
    return revokedByScores(token, scores);
  }

  /**
   * The entries of a user, created if missing. For MemorySessionStore, which keeps its
   * markers in the same revoked map the per-request check reads.
   * @internal
   */
  userEntries(userId: string): UserEntries {
    return this.entries(userId);
  }

  async revoke(token: TokenRef): Promise<void> {
    const entries = this.entries(token.userId);
    entries.issued.delete(token.jti);
    MemoryRevocationStore.prune(entries.revoked, this.nowSeconds());
    entries.revoked.set(token.jti, Math.max(entries.revoked.get(token.jti) ?? 0, token.expiresAt + this.grace));
  }

  async revokeAllForUser(userId: string, current?: TokenRef): Promise<number> {
    if (current && current.userId !== userId) throw new Error('revokeAllForUser: current token belongs to another user');
    const entries = this.entries(userId);
    const now = this.nowSeconds();
    MemoryRevocationStore.prune(entries.issued, now);
    MemoryRevocationStore.prune(entries.revoked, now);
    const before = entries.revoked.size;
    const live = [...entries.issued];
    if (current) live.push([current.jti, current.expiresAt + this.grace]);
    for (const [jti, until] of live) {
      if (until >= now) entries.revoked.set(jti, Math.max(entries.revoked.get(jti) ?? 0, until));
    }
    entries.issued.clear();
    return entries.revoked.size - before;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.users.clear();
  }
}
