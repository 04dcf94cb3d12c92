import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TokenRef } from '../../src/auth/token.js';
import { CachedRevocationStore } from '../../src/revocation/cached-store.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';
import { describeRevocationStoreContract, manualClock, type ManualClock } from '../contract/revocation-store.contract.js';

/** A memory store that counts the lookups it answers: what the cache saves is what it doesn't count. */
class CountingStore extends MemoryRevocationStore {
  lookups = 0;
  override async isRevoked(token: TokenRef): Promise<boolean> {
    this.lookups += 1;
    return super.isRevoked(token);
  }
}

function setup(options: { notRevokedTtlMs?: number; maxEntries?: number } = {}) {
  const clock = manualClock(1_800_000_000_000);
  const inner = new CountingStore({ now: clock.now, expiryGraceSeconds: 5, sweepIntervalMs: 0 });
  const cached = new CachedRevocationStore({ inner, now: clock.now, ...options });
  const token = (userId = randomUUID(), ttl = 900): TokenRef => ({
    userId,
    jti: randomUUID(),
    expiresAt: Math.floor(clock.now() / 1000) + ttl,
  });
  return { clock, inner, cached, token };
}

describe('CachedRevocationStore', () => {
  it('keeps a "revoked" answer until the token expires, then asks the store again', async () => {
    const { clock, inner, cached, token } = setup();
    const t = token(undefined, 60);
    await inner.revoke(t); // revoked elsewhere: another instance
    expect(await cached.isRevoked(t)).toBe(true);
    expect(await cached.isRevoked(t)).toBe(true);
    expect(inner.lookups).toBe(1);
    clock.advance(61); // past exp, still within the store's grace: the store answers, still revoked
    expect(await cached.isRevoked(t)).toBe(true);
    expect(inner.lookups).toBe(2);
  });

  it('asks the store for every "not revoked" answer by default', async () => {
    const { inner, cached, token } = setup();
    const t = token();
    expect(await cached.isRevoked(t)).toBe(false);
    expect(await cached.isRevoked(t)).toBe(false);
    expect(inner.lookups).toBe(2);
    expect(cached.size.notRevoked).toBe(0);
  });

  it('with notRevokedTtlMs, reuses "not revoked" for that window: a revocation elsewhere shows after it', async () => {
    const { clock, inner, cached, token } = setup({ notRevokedTtlMs: 1000 });
    const t = token();
    expect(await cached.isRevoked(t)).toBe(false);
    await inner.revoke(t); // another instance revokes it
    clock.advance(0.999);
    expect(await cached.isRevoked(t)).toBe(false); // the documented window
    expect(inner.lookups).toBe(1);
    clock.advance(0.001);
    expect(await cached.isRevoked(t)).toBe(true);
    expect(inner.lookups).toBe(2);
  });

  it('enforces a revocation made through this instance at once, whatever the window', async () => {
    const { inner, cached, token } = setup({ notRevokedTtlMs: 60_000 });
    const t = token();
    expect(await cached.isRevoked(t)).toBe(false);
    await cached.revoke(t);
    expect(await cached.isRevoked(t)).toBe(true);
    expect(inner.lookups).toBe(1);
  });

  it('revokeAllForUser through this instance drops the user\'s "not revoked" answers, not other users\'', async () => {
    const { inner, cached, token } = setup({ notRevokedTtlMs: 60_000 });
    const user = randomUUID();
    const [current, other] = [token(user), token(user)];
    const bystander = token();
    for (const t of [current, other, bystander]) {
      await cached.recordIssued(t);
      expect(await cached.isRevoked(t)).toBe(false);
    }
    expect(await cached.revokeAllForUser(user, current)).toBe(2);
    const before = inner.lookups;
    expect(await cached.isRevoked(current)).toBe(true); // cached as revoked: no lookup
    expect(await cached.isRevoked(other)).toBe(true); // asked again
    expect(await cached.isRevoked(bystander)).toBe(false); // still cached
    expect(inner.lookups - before).toBe(1);
  });

  it('does not keep a "not revoked" fetched while a revocation went through this instance', async () => {
    const clock = manualClock();
    let release: (answer: boolean) => void = () => {};
    let lookups = 0;
    const inner: RevocationStore = {
      isRevoked: () => {
        lookups += 1;
        return lookups === 1 ? new Promise<boolean>((resolve) => (release = resolve)) : Promise.resolve(true);
      },
      recordIssued: async () => {},
      revoke: async () => {},
      revokeAllForUser: async () => 1,
      ping: async () => {},
      close: async () => {},
    };
    const cached = new CachedRevocationStore({ inner, now: clock.now, notRevokedTtlMs: 60_000 });
    const t: TokenRef = { userId: 'u', jti: 'j', expiresAt: Math.floor(clock.now() / 1000) + 900 };
    const pending = cached.isRevoked(t); // the lookup starts before the revocation...
    await cached.revokeAllForUser('u'); // ...which revokes t without naming it...
    release(false); // ...and the lookup answers with what it read before
    expect(await pending).toBe(false);
    expect(await cached.isRevoked(t)).toBe(true);
    expect(lookups).toBe(2);
  });

  it('holds at most maxEntries answers per cache, dropping the oldest', async () => {
    const { inner, cached, token } = setup({ maxEntries: 2 });
    const [a, b, c] = [token(), token(), token()];
    for (const t of [a, b, c]) {
      await inner.revoke(t);
      await cached.isRevoked(t);
    }
    expect(cached.size.revoked).toBe(2);
    const before = inner.lookups;
    await cached.isRevoked(c);
    expect(inner.lookups).toBe(before);
    await cached.isRevoked(a);
    expect(inner.lookups).toBe(before + 1);
  });

  it('caches nothing when a write fails', async () => {
    const { inner, cached, token } = setup({ notRevokedTtlMs: 60_000 });
    const t = token();
    inner.revoke = () => Promise.reject(new Error('store down'));
    await expect(cached.revoke(t)).rejects.toThrow('store down');
    expect(await cached.isRevoked(t)).toBe(false);
    expect(cached.size.revoked).toBe(0);
  });

  it('does not cache the answer for an already expired token', async () => {
    const { clock, inner, cached, token } = setup();
    const t = token(undefined, 1);
    await inner.revoke(t);
    clock.advance(2); // expired, within the store's grace
    expect(await cached.isRevoked(t)).toBe(true);
    expect(cached.size.revoked).toBe(0);
  });

  it('refuses bad options at construction', () => {
    const inner = new MemoryRevocationStore({ sweepIntervalMs: 0 });
    expect(() => new CachedRevocationStore({ inner, maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new CachedRevocationStore({ inner, notRevokedTtlMs: -1 })).toThrow(/notRevokedTtlMs/);
  });
});

const memoryFactory = (options: { notRevokedTtlMs?: number }) => async (clock: ManualClock) =>
  new CachedRevocationStore({
    inner: new MemoryRevocationStore({ now: clock.now, expiryGraceSeconds: 5, sweepIntervalMs: 0 }),
    now: clock.now,
    ...options,
  });

describeRevocationStoreContract('CachedRevocationStore over memory (default)', memoryFactory({}));
describeRevocationStoreContract('CachedRevocationStore over memory (notRevokedTtlMs 1000)', memoryFactory({ notRevokedTtlMs: 1000 }));
