import { describe, expect, it } from 'vitest';
import type { VerifiedToken } from '../../src/auth/token.js';
import { withRevocationEvents } from '../../src/live/publishing-store.js';
import { createMemoryEventBus, decodeLiveEvent, encodeLiveEvent, type LiveEvent, type LiveEventBus } from '../../src/live/revocation-events.js';
import { SocketRegistry } from '../../src/live/socket-registry.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';

const token = (userId: string, jti: string, sessionId?: string): VerifiedToken =>
  ({ userId, jti, issuedAt: 1, expiresAt: 4_000_000_000, ...(sessionId ? { sessionId } : {}) }) as VerifiedToken;

describe('live event messages', () => {
  it('round-trip every kind of event', () => {
    const events: LiveEvent[] = [
      { type: 'revoked', userId: 'u1', scope: { kind: 'token', jti: 'j1' }, at: 1 },
      { type: 'revoked', userId: 'u1', scope: { kind: 'session', sessionId: 's1' }, at: 2 },
      { type: 'revoked', userId: 'u1', scope: { kind: 'user' }, at: 3 },
      { type: 'session', kind: 'ENDED', userId: 'u1', session: { id: 's1', createdAt: 'x' }, at: 4 },
    ];
    for (const event of events) expect(decodeLiveEvent(encodeLiveEvent(event))).toEqual(event);
  });

  it('ignore what is malformed, of another version or of an unknown kind', () => {
    expect(decodeLiveEvent('not json')).toBeUndefined();
    expect(decodeLiveEvent(JSON.stringify({ v: 2, type: 'revoked', userId: 'u', scope: { kind: 'user' }, at: 1 }))).toBeUndefined();
    expect(decodeLiveEvent(JSON.stringify({ v: 1, type: 'revoked', userId: 'u', scope: { kind: 'planet' }, at: 1 }))).toBeUndefined();
    expect(decodeLiveEvent(JSON.stringify({ v: 1, type: 'revoked', userId: 7, scope: { kind: 'user' }, at: 1 }))).toBeUndefined();
    expect(decodeLiveEvent(JSON.stringify({ v: 1, type: 'session', kind: 'ENDED', userId: 'u', session: {}, at: 1 }))).toBeUndefined();
  });
});

describe('SocketRegistry', () => {
  it('finds the sockets an event names: by jti and by session outright, the whole user for a user-wide revocation', () => {
    const registry = new SocketRegistry<{ token: VerifiedToken; name: string }>();
    const a1 = { token: token('a', 'j1', 's1'), name: 'a1' };
    const a2 = { token: token('a', 'j2', 's2'), name: 'a2' };
    const b1 = { token: token('b', 'j1', 's1'), name: 'b1' };
    for (const s of [a1, a2, b1]) registry.add(s);
    expect(registry.size).toBe(3);
    expect(registry.affectedBy({ type: 'revoked', userId: 'a', scope: { kind: 'token', jti: 'j1' }, at: 0 })).toEqual({ sockets: [a1], definitive: true });
    expect(registry.affectedBy({ type: 'revoked', userId: 'a', scope: { kind: 'session', sessionId: 's2' }, at: 0 })).toEqual({ sockets: [a2], definitive: true });
    expect(registry.affectedBy({ type: 'revoked', userId: 'a', scope: { kind: 'user' }, at: 0 })).toEqual({ sockets: [a1, a2], definitive: false });
    registry.delete(a1);
    registry.delete(a1);
    expect(registry.size).toBe(2);
    expect(registry.ofUser('a')).toEqual([a2]);
  });
});

describe('withRevocationEvents', () => {
  function recording(): { bus: LiveEventBus; published: LiveEvent[] } {
    const inner = createMemoryEventBus();
    const published: LiveEvent[] = [];
    return { bus: { ...inner, live: true, publish: async (event) => void published.push(event) }, published };
  }

  it('publishes after each acknowledged revocation, with the publication time, and nothing for reads and records', async () => {
    const { bus, published } = recording();
    const store = withRevocationEvents(new MemoryRevocationStore({ sweepIntervalMs: 0 }), { events: bus, now: () => 1234 });
    const t = token('u', 'j');
    await store.recordIssued(t);
    expect(await store.isRevoked(t)).toBe(false);
    expect(published).toEqual([]);
    await store.revoke(t);
    expect(await store.isRevoked(t)).toBe(true);
    expect(await store.revokeAllForUser('u')).toBe(0);
    expect(published).toEqual([
      { type: 'revoked', userId: 'u', scope: { kind: 'token', jti: 'j' }, at: 1234 },
      { type: 'revoked', userId: 'u', scope: { kind: 'user' }, at: 1234 },
    ]);
  });

  it('publishes nothing when the write fails, and keeps the revocation when only the publication fails', async () => {
    const failures: number[] = [];
    const failingBus: LiveEventBus = { ...createMemoryEventBus(), live: true, publish: async () => Promise.reject(new Error('down')) };
    const inner = new MemoryRevocationStore({ sweepIntervalMs: 0 });
    const store = withRevocationEvents(inner, { events: failingBus, onPublishFailure: () => failures.push(1) });
    await store.revoke(token('u', 'j'));
    expect(await inner.isRevoked(token('u', 'j'))).toBe(true);
    expect(failures).toEqual([1]);

    const { bus, published } = recording();
    const failingStore: RevocationStore = {
      recordIssued: (t) => inner.recordIssued(t),
      isRevoked: (t) => inner.isRevoked(t),
      revoke: () => Promise.reject(new Error('store down')),
      revokeAllForUser: () => Promise.reject(new Error('store down')),
      ping: () => inner.ping(),
      close: () => inner.close(),
    };
    const broken = withRevocationEvents(failingStore, { events: bus });
    await expect(broken.revoke(token('u', 'k'))).rejects.toThrow('store down');
    await expect(broken.revokeAllForUser('u')).rejects.toThrow('store down');
    expect(published).toEqual([]);
  });
});
