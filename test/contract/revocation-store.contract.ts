import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Clock, TokenRef } from '../../src/auth/token.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';

/** A clock tests move by hand. */
export interface ManualClock {
  now: Clock;
  advance(seconds: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let current = start;
  return { now: () => current, advance: (s) => void (current += s * 1000) };
}

/** Builds a fresh store on `clock` with an expiry grace of 5 s. */
export type StoreFactory = (clock: ManualClock) => Promise<RevocationStore>;

/**
 * The behaviour every RevocationStore implementation must have. Run with
 * `describeRevocationStoreContract('name', factory)`.
 */
export function describeRevocationStoreContract(name: string, factory: StoreFactory): void {
  describe(`RevocationStore contract: ${name}`, () => {
    let clock: ManualClock;
    let store: RevocationStore;
    const stores: RevocationStore[] = [];
    const nowS = () => Math.floor(clock.now() / 1000);
    const token = (userId: string, ttl = 900): TokenRef => ({ userId, jti: randomUUID(), expiresAt: nowS() + ttl });

    beforeEach(async () => {
      clock = manualClock();
      store = await factory(clock);
      stores.push(store);
    });
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
    });

    it('does not report a token it has never seen as revoked', async () => {
      expect(await store.isRevoked(token(randomUUID()))).toBe(false);
    });

    it('reports a revoked token as revoked, and only that token', async () => {
      const user = randomUUID();
      const [a, b] = [token(user), token(user)];
      const other = { ...a, userId: randomUUID() };
      await store.recordIssued(a);
      await store.recordIssued(b);
      await store.revoke(a);
      expect(await store.isRevoked(a)).toBe(true);
      expect(await store.isRevoked(b)).toBe(false);
      expect(await store.isRevoked(other)).toBe(false);
    });

    it('revokes idempotently', async () => {
      const t = token(randomUUID());
      await store.revoke(t);
      await store.revoke(t);
      expect(await store.isRevoked(t)).toBe(true);
    });

    it('keeps a revocation while the token is accepted (through the clock tolerance)', async () => {
      const t = token(randomUUID(), 60);
      await store.revoke(t);
      clock.advance(60 + 4);
      expect(await store.isRevoked(t)).toBe(true);
    });

    it('revokeAllForUser revokes every live token of the user and returns how many', async () => {
      const user = randomUUID();
      const tokens = [token(user), token(user), token(user)];
      for (const t of tokens) await store.recordIssued(t);
      const bystander = token(randomUUID());
      await store.recordIssued(bystander);
      expect(await store.revokeAllForUser(user)).toBe(3);
      for (const t of tokens) expect(await store.isRevoked(t)).toBe(true);
      expect(await store.isRevoked(bystander)).toBe(false);
    });

    it('revokeAllForUser includes the current token even if it was never recorded', async () => {
      const user = randomUUID();
      const recorded = token(user);
      const current = token(user);
      await store.recordIssued(recorded);
      expect(await store.revokeAllForUser(user, current)).toBe(2);
      expect(await store.isRevoked(current)).toBe(true);
      expect(await store.isRevoked(recorded)).toBe(true);
    });

    it('does not count tokens already revoked or expired', async () => {
      const user = randomUUID();
      // c is past exp + grace already: the Redis store prunes by Redis' clock (TIME), not
      // by the injected one, so the test cannot move time for it.
      const [a, b, c] = [token(user), token(user), token(user, -30)];
      for (const t of [a, b, c]) await store.recordIssued(t);
      await store.revoke(a);
      expect(await store.revokeAllForUser(user, a)).toBe(1);
      expect(await store.revokeAllForUser(user, a)).toBe(0);
      expect(await store.revokeAllForUser(randomUUID())).toBe(0);
    });

    it('accepts tokens issued after revokeAll, even in the same second', async () => {
      const user = randomUUID();
      const before = token(user);
      await store.recordIssued(before);
      await store.revokeAllForUser(user, before);
      const after = token(user);
      await store.recordIssued(after);
      expect(await store.isRevoked(after)).toBe(false);
      expect(await store.isRevoked(before)).toBe(true);
      // and a later revokeAll catches the new one
      expect(await store.revokeAllForUser(user)).toBe(1);
      expect(await store.isRevoked(after)).toBe(true);
    });

    it('revokeAll is atomic against concurrent issuing: each token is revoked or valid, never half', async () => {
      const user = randomUUID();
      const tokens = Array.from({ length: 200 }, () => token(user));
      const records = tokens.map((t) => store.recordIssued(t));
      const count = store.revokeAllForUser(user);
      await Promise.all(records);
      const revokedCount = await count;
      const states = await Promise.all(tokens.map((t) => store.isRevoked(t)));
      // Exactly the tokens the call counted are revoked; the rest stay valid and are
      // still recorded, so a second revokeAll gets them.
      expect(states.filter(Boolean).length).toBe(revokedCount);
      expect(await store.revokeAllForUser(user)).toBe(200 - revokedCount);
      expect((await Promise.all(tokens.map((t) => store.isRevoked(t)))).every(Boolean)).toBe(true);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
