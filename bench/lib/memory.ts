/**
 * Redis memory per revoked token: `used_memory` (INFO memory) before and after N
 * revocations through RedisRevocationStore, each distribution on a fresh redis-server of
 * its own (so nothing is ever flushed).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { randomTokenId } from '../../src/auth/token-issuer.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { info, startBenchRedis, usedMemory } from './redis.js';

/** A way of spreading N revocations over users. */
export interface Distribution {
  id: string;
  label: string;
  /** How many revoked tokens each user has (sums to N). */
  perUser(total: number, random: () => number): number[];
}

/** One measured distribution. */
export interface MemoryResult {
  id: string;
  label: string;
  operation: 'revoke' | 'recordIssued';
  tokens: number;
  users: number;
  keys: number;
  bytes: number;
  bytesPerToken: number;
  /** Keys without a TTL (must be 0: every entry expires). */
  keysWithoutTtl: number;
  /** Encodings of the keys (listpack while <= zset-max-listpack-entries entries). */
  encodings: Record<string, number>;
}

/** A small deterministic PRNG (mulberry32): the same distribution on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fill(total: number, draw: () => number): number[] {
  const counts: number[] = [];
  let left = total;
  while (left > 0) {
    const n = Math.min(left, draw());
    counts.push(n);
    left -= n;
  }
  return counts;
}

/**
 * The mix the target is quoted for. Over one token lifetime (15 min), the users who revoke:
 * 70% sign out once (1 token); 20% sign out of 2-3 sessions or cancel all of 2-3 live
 * tokens; 8% cancel all of 4-10; 2% (scripts, many devices) 11-100. Mean ~2.9 per user.
 */
export const REALISTIC: Distribution = {
  id: 'realistic',
  label: 'mixed: 70% of users 1, 20% 2-3, 8% 4-10, 2% 11-100 revoked tokens',
  perUser: (total, random) =>
    fill(total, () => {
      const r = random();
      const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
      if (r < 0.7) return 1;
      if (r < 0.9) return between(2, 3);
      if (r < 0.98) return between(4, 10);
      return between(11, 100);
    }),
};

/** Worst case per token: every revocation its own user (one key each). */
export const ONE_PER_USER: Distribution = {
  id: 'one-per-user',
  label: 'worst case per token: 1 revoked token per user',
  perUser: (total) => Array.from({ length: total }, () => 1),
};

/** Worst case of one user: every revocation in one key, past the listpack threshold. */
export const ONE_USER: Distribution = {
  id: 'one-user',
  label: 'worst case of one user: all tokens of a single user',
  perUser: (total) => [total],
};

/** Measures one distribution on a fresh redis-server. */
export async function measureMemory(
  distribution: Distribution,
  total: number,
  operation: 'revoke' | 'recordIssued' = 'revoke',
): Promise<MemoryResult> {
  const redis = await startBenchRedis();
  const client = new Redis(redis.url, { enableAutoPipelining: true, maxRetriesPerRequest: 0 });
  try {
    const store = new RedisRevocationStore({ client, keyPrefix: 'gr' });
    const counts = distribution.perUser(total, seededRandom(20261129));
    const now = Math.floor(Date.now() / 1000);
    const random = seededRandom(7);
    await sleep(100);
    const before = await usedMemory(client);
    let inFlight: Promise<void>[] = [];
    for (const count of counts) {
      const userId = randomUUID();
      for (let i = 0; i < count; i += 1) {
        // Lifetimes spread over 15 minutes, as live tokens' are.
        const token = { userId, jti: randomTokenId(), expiresAt: now + 60 + Math.floor(random() * 840) };
        inFlight.push(operation === 'revoke' ? store.revoke(token) : store.recordIssued(token));
        if (inFlight.length >= 500) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
    }
    await Promise.all(inFlight);
    const after = await usedMemory(client);
    const keys = Number((await info(client, 'keyspace')).get('db0')?.match(/keys=(\d+)/)?.[1] ?? 0);
    // Every key must expire; and which encoding the sets ended up in.
    let keysWithoutTtl = 0;
    const encodings: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      const pipeline = client.pipeline();
      for (const key of batch) pipeline.ttl(key).object('ENCODING', key);
      const replies = (await pipeline.exec()) ?? [];
      for (let i = 0; i < replies.length; i += 2) {
        if (Number(replies[i]?.[1]) < 0) keysWithoutTtl += 1;
        const encoding = String(replies[i + 1]?.[1]);
        encodings[encoding] = (encodings[encoding] ?? 0) + 1;
      }
    } while (cursor !== '0');
    return {
      id: distribution.id,
      label: distribution.label,
      operation,
      tokens: total,
      users: counts.length,
      keys,
      bytes: after - before,
      bytesPerToken: (after - before) / total,
      keysWithoutTtl,
      encodings,
    };
  } finally {
    client.disconnect();
    await redis.stop();
  }
}
