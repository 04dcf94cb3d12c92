import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Every key under a prefix, with its TTL in seconds (-1: none). */
async function keysWithTtl(redis: Redis, prefix: string): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) result.set(key, await redis.ttl(key));
  } while (cursor !== '0');
  return result;
}

describe('Redis layout', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(requireRedisUrl());
  });
  afterAll(() => redis.disconnect());

  it('keys revocations by jti under the user hash tag, with the TTL of the token', async () => {
    const prefix = `layout${randomUUID().slice(0, 8)}`;
    const store = new RedisRevocationStore({ client: redis, keyPrefix: prefix, expiryGraceSeconds: 5 });
    const userId = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    await store.revoke({ userId, jti: 'jti-a', expiresAt: now + 100 });
    const keys = await keysWithTtl(redis, prefix);
    expect([...keys.keys()]).toEqual([`${prefix}:v1:{${userId}}:r`]);
    const ttl = keys.get(`${prefix}:v1:{${userId}}:r`)!;
    // Remaining lifetime (100 s) + grace (5 s), not the configured token lifetime.
    expect(ttl).toBeGreaterThanOrEqual(103);
    expect(ttl).toBeLessThanOrEqual(107);
    expect(await redis.zscore(`${prefix}:v1:{${userId}}:r`, 'jti-a')).toBe(String(now + 105));
  });

  it('extends a user key to its longest-lived entry and prunes expired ones', async () => {
    const prefix = `layout${randomUUID().slice(0, 8)}`;
    const store = new RedisRevocationStore({ client: redis, keyPrefix: prefix, expiryGraceSeconds: 0 });
    const userId = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const key = `${prefix}:v1:{${userId}}:r`;
    await store.revoke({ userId, jti: 'long', expiresAt: now + 500 });
    await store.revoke({ userId, jti: 'short', expiresAt: now + 10 });
    expect(await redis.ttl(key)).toBeGreaterThan(490);
    await redis.zadd(key, now - 100, 'stale');
    await store.revoke({ userId, jti: 'another', expiresAt: now + 20 });
    expect(await redis.zrange(key, 0, -1)).toEqual(['short', 'another', 'long']);
  });

  it('signing up, signing in and revoking leave no key without a TTL but the user records', async () => {
    const server: TestServer = await startTestServer({ redisUrl: requireRedisUrl() });
    try {
      const prefix = server.config.redis.keyPrefix;
      const alice = await server.signUp();
      await server.signIn(alice.username, alice.password);
      await server.graphql('mutation { cancelToken }', { token: alice.token });
      const keys = await keysWithTtl(redis, prefix);
      const permanent = [...keys].filter(([, ttl]) => ttl === -1).map(([k]) => k).sort();
      expect(permanent).toEqual([`${prefix}:v1:n:{${alice.username.toLowerCase()}}`, `${prefix}:v1:{${alice.userId}}:u`].sort());
      const expiring = [...keys].filter(([, ttl]) => ttl > 0).map(([k]) => k).sort();
      // The sign-in and sign-up limiters' counters of this client address (their window as TTL; see docs/security.md).
      // Successful sign-ins per username (an HMAC of it, never the name) and per address (issue 18).
      expect(expiring.filter((k) => k.startsWith(`${prefix}:v1:signin:su:`))).toHaveLength(1);
      expect(expiring.filter((k) => !k.startsWith(`${prefix}:v1:signin:su:`))).toEqual(
        [
          `${prefix}:v1:{${alice.userId}}:r`,
          `${prefix}:v1:{${alice.userId}}:t`,
          // Sessions: the index and the records, expiring with the last session.
          `${prefix}:v1:{${alice.userId}}:s`,
          `${prefix}:v1:{${alice.userId}}:sd`,
          `${prefix}:v1:{${alice.userId}}:su`,
          `${prefix}:v1:signin:a:127.0.0.1`,
          `${prefix}:v1:signin:sa:127.0.0.1`,
          `${prefix}:v1:signup:a:127.0.0.1`,
        ].sort(),
      );
      // No raw token anywhere in the keyspace of this server.
      for (const key of keys.keys()) expect(key).not.toContain(alice.token.split('.')[2]);
      const stored = await redis.hgetall(`${prefix}:v1:{${alice.userId}}:u`);
      expect(stored.passwordHash).toMatch(/^scrypt\$/);
      expect(JSON.stringify(stored)).not.toContain(alice.password);
    } finally {
      await server.close();
    }
  });
});
