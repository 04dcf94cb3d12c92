/**
 * The sessionEvents fan-out (src/live/session-subscription.ts): one bus listener per bus, each
 * subscription a record in its user's set. No subscription state outlives its end: after
 * 10,000 subscribe/complete rounds (and subscriptions ended by a bus overflow) the count of
 * held subscriptions and users is back to 0 and the bus listener is gone.
 */
import { describe, expect, it } from 'vitest';
import type { GraphQLContext } from '../../src/context/context.js';
import { createMemoryEventBus, type LiveEvent } from '../../src/live/revocation-events.js';
import { createSessionEventResolvers, sessionSubscriberCount } from '../../src/live/session-subscription.js';

function contextOf(userId: string, sessionId = `${userId}-s`): GraphQLContext {
  return { auth: { kind: 'authenticated', token: { userId, sessionId } } } as unknown as GraphQLContext;
}

function sessionEvent(userId: string, id: string): LiveEvent {
  const at = new Date(0).toISOString();
  return { type: 'session', kind: 'CREATED', userId, session: { id, createdAt: at, lastUsedAt: at, expiresAt: at, userAgent: null, ipAddress: null }, at: 0 } as LiveEvent;
}

type Field = { subscribe: (p: unknown, a: unknown, c: GraphQLContext) => AsyncIterableIterator<unknown> };

describe('sessionEvents fan-out', () => {
  it('holds nothing after 10,000 subscribe/complete rounds', async () => {
    const events = createMemoryEventBus();
    const field = createSessionEventResolvers({ events }).Subscription!.sessionEvents as unknown as Field;
    for (let i = 0; i < 10_000; i += 1) {
      const iterator = field.subscribe(undefined, {}, contextOf(`user-${i % 97}`));
      if (i % 2 === 0) {
        // Half of them wait for an event when completed (a pending next resolved as done).
        const pending = iterator.next();
        await iterator.return!();
        expect(await pending).toEqual({ value: undefined, done: true });
      } else await iterator.return!();
    }
    expect(sessionSubscriberCount(events)).toEqual({ subscriptions: 0, users: 0, listening: false });
    await events.close();
  });

  it('delivers to the event user only, and ends an overflowing subscription without leaving it behind', async () => {
    const events = createMemoryEventBus();
    const field = createSessionEventResolvers({ events, maxQueued: 3 }).Subscription!.sessionEvents as unknown as Field;
    const alice = field.subscribe(undefined, {}, contextOf('alice'));
    const bob = field.subscribe(undefined, {}, contextOf('bob'));
    expect(sessionSubscriberCount(events)).toEqual({ subscriptions: 2, users: 2, listening: true });
    const bobNext = bob.next();
    await events.publish(sessionEvent('alice', 'a1'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await alice.next()).toMatchObject({ done: false, value: { userId: 'alice', session: { id: 'a1' } } });
    // Four events unread with room for three: alice's subscription ends with an error.
    for (let i = 2; i <= 5; i += 1) await events.publish(sessionEvent('alice', `a${i}`));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sessionSubscriberCount(events)).toEqual({ subscriptions: 1, users: 1, listening: true });
    for (let i = 2; i <= 4; i += 1) expect(await alice.next()).toMatchObject({ value: { session: { id: `a${i}` } } });
    await expect(alice.next()).rejects.toThrow('More than 3 session events were waiting');
    expect(await alice.next()).toEqual({ value: undefined, done: true });
    await events.publish(sessionEvent('bob', 'b1'));
    expect(await bobNext).toMatchObject({ done: false, value: { userId: 'bob', session: { id: 'b1' } } });
    await bob.return!();
    expect(sessionSubscriberCount(events)).toEqual({ subscriptions: 0, users: 0, listening: false });
    await events.close();
  });
});
