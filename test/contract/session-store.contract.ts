import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { TokenRef } from '../../src/auth/token.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';
import { createRefreshTokens, newSessionId } from '../../src/sessions/refresh-token.js';
import { SessionLimitError, type IssuedSession, type SessionLifetimes, type SessionStore } from '../../src/sessions/session-store.js';

/** A revocation store and a session store over the same data, and a way to let time pass. */
export interface SessionStores {
  revocations: RevocationStore;
  sessions: SessionStore;
  /** Lets `seconds` pass for the stores (a manual clock, or a real wait for Redis TIME). */
  pass(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export type SessionStoresFactory = (lifetimes: SessionLifetimes) => Promise<SessionStores>;

const client = { userAgent: 'contract-test/1.0', ipAddress: '203.0.113.7' };

/** Refresh tokens as the session manager makes them (refresh-token.ts): the store sees only generations. */
const refreshTokens = createRefreshTokens(Buffer.alloc(32, 7));

/**
 * The behaviour of every SessionStore with its RevocationStore: sessions, rotation, the
 * grace rule, reuse, cancelSession, the per-user cutoff. Run with
 * `describeSessionStoreContract('name', factory)`.
 */
export function describeSessionStoreContract(name: string, factory: SessionStoresFactory): void {
  describe(`SessionStore contract: ${name}`, () => {
    const opened: SessionStores[] = [];
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close()));
    });
    async function stores(lifetimes: SessionLifetimes = {}): Promise<SessionStores> {
      const s = await factory({ accessTokenTtlSeconds: 900, expiryGraceSeconds: 5, ...lifetimes });
      opened.push(s);
      return s;
    }

    /** Starts a session the way the session manager does; returns what a client would hold. */
    async function start(sessions: SessionStore, userId = randomUUID()) {
      const sessionId = newSessionId();
      const jti = randomUUID();
      const issued = await sessions.createSession({ userId, username: 'alice', sessionId, accessToken: { jti }, client });
      const refreshToken = refreshTokens.issue(userId, sessionId, issued.generation);
      return { userId, sessionId, refreshToken, issued, token: tokenOf(userId, sessionId, jti, issued) };
    }

    function tokenOf(userId: string, sessionId: string, jti: string, issued: Pick<IssuedSession, 'issuedAtMs'>): TokenRef {
      return { userId, sessionId, jti, issuedAtMs: issued.issuedAtMs, expiresAt: Math.floor(issued.issuedAtMs / 1000) + 900 };
    }

    /** Presents `presented` (a token of refreshTokens) for the session `s` names: its generation is what the store sees. */
    async function refresh(sessions: SessionStore, s: { userId: string; sessionId: string }, presented: string) {
      const jti = randomUUID();
      const outcome = await sessions.refreshSession({
        userId: s.userId,
        sessionId: s.sessionId,
        presentedGeneration: refreshTokens.verify(presented)!.generation,
        accessToken: { jti },
        client,
      });
      const token = 'issuedAtMs' in outcome ? tokenOf(s.userId, s.sessionId, jti, outcome) : undefined;
      const next = outcome.kind === 'rotated' || outcome.kind === 'grace' ? refreshTokens.issue(s.userId, s.sessionId, outcome.generation) : undefined;
      return { outcome, next, token };
    }

    it('creates a session that lists with its client, times and live state, newest first', async () => {
      const { sessions } = await stores({ refreshTokenTtlSeconds: 3600, idleTtlSeconds: 600 });
      const first = await start(sessions);
      const second = await start(sessions, first.userId);
      const listed = await sessions.listSessions(first.userId);
      expect(listed.map((s) => s.id).sort()).toEqual([first.sessionId, second.sessionId].sort());
      expect(listed[0]!.createdAt).toBeGreaterThanOrEqual(listed[1]!.createdAt);
      if (second.issued.issuedAtMs > first.issued.issuedAtMs) expect(listed[0]!.id).toBe(second.sessionId);
      const one = listed.find((s) => s.id === first.sessionId)!;
      expect(one).toMatchObject({ userId: first.userId, username: 'alice', userAgent: client.userAgent, ipAddress: client.ipAddress });
      expect(one.createdAt).toBe(first.issued.issuedAtMs);
      expect(one.lastUsedAt).toBe(first.issued.issuedAtMs);
      // The idle limit comes first here.
      expect(one.expiresAt).toBe(first.issued.issuedAtMs + 600_000);
      expect(await sessions.listSessions(randomUUID())).toEqual([]);
    });

    it('rotates: a new refresh token for the same session, the old one single-use', async () => {
      const { sessions, revocations } = await stores({ reuseGraceSeconds: 0 });
      const s = await start(sessions);
      const r1 = await refresh(sessions, s, s.refreshToken);
      expect(r1.outcome.kind).toBe('rotated');
      expect(await revocations.isRevoked(r1.token!)).toBe(false);
      const r2 = await refresh(sessions, s, r1.next!);
      expect(r2.outcome.kind).toBe('rotated');
      expect(r2.token!.issuedAtMs).toBeGreaterThanOrEqual(r1.token!.issuedAtMs!);
      expect((await sessions.listSessions(s.userId)).map((x) => x.id)).toEqual([s.sessionId]);
    });

    it('ends the session when a replaced refresh token comes back (no grace): every token of it refused', async () => {
      const { sessions, revocations } = await stores({ reuseGraceSeconds: 0 });
      const s = await start(sessions);
      const other = await start(sessions, s.userId);
      const r1 = await refresh(sessions, s, s.refreshToken);
      const reused = (await refresh(sessions, s, s.refreshToken)).outcome;
      expect(reused.kind).toBe('reused');
      // It names the session it ended, as it was (the session-ended event carries it).
      expect(reused.kind === 'reused' && { id: reused.session.id, userId: reused.session.userId }).toEqual({ id: s.sessionId, userId: s.userId });
      // The session is gone: its access tokens (the first one and the rotated one) are refused,
      // and so is the successor refresh token.
      expect(await revocations.isRevoked(s.token)).toBe(true);
      expect(await revocations.isRevoked(r1.token!)).toBe(true);
      expect(await revocations.isRevoked({ ...s.token, jti: randomUUID() })).toBe(true);
      expect((await refresh(sessions, s, r1.next!)).outcome.kind).toBe('invalid');
      expect((await sessions.listSessions(s.userId)).map((x) => x.id)).toEqual([other.sessionId]);
      expect(await revocations.isRevoked(other.token)).toBe(false);
    });

    it('within the grace, the replaced token gets the CURRENT refresh token, never another one', async () => {
      const { sessions, revocations } = await stores({ reuseGraceSeconds: 30 });
      const s = await start(sessions);
      const r1 = await refresh(sessions, s, s.refreshToken);
      const again = await refresh(sessions, s, s.refreshToken);
      expect(again.outcome.kind).toBe('grace');
      expect(again.next).toBe(r1.next);
      expect(await revocations.isRevoked(again.token!)).toBe(false);
      // The current one still rotates; a token two rotations old is a reuse, even within the grace.
      const r2 = await refresh(sessions, s, r1.next!);
      expect(r2.outcome.kind).toBe('rotated');
      expect((await refresh(sessions, s, s.refreshToken)).outcome.kind).toBe('reused');
      expect(await revocations.isRevoked(r2.token!)).toBe(true);
    });

    it('past the grace, the replaced token is a reuse', async () => {
      const { sessions, revocations, pass } = await stores({ reuseGraceSeconds: 1 });
      const s = await start(sessions);
      const r1 = await refresh(sessions, s, s.refreshToken);
      await pass(2.1);
      expect((await refresh(sessions, s, s.refreshToken)).outcome.kind).toBe('reused');
      expect(await revocations.isRevoked(r1.token!)).toBe(true);
    });

    it('decides concurrent presentations of one token atomically: one rotation, the rest under the grace rule', async () => {
      const { sessions } = await stores({ reuseGraceSeconds: 30 });
      const s = await start(sessions);
      const results = await Promise.all(Array.from({ length: 50 }, () => refresh(sessions, s, s.refreshToken)));
      const kinds = results.map((r) => r.outcome.kind);
      expect(kinds.filter((k) => k === 'rotated')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'grace')).toHaveLength(49);
      // Everyone holds the same, single live refresh token.
      expect(new Set(results.map((r) => r.next)).size).toBe(1);
      expect((await refresh(sessions, s, results[0]!.next!)).outcome.kind).toBe('rotated');
    });

    it('refuses unknown and foreign refresh tokens without touching the session', async () => {
      const { sessions, revocations } = await stores();
      const s = await start(sessions);
      // A generation the session never reached.
      expect((await refresh(sessions, s, refreshTokens.issue(s.userId, s.sessionId, 2))).outcome.kind).toBe('invalid');
      expect((await refresh(sessions, { userId: s.userId, sessionId: newSessionId() }, s.refreshToken)).outcome.kind).toBe('invalid');
      expect((await refresh(sessions, { userId: randomUUID(), sessionId: s.sessionId }, s.refreshToken)).outcome.kind).toBe('invalid');
      expect(await revocations.isRevoked(s.token)).toBe(false);
      expect((await refresh(sessions, s, s.refreshToken)).outcome.kind).toBe('rotated');
    });

    it('inspectRefreshToken reads what a token is without writing: current, grace, replaced, invalid, expired', async () => {
      const { sessions, revocations, pass } = await stores({ reuseGraceSeconds: 1, refreshTokenTtlSeconds: 3 });
      const s = await start(sessions);
      const inspect = (presented: string, at: { userId: string; sessionId: string } = s) =>
        sessions.inspectRefreshToken({ userId: at.userId, sessionId: at.sessionId, presentedGeneration: refreshTokens.verify(presented)!.generation });
      const current = await inspect(s.refreshToken);
      expect(current.kind).toBe('current');
      expect(current.kind === 'current' && { id: current.session.id, userId: current.session.userId, username: current.session.username }).toEqual({
        id: s.sessionId,
        userId: s.userId,
        username: 'alice',
      });
      // Inspecting is no use of the token: it still rotates, and inspecting again changes nothing.
      expect((await inspect(s.refreshToken)).kind).toBe('current');
      const r1 = await refresh(sessions, s, s.refreshToken);
      expect(r1.outcome.kind).toBe('rotated');
      expect((await inspect(r1.next!)).kind).toBe('current');
      expect((await inspect(s.refreshToken)).kind).toBe('grace');
      const r2 = await refresh(sessions, s, r1.next!);
      // Two rotations old: replaced, whatever the grace.
      expect((await inspect(s.refreshToken)).kind).toBe('replaced');
      await pass(1.2);
      expect((await inspect(r1.next!)).kind).toBe('replaced');
      // Inspecting a replaced token is not a reuse: the session lives on.
      expect(await revocations.isRevoked(r2.token!)).toBe(false);
      expect((await inspect(r2.next!)).kind).toBe('current');
      // A generation the session never reached.
      expect((await inspect(refreshTokens.issue(s.userId, s.sessionId, 9))).kind).toBe('invalid');
      expect((await inspect(r2.next!, { userId: s.userId, sessionId: newSessionId() })).kind).toBe('invalid');
      expect((await inspect(r2.next!, { userId: randomUUID(), sessionId: s.sessionId })).kind).toBe('invalid');
      await pass(1.9);
      expect((await inspect(r2.next!)).kind).toBe('expired');
    });

    it('inspectRefreshToken: a session ended is no more', async () => {
      const { sessions } = await stores();
      const s = await start(sessions);
      expect(await sessions.endSession(s.userId, s.sessionId)).toBe(true);
      expect((await sessions.inspectRefreshToken({ userId: s.userId, sessionId: s.sessionId, presentedGeneration: refreshTokens.verify(s.refreshToken)!.generation })).kind).toBe('invalid');
    });

    it('says expired past the absolute lifetime, and lists the session no more', async () => {
      const { sessions, pass } = await stores({ refreshTokenTtlSeconds: 1 });
      const s = await start(sessions);
      await pass(1.2);
      expect((await refresh(sessions, s, s.refreshToken)).outcome.kind).toBe('expired');
      expect(await sessions.listSessions(s.userId)).toEqual([]);
    });

    it('says expired past the idle lifetime; a refresh moves the idle end', async () => {
      const { sessions, pass } = await stores({ idleTtlSeconds: 2 });
      const s = await start(sessions);
      await pass(1.2);
      const r1 = await refresh(sessions, s, s.refreshToken);
      expect(r1.outcome.kind).toBe('rotated');
      await pass(1.2);
      expect((await sessions.listSessions(s.userId)).map((x) => x.id)).toEqual([s.sessionId]);
      await pass(1.2);
      expect((await refresh(sessions, s, r1.next!)).outcome.kind).toBe('expired');
    });

    it('endSession ends one session of the user only, once; another user cannot name it', async () => {
      const { sessions, revocations } = await stores();
      const a = await start(sessions);
      const b = await start(sessions, a.userId);
      expect(await sessions.endSession(randomUUID(), a.sessionId)).toBe(false);
      expect(await revocations.isRevoked(a.token)).toBe(false);
      expect(await sessions.endSession(a.userId, a.sessionId)).toBe(true);
      expect(await sessions.endSession(a.userId, a.sessionId)).toBe(false);
      expect(await revocations.isRevoked(a.token)).toBe(true);
      expect(await revocations.isRevoked(b.token)).toBe(false);
      expect((await refresh(sessions, a, a.refreshToken)).outcome.kind).toBe('invalid');
      expect((await sessions.listSessions(a.userId)).map((x) => x.id)).toEqual([b.sessionId]);
    });

    it('endAllSessions: the cutoff refuses recorded and never-recorded tokens, ends every session, counts the recorded ones', async () => {
      const { sessions, revocations } = await stores();
      const a = await start(sessions);
      const b = await start(sessions, a.userId);
      const minted: TokenRef = { ...a.token, jti: randomUUID() }; // never recorded
      const noSession: TokenRef = { userId: a.userId, jti: randomUUID(), expiresAt: a.token.expiresAt, issuedAt: Math.floor(a.issued.issuedAtMs / 1000) };
      const current: TokenRef = { userId: a.userId, jti: randomUUID(), expiresAt: a.token.expiresAt };
      expect(await sessions.endAllSessions(a.userId, { current: { jti: current.jti, expiresAt: current.expiresAt } })).toBe(3);
      for (const t of [a.token, b.token, minted, noSession, current]) expect(await revocations.isRevoked(t)).toBe(true);
      expect(await sessions.listSessions(a.userId)).toEqual([]);
      expect((await refresh(sessions, b, b.refreshToken)).outcome.kind).toBe('invalid');
      // A session started after the answer works, even in the same second (and millisecond).
      const later = await start(sessions, a.userId);
      expect(await revocations.isRevoked(later.token)).toBe(false);
      expect(await sessions.endAllSessions(a.userId)).toBe(1);
      expect(await revocations.isRevoked(later.token)).toBe(true);
    });

    it('endAllSessions keeping one session: its tokens (even never recorded) and its refresh token survive', async () => {
      const { sessions, revocations } = await stores();
      const keep = await start(sessions);
      const other = await start(sessions, keep.userId);
      const mintedKept: TokenRef = { ...keep.token, jti: randomUUID() };
      const mintedOther: TokenRef = { ...other.token, jti: randomUUID() };
      expect(await sessions.endAllSessions(keep.userId, { exceptSessionId: keep.sessionId })).toBe(1);
      expect(await revocations.isRevoked(keep.token)).toBe(false);
      expect(await revocations.isRevoked(mintedKept)).toBe(false);
      expect(await revocations.isRevoked(other.token)).toBe(true);
      expect(await revocations.isRevoked(mintedOther)).toBe(true);
      expect((await sessions.listSessions(keep.userId)).map((x) => x.id)).toEqual([keep.sessionId]);
      expect((await refresh(sessions, keep, keep.refreshToken)).outcome.kind).toBe('rotated');
      // A later cutoff without the exception catches the kept session too.
      await sessions.endAllSessions(keep.userId);
      expect(await revocations.isRevoked(mintedKept)).toBe(true);
    });

    it('reissue gives the session a new refresh token; the replaced one is refused, not a reuse', async () => {
      const { sessions, revocations } = await stores({ reuseGraceSeconds: 30 });
      const s = await start(sessions);
      const r1 = await refresh(sessions, s, s.refreshToken);
      const jti = randomUUID();
      const issued = await sessions.reissue({ userId: s.userId, sessionId: s.sessionId, accessToken: { jti }, client });
      expect(issued?.session.id).toBe(s.sessionId);
      const fresh = refreshTokens.issue(s.userId, s.sessionId, issued!.generation);
      // Every token before the reissue is forgotten: INVALID, not REUSED (and not the grace).
      expect((await refresh(sessions, s, r1.next!)).outcome.kind).toBe('invalid');
      expect((await refresh(sessions, s, s.refreshToken)).outcome.kind).toBe('invalid');
      expect((await refresh(sessions, s, fresh)).outcome.kind).toBe('rotated');
      expect(await revocations.isRevoked(tokenOf(s.userId, s.sessionId, jti, issued!))).toBe(false);
      expect(await sessions.reissue({ userId: s.userId, sessionId: newSessionId(), accessToken: { jti: 'y' }, client })).toBeUndefined();
    });

    it('reuse of a replaced refresh token ends the session however many rotations ago (constant space)', async () => {
      const { sessions, revocations } = await stores({ reuseGraceSeconds: 30 });
      const s = await start(sessions);
      let current = s.refreshToken;
      let last;
      for (let i = 0; i < 20; i += 1) {
        last = await refresh(sessions, s, current);
        expect(last.outcome.kind).toBe('rotated');
        current = last.next!;
      }
      // The very first token, 20 rotations old (before issue 18: forgotten after 9, INVALID).
      expect((await refresh(sessions, s, s.refreshToken)).outcome.kind).toBe('reused');
      expect(await revocations.isRevoked(last!.token!)).toBe(true);
      expect((await refresh(sessions, s, current)).outcome.kind).toBe('invalid');
    });

    it('at SESSIONS_MAX_PER_USER, evict-oldest ends the least recently used session exactly as endSession', async () => {
      const { sessions, revocations, pass } = await stores({ maxSessionsPerUser: 3 });
      const a = await start(sessions);
      await pass(0.02);
      const b = await start(sessions, a.userId);
      await pass(0.02);
      const c = await start(sessions, a.userId);
      await pass(0.02);
      // a was used last: b is now the least recently used.
      const ra = await refresh(sessions, a, a.refreshToken);
      expect(ra.outcome.kind).toBe('rotated');
      const d = await start(sessions, a.userId);
      expect(d.issued.evicted.map((x) => x.id)).toEqual([b.sessionId]);
      expect(d.issued.evicted[0]).toMatchObject({ userId: a.userId, userAgent: client.userAgent });
      expect(await revocations.isRevoked(b.token)).toBe(true);
      expect(await revocations.isRevoked({ ...b.token, jti: randomUUID() })).toBe(true);
      expect((await refresh(sessions, b, b.refreshToken)).outcome.kind).toBe('invalid');
      for (const t of [ra.token!, c.token, d.token]) expect(await revocations.isRevoked(t)).toBe(false);
      expect((await sessions.listSessions(a.userId)).map((x) => x.id).sort()).toEqual([a.sessionId, c.sessionId, d.sessionId].sort());
      // Another user is not counted.
      expect((await start(sessions)).issued.evicted).toEqual([]);
    });

    it('at SESSIONS_MAX_PER_USER, refuse-new refuses the session and changes nothing', async () => {
      const { sessions, revocations } = await stores({ maxSessionsPerUser: 2, limitPolicy: 'refuse-new' });
      const a = await start(sessions);
      const b = await start(sessions, a.userId);
      await expect(start(sessions, a.userId)).rejects.toBeInstanceOf(SessionLimitError);
      expect((await sessions.listSessions(a.userId)).map((x) => x.id).sort()).toEqual([a.sessionId, b.sessionId].sort());
      for (const t of [a.token, b.token]) expect(await revocations.isRevoked(t)).toBe(false);
      expect(await sessions.endSession(a.userId, a.sessionId)).toBe(true);
      expect((await start(sessions, a.userId)).issued.evicted).toEqual([]);
    });

    it('keeps the auth time of the sign-in across refreshes; reissue and reauthenticate set it to now', async () => {
      const stores1 = await stores({ reuseGraceSeconds: 0 });
      const { sessions, revocations } = stores1;
      const s = await start(sessions);
      const signedInAt = s.issued.session.authTime;
      expect(signedInAt).toBe(s.issued.issuedAtMs);
      await stores1.pass(1.1);
      const refreshed = await refresh(sessions, s, s.refreshToken);
      expect(refreshed.outcome.kind).toBe('rotated');
      const rotated = refreshed.outcome as Extract<typeof refreshed.outcome, { kind: 'rotated' }>;
      expect(rotated.issuedAtMs).toBeGreaterThan(signedInAt);
      expect(rotated.session.authTime).toBe(signedInAt);
      expect((await sessions.listSessions(s.userId))[0]?.authTime).toBe(signedInAt);

      // reauthenticate: a new access token recorded, auth time now, the refresh token unchanged.
      const jti = randomUUID();
      const again = await sessions.reauthenticate({ userId: s.userId, sessionId: s.sessionId, accessToken: { jti }, client });
      expect(again?.session.authTime).toBe(again?.issuedAtMs);
      expect(again!.session.authTime).toBeGreaterThan(signedInAt);
      expect(await revocations.isRevoked(tokenOf(s.userId, s.sessionId, jti, again!))).toBe(false);
      const next = await refresh(sessions, s, refreshed.next!);
      expect(next.outcome.kind).toBe('rotated');
      expect((next.outcome as typeof rotated).session.authTime).toBe(again!.session.authTime);
      // Recorded in the session: ending it refuses that token too.
      await sessions.endSession(s.userId, s.sessionId);
      expect(await revocations.isRevoked(tokenOf(s.userId, s.sessionId, jti, again!))).toBe(true);
      expect(await sessions.reauthenticate({ userId: s.userId, sessionId: s.sessionId, accessToken: { jti: randomUUID() }, client })).toBeUndefined();

      const other = await start(sessions);
      await stores1.pass(1.1);
      const reissued = await sessions.reissue({
        userId: other.userId,
        sessionId: other.sessionId,
        accessToken: { jti: randomUUID() },
        client,
      });
      expect(reissued!.session.authTime).toBe(reissued!.issuedAtMs);
      expect(reissued!.session.authTime).toBeGreaterThan(other.issued.session.authTime);
    });
  });
}
