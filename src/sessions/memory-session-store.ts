import { systemClock, type Clock } from '../auth/token.js';
import type { MemoryRevocationStore, UserEntries } from '../revocation/memory-store.js';
import { CUTOFF_MEMBER, CUTOFF_RETENTION_SECONDS, cutoffFromScore, cutoffScore, keptSessionMember, sessionEndedMember } from './revocation-markers.js';
import {
  clip,
  SESSION_TOKENS_KEPT,
  SessionLimitError,
  sessionLifetimes,
  type CreatedSession,
  type CreateSessionInput,
  type ReissueInput,
  type ReauthenticateInput,
  type EndAllSessionsOptions,
  type InspectRefreshTokenInput,
  type IssuedSession,
  type RefreshOutcome,
  type RefreshSessionInput,
  type RefreshTokenState,
  type SessionClient,
  type SessionLifetimes,
  type SessionRecord,
  type SessionStore,
} from './session-store.js';

/** Options of {@link MemorySessionStore}. */
export interface MemorySessionStoreOptions extends SessionLifetimes {
  /** The store whose per-request check must see the session markers. */
  revocations: MemoryRevocationStore;
  /** Default Date.now. */
  now?: Clock;
  /** How often sessions long ended are dropped, in ms. Default 60000; 0 disables the timer. */
  sweepIntervalMs?: number;
}

interface Session {
  username: string;
  createdAt: number;
  lastUsedAt: number;
  absoluteEnd: number;
  idleEnd: number;
  /** The current refresh generation. */
  generation: number;
  /** The lowest generation still known (a reissue forgets the earlier ones). */
  floor: number;
  /** When the generation was set by a rotation (0: by sign-in or reissue). */
  rotatedAt: number;
  /** When the password was last checked in this session (ms). */
  authTime: number;
  userAgent: string | undefined;
  ipAddress: string | undefined;
  /** jti -> accept-until (s) */
  tokens: Map<string, number>;
}

const endOf = (s: Session) => Math.min(s.absoluteEnd, s.idleEnd);

/**
 * Sessions in process memory, with exactly the behaviour of {@link RedisSessionStore}
 * (the same contract suite): one JavaScript turn per operation is as atomic as one Lua
 * script. For development, tests and single-instance deployments.
 */
export class MemorySessionStore implements SessionStore {
  private readonly revocations: MemoryRevocationStore;
  private readonly now: Clock;
  private readonly lifetimes: Required<SessionLifetimes>;
  private readonly retainMs: number;
  private readonly users = new Map<string, Map<string, Session>>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(options: MemorySessionStoreOptions) {
    this.revocations = options.revocations;
    this.now = options.now ?? systemClock;
    this.lifetimes = sessionLifetimes(options);
    this.retainMs = (this.lifetimes.accessTokenTtlSeconds + this.lifetimes.expiryGraceSeconds) * 1000;
    const interval = options.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      this.timer = setInterval(() => this.sweep(), interval);
      this.timer.unref();
    }
  }

  /** Drops sessions ended long ago and users without sessions (what key expiry does on Redis). */
  sweep(): void {
    const now = this.now();
    for (const [userId] of this.users) if (this.sessions(userId, now).size === 0) this.users.delete(userId);
  }

  /** The user's sessions, without those ended more than retainMs ago. */
  private sessions(userId: string, now: number): Map<string, Session> {
    let sessions = this.users.get(userId);
    if (!sessions) {
      sessions = new Map();
      this.users.set(userId, sessions);
    }
    for (const [id, s] of sessions) if (endOf(s) < now - this.retainMs) sessions.delete(id);
    return sessions;
  }

  /** The time a token is stamped with: now, but always after the user's cutoff (see session-scripts.ts stamp). */
  private stamp(userId: string, now: number): number {
    const score = this.revocations.userEntries(userId).revoked.get(CUTOFF_MEMBER);
    if (score === undefined) return now;
    const cutoff = cutoffFromScore(score);
    return now <= cutoff ? cutoff + 1 : now;
  }

  private entries(userId: string, nowS: number): UserEntries {
    const entries = this.revocations.userEntries(userId);
    for (const map of [entries.issued, entries.revoked]) for (const [k, until] of map) if (until < nowS) map.delete(k);
    return entries;
  }

  private record(userId: string, s: Session, jti: string, now: number): void {
    const nowS = Math.floor(now / 1000);
    const until = nowS + this.lifetimes.accessTokenTtlSeconds + this.lifetimes.expiryGraceSeconds;
    const issued = this.entries(userId, nowS).issued;
    issued.set(jti, until);
    for (const [k, u] of s.tokens) if (u < nowS) s.tokens.delete(k);
    s.tokens.set(jti, until);
    // The last SESSION_TOKENS_KEPT, as on Redis (session-scripts.ts record_token).
    for (const [k, u] of s.tokens) {
      if (s.tokens.size <= SESSION_TOKENS_KEPT) break;
      s.tokens.delete(k);
      if (u <= nowS + CUTOFF_RETENTION_SECONDS) issued.delete(k);
    }
  }

  private static client(s: Session, client: SessionClient): void {
    s.userAgent = clip(client.userAgent);
    s.ipAddress = client.ipAddress || undefined;
  }

  private end(userId: string, id: string, s: Session, now: number): void {
    const nowS = Math.floor(now / 1000);
    let until = nowS + this.lifetimes.accessTokenTtlSeconds + this.lifetimes.expiryGraceSeconds;
    const entries = this.entries(userId, nowS);
    for (const [jti, u] of s.tokens) {
      entries.issued.delete(jti);
      until = Math.max(until, u);
    }
    entries.revoked.set(sessionEndedMember(id), until);
    this.users.get(userId)?.delete(id);
  }

  private static view(userId: string, id: string, s: Session): SessionRecord {
    return {
      id,
      userId,
      username: s.username,
      createdAt: s.createdAt,
      lastUsedAt: s.lastUsedAt,
      expiresAt: endOf(s),
      userAgent: s.userAgent,
      ipAddress: s.ipAddress,
      authTime: s.authTime,
    };
  }

  async createSession(input: CreateSessionInput): Promise<CreatedSession> {
    const now = this.stamp(input.userId, this.now());
    const l = this.lifetimes;
    const sessions = this.sessions(input.userId, now);
    const live = () => [...sessions].filter(([, s]) => endOf(s) > now);
    const evicted: SessionRecord[] = [];
    if (live().length >= l.maxSessionsPerUser) {
      if (l.limitPolicy === 'refuse-new') throw new SessionLimitError(l.maxSessionsPerUser);
      // Least recently used first, as Redis's use index (ties: the smaller id, as ZRANGE orders them).
      const order = live().sort(([ia, a], [ib, b]) => a.lastUsedAt - b.lastUsedAt || (ia < ib ? -1 : 1));
      for (const [id, s] of order.slice(0, order.length - l.maxSessionsPerUser + 1)) {
        evicted.push(MemorySessionStore.view(input.userId, id, s));
        this.end(input.userId, id, s, now);
      }
    }
    const s: Session = {
      username: input.username,
      createdAt: now,
      lastUsedAt: now,
      absoluteEnd: now + l.refreshTokenTtlSeconds * 1000,
      idleEnd: now + l.idleTtlSeconds * 1000,
      generation: 1,
      floor: 1,
      rotatedAt: 0,
      authTime: now,
      userAgent: undefined,
      ipAddress: undefined,
      tokens: new Map(),
    };
    MemorySessionStore.client(s, input.client);
    this.record(input.userId, s, input.accessToken.jti, now);
    sessions.set(input.sessionId, s);
    return { issuedAtMs: now, generation: 1, session: MemorySessionStore.view(input.userId, input.sessionId, s), evicted };
  }

  async refreshSession(input: RefreshSessionInput): Promise<RefreshOutcome> {
    const now = this.stamp(input.userId, this.now());
    const l = this.lifetimes;
    const s = this.sessions(input.userId, now).get(input.sessionId);
    const presented = input.presentedGeneration;
    if (!s || !Number.isSafeInteger(presented) || presented > s.generation || presented < s.floor) return { kind: 'invalid' };
    if (now >= endOf(s)) return { kind: 'expired' };
    if (presented === s.generation - 1 && s.rotatedAt > 0 && l.reuseGraceSeconds > 0 && now - s.rotatedAt <= l.reuseGraceSeconds * 1000) {
      this.record(input.userId, s, input.accessToken.jti, now);
      s.lastUsedAt = now;
      s.idleEnd = Math.max(s.idleEnd, now + l.idleTtlSeconds * 1000);
      MemorySessionStore.client(s, input.client);
      return { kind: 'grace', issuedAtMs: now, generation: s.generation, session: MemorySessionStore.view(input.userId, input.sessionId, s) };
    }
    if (presented !== s.generation) {
      const ended = MemorySessionStore.view(input.userId, input.sessionId, s);
      this.end(input.userId, input.sessionId, s, now);
      return { kind: 'reused', session: ended };
    }
    s.generation += 1;
    s.rotatedAt = now;
    s.lastUsedAt = now;
    s.idleEnd = now + l.idleTtlSeconds * 1000;
    MemorySessionStore.client(s, input.client);
    this.record(input.userId, s, input.accessToken.jti, now);
    return { kind: 'rotated', issuedAtMs: now, generation: s.generation, session: MemorySessionStore.view(input.userId, input.sessionId, s) };
  }

  async reissue(input: ReissueInput): Promise<IssuedSession | undefined> {
    const now = this.stamp(input.userId, this.now());
    const s = this.sessions(input.userId, now).get(input.sessionId);
    if (!s || now >= endOf(s)) return undefined;
    s.generation += 1;
    Object.assign(s, { floor: s.generation, rotatedAt: 0, lastUsedAt: now, authTime: now });
    s.idleEnd = now + this.lifetimes.idleTtlSeconds * 1000;
    MemorySessionStore.client(s, input.client);
    this.record(input.userId, s, input.accessToken.jti, now);
    return { issuedAtMs: now, generation: s.generation, session: MemorySessionStore.view(input.userId, input.sessionId, s) };
  }

  async reauthenticate(input: ReauthenticateInput): Promise<IssuedSession | undefined> {
    const now = this.stamp(input.userId, this.now());
    const s = this.sessions(input.userId, now).get(input.sessionId);
    if (!s || now >= endOf(s)) return undefined;
    s.lastUsedAt = now;
    s.authTime = now;
    s.idleEnd = Math.max(s.idleEnd, now + this.lifetimes.idleTtlSeconds * 1000);
    MemorySessionStore.client(s, input.client);
    this.record(input.userId, s, input.accessToken.jti, now);
    return { issuedAtMs: now, generation: s.generation, session: MemorySessionStore.view(input.userId, input.sessionId, s) };
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const now = this.now();
    const sessions = this.users.get(userId);
    if (!sessions) return [];
    return [...sessions]
      .filter(([, s]) => endOf(s) > now)
      .map(([id, s]) => MemorySessionStore.view(userId, id, s))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
  }

  async inspectRefreshToken(input: InspectRefreshTokenInput): Promise<RefreshTokenState> {
    const now = this.now();
    const s = this.users.get(input.userId)?.get(input.sessionId);
    if (!s) return { kind: 'invalid' };
    const presented = input.presentedGeneration;
    if (!Number.isSafeInteger(presented) || presented > s.generation || presented < s.floor) return { kind: 'invalid' };
    const grace = this.lifetimes.reuseGraceSeconds;
    const kind =
      presented === s.generation
        ? 'current'
        : presented === s.generation - 1 && s.rotatedAt > 0 && grace > 0 && now - s.rotatedAt <= grace * 1000
          ? 'grace'
          : 'replaced';
    if (now >= endOf(s)) return { kind: 'expired' };
    return { kind, session: MemorySessionStore.view(input.userId, input.sessionId, s) };
  }

  async endSession(userId: string, sessionId: string): Promise<boolean> {
    const now = this.now();
    const s = this.sessions(userId, now).get(sessionId);
    if (!s || now >= endOf(s)) return false;
    this.end(userId, sessionId, s, now);
    return true;
  }

  async endAllSessions(userId: string, options: EndAllSessionsOptions = {}): Promise<number> {
    // After the previous cutoff, strictly: a session kept by it is not kept by this one.
    const now = this.stamp(userId, this.now());
    const nowS = Math.floor(now / 1000);
    const sessions = this.sessions(userId, now);
    const entries = this.entries(userId, nowS);
    const kept = options.exceptSessionId;
    const keep = (kept !== undefined && sessions.get(kept)?.tokens) || new Map<string, number>();
    let count = 0;
    const revoke = (jti: string, until: number) => {
      const before = entries.revoked.get(jti);
      if (before === undefined) count += 1;
      entries.revoked.set(jti, Math.max(before ?? 0, until));
    };
    for (const [jti, until] of [...entries.issued]) {
      if (keep.has(jti)) continue;
      revoke(jti, until);
      entries.issued.delete(jti);
    }
    const current = options.current;
    if (current && !keep.has(current.jti)) revoke(current.jti, current.expiresAt + this.lifetimes.expiryGraceSeconds);
    // Parsed back from its score, like Redis's: the two stores agree to the millisecond.
    const score = Number(cutoffScore(now).toFixed(3));
    entries.revoked.set(CUTOFF_MEMBER, score);
    if (kept !== undefined) entries.revoked.set(keptSessionMember(kept), score);
    for (const id of [...sessions.keys()]) if (id !== kept) sessions.delete(id);
    return count;
  }

  /** Forgets every session and stops the timer (the revocation store is closed by its owner). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.users.clear();
  }
}
