/**
 * Lookup coalescing in RedisRevocationStore: the ZSCOREs issued in one turn of the event
 * loop leave in one socket write and reach Redis in one read, and each still gets its own
 * answer, in order with the writes around it; identical lookups of one turn share one command. On a redis-server of its own, so Redis's
 * read counter sees only this file's traffic.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenRef } from '../../src/auth/token.js';
import { createKeySpace } from '../../src/redis/keys.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { sessionEndedMember } from '../../src/sessions/revocation-markers.js';
import { parseInfo, startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';

const LOOKUPS = 100;
const REVOKED = new Set([3, 17, 42, 99]);

/** Counts the system-call-level writes of a socket: each `_write` or `_writev` is one. */
function countWrites(stream: Redis['stream']): () => number {
  const socket = stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  let writes = 0;
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method].bind(socket);
    socket[method] = (...args: unknown[]) => {
      writes += 1;
      return original(...args);
    };
  }
  return () => writes;
}

describe('RedisRevocationStore lookup coalescing', () => {
  let server: RedisServerProcess;
  let client: Redis;
  let observer: Redis;
  const userId = randomUUID();
  const tokens: TokenRef[] = [];

  async function readsProcessed(): Promise<number> {
    return Number(parseInfo(await observer.info('stats')).get('total_reads_processed'));
  }

  beforeAll(async () => {
    server = await startRedisServer({ appendonly: false });
    client = new Redis({ host: server.host, port: server.port });
    observer = new Redis({ host: server.host, port: server.port });
    const seeding = new RedisRevocationStore({ client: observer, keyPrefix: 'co' });
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    for (let i = 0; i < LOOKUPS; i++) tokens.push({ userId: i % 2 ? userId : randomUUID(), jti: `jti-${i}`, expiresAt });
    for (const i of REVOKED) await seeding.revoke(tokens[i]!);
    await client.ping();
  });

  afterAll(async () => {
    client?.disconnect();
    observer?.disconnect();
    await server?.cleanup();
  });

  it('sends the lookups of one turn in one write, read by Redis at once, each with its own answer', async () => {
    const store = new RedisRevocationStore({ client, keyPrefix: 'co' });
    const writes = countWrites(client.stream);
    const readsBefore = await readsProcessed();
    const answers = await Promise.all(tokens.map((token) => store.isRevoked(token)));
    const reads = (await readsProcessed()) - readsBefore;

    expect(answers).toEqual(tokens.map((_, i) => REVOKED.has(i)));
    expect(writes()).toBe(1);
    // One read for the 100 lookups, one for the INFO that reads the counter.
    expect(reads).toBeLessThanOrEqual(2);
  });

  it('without coalescing, the same lookups are separate writes (and get the same answers)', async () => {
    const plain = new Redis({ host: server.host, port: server.port });
    try {
      await plain.ping();
      const store = new RedisRevocationStore({ client: plain, keyPrefix: 'co', coalesceLookups: false });
      const writes = countWrites(plain.stream);
      const answers = await Promise.all(tokens.map((token) => store.isRevoked(token)));
      expect(answers).toEqual(tokens.map((_, i) => REVOKED.has(i)));
      expect(writes()).toBeGreaterThan(1);
    } finally {
      plain.disconnect();
    }
  });

  async function zmscoreCalls(): Promise<number> {
    const stats = parseInfo(await observer.info('commandstats')).get('cmdstat_zmscore');
    return Number(/calls=(\d+)/.exec(stats ?? '')?.[1] ?? 0);
  }

  it('answers identical lookups of one turn with one command (a burst on one token), and a later turn asks again', async () => {
    const store = new RedisRevocationStore({ client, keyPrefix: 'co' });
    const token: TokenRef = { userId, jti: `burst-${randomUUID()}`, expiresAt: Math.floor(Date.now() / 1000) + 600 };
    const other: TokenRef = { userId, jti: `burst-other-${randomUUID()}`, expiresAt: token.expiresAt };
    const before = await zmscoreCalls();
    const answers = await Promise.all([...Array.from({ length: 20 }, () => store.isRevoked(token)), store.isRevoked(other)]);
    expect(answers).toEqual(Array.from({ length: 21 }, () => false));
    // One command for the 20 identical lookups, one for the other token.
    expect((await zmscoreCalls()) - before).toBe(2);

    // Revoked through another connection and acknowledged: the next turn's lookups send their own command and see it.
    await new RedisRevocationStore({ client: observer, keyPrefix: 'co' }).revoke(token);
    expect(await Promise.all([store.isRevoked(token), store.isRevoked(token)])).toEqual([true, true]);
  });

  it('shares a command only between lookups that ask the same members: a jti or session spelled to collide gets its own', async () => {
    const store = new RedisRevocationStore({ client, keyPrefix: 'co' });
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    const session = `s-${randomUUID()}`;
    // The session's end, as the session store writes it (src/sessions/revocation-markers.ts).
    await observer.zadd(createKeySpace('co').userRevoked(userId), expiresAt, sessionEndedMember(session));
    const jti = `j-${randomUUID()}`;
    // The same jti with and without the ended session, and jtis that a plain concatenation of jti and session would confuse.
    const lookups: [TokenRef, boolean][] = [
      [{ userId, jti, sessionId: session, expiresAt }, true],
      [{ userId, jti, expiresAt }, false],
      [{ userId, jti: `${jti}?${session}`, expiresAt }, false],
      [{ userId, jti: `${jti}!`, expiresAt }, false],
      [{ userId, jti: `${jti}`, sessionId: `${session}!`, expiresAt }, false],
    ];
    const before = await zmscoreCalls();
    const answers = await Promise.all(lookups.map(([token]) => store.isRevoked(token)));
    expect(answers).toEqual(lookups.map(([, revoked]) => revoked));
    expect((await zmscoreCalls()) - before).toBe(lookups.length);
  });

  it('keeps the order of commands: a lookup sent after a revocation in the same turn sees it', async () => {
    const store = new RedisRevocationStore({ client, keyPrefix: 'co' });
    const token: TokenRef = { userId, jti: `order-${randomUUID()}`, expiresAt: Math.floor(Date.now() / 1000) + 600 };
    const [before, , after] = await Promise.all([store.isRevoked(token), store.revoke(token), store.isRevoked(token)]);
    expect(before).toBe(false);
    expect(after).toBe(true);
  });

  it('uncorks the connection once the turn is over: a later command is not held back', async () => {
    const store = new RedisRevocationStore({ client, keyPrefix: 'co' });
    await store.isRevoked(tokens[0]!);
    expect(client.stream.writableCorked).toBe(0);
    // A command outside any lookup turn goes out at once and is answered.
    expect(await client.ping()).toBe('PONG');
  });

  it('fails a lookup at once while the connection is down, as without coalescing', async () => {
    const down = new Redis({ host: server.host, port: server.port, lazyConnect: true, enableOfflineQueue: false });
    down.on('error', () => {});
    try {
      const store = new RedisRevocationStore({ client: down, keyPrefix: 'co' });
      await expect(store.isRevoked(tokens[0]!)).rejects.toThrow(/isRevoked/);
    } finally {
      down.disconnect();
    }
  });
});
