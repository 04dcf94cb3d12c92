/**
 * Micro-benchmarks in the bench process: JWT verification, and what one revocation check
 * costs through each store (the Redis hop on loopback vs the embedded store vs the cache).
 */
import { createHmac, createSecretKey, timingSafeEqual, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { TokenRef } from '../../src/auth/token.js';
import { createTokenIssuer } from '../../src/auth/token-issuer.js';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { CachedRevocationStore } from '../../src/revocation/cached-store.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { createRedisClient } from '../../src/redis/redis-client.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';
import { median } from './load.js';
import { whenReady } from './redis.js';

/** One measured variant: µs per operation, median of the batches, and every batch. */
export interface MicroResult {
  name: string;
  note: string;
  usPerOp: number;
  batches: number[];
}

/** A variant to measure: one call is one operation. */
interface Variant {
  name: string;
  note: string;
  iterations: number;
  /** Operations in flight at once (async variants). */
  concurrency?: number;
  fn: (i: number) => unknown;
}

async function runBatch(variant: Variant, count: number): Promise<number> {
  const started = process.hrtime.bigint();
  if (!variant.concurrency) {
    for (let i = 0; i < count; i += 1) variant.fn(i);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < count) await variant.fn(next++);
    };
    await Promise.all(Array.from({ length: variant.concurrency }, worker));
  }
  return Number(process.hrtime.bigint() - started) / 1000 / count;
}

/**
 * Measures the variants batch by batch in turn (A B C A B C ...), so that a burst of noise
 * from other processes hits every variant alike rather than spoiling one of them.
 */
export async function measureInterleaved(variants: Variant[], batches: number): Promise<MicroResult[]> {
  for (const v of variants) await runBatch(v, Math.min(v.iterations, 2000)); // warm-up (JIT)
  const times = variants.map(() => [] as number[]);
  for (let b = 0; b < batches; b += 1) {
    for (const [k, v] of variants.entries()) (times[k] as number[]).push(await runBatch(v, v.iterations));
  }
  return variants.map((v, k) => ({ name: v.name, note: v.note, usPerOp: median(times[k] as number[]), batches: times[k] as number[] }));
}

/** JWT verification: our verifier (KeyObject built once) next to jsonwebtoken's paths. */
export function jwtMicro(options: { secret: string; smoke: boolean }): Promise<MicroResult[]> {
  const { secret } = options;
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const claims = { issuer: 'graphql-revoke', audience: 'graphql-revoke' };
  const issuer = createTokenIssuer({ key, algorithm: 'HS256', ...claims, ttlSeconds: 900 });
  const tokens = Array.from({ length: 1000 }, (_, i) => issuer.issue({ id: randomUUID(), username: `user${i}` }).token);
  const token = (i: number) => tokens[i % tokens.length] as string;
  // Every call a full verification (cacheSize 0), as for a token the server sees for the first time.
  const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...claims, cacheSize: 0 });
  const remembering = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...claims });
  const n = options.smoke ? 2000 : 10_000;
  const batches = options.smoke ? 3 : 15;
  const verifyOptions = { algorithms: ['HS256' as const], ...claims };
  const results = measureInterleaved(
    [
      { name: 'createTokenVerifier (KeyObject)', note: "the project, a token's first verification: signature, alg pinned, every claim", iterations: n, fn: (i) => verifier.verify(token(i)) },
      {
        name: 'createTokenVerifier, a token seen before',
        note: 'JWT_VERIFY_CACHE_SIZE (default 10,000): map lookup, signature compared in constant time, exp/nbf/iat checked',
        iterations: n,
        fn: (i) => remembering.verify(token(i)),
      },
      { name: 'jsonwebtoken.verify, KeyObject', note: 'the library alone, key built once', iterations: n, fn: (i) => jwt.verify(token(i), key, verifyOptions) },
      {
        name: 'jsonwebtoken.verify, string secret',
        note: 'the string-secret path (key rebuilt on every call)',
        iterations: options.smoke ? 50 : 300,
        fn: (i) => jwt.verify(token(i), secret, verifyOptions),
      },
      {
        name: 'node:crypto HMAC + JSON.parse',
        note: 'floor: what HS256 verification needs at least',
        iterations: n,
        fn: (i) => {
          const t = token(i);
          const dot = t.lastIndexOf('.');
          const mac = createHmac('sha256', key).update(t.slice(0, dot)).digest();
          const signature = Buffer.from(t.slice(dot + 1), 'base64url');
          if (signature.length !== mac.length || !timingSafeEqual(mac, signature)) throw new Error('bad signature');
          return JSON.parse(Buffer.from(t.slice(t.indexOf('.') + 1, dot), 'base64url').toString('utf8'));
        },
      },
    ],
    batches,
  );
  return results;
}

/**
 * The cost of one revocation check through each store: one at a time (latency: the Redis
 * hop) and 64 at a time (many lookups in flight: the store sends those of one event-loop
 * turn in one socket write).
 */
export async function storeMicro(options: { redisUrl: string; smoke: boolean }): Promise<{ checks: MicroResult[]; autoPipelining: boolean }> {
  const client = createRedisClient({ url: options.redisUrl });
  await whenReady(client);
  const keyPrefix = `benchmicro${process.pid}`;
  const redisStore = new RedisRevocationStore({ client, keyPrefix });
  const memoryStore = new MemoryRevocationStore({ sweepIntervalMs: 0 });
  const cachedRedis = new CachedRevocationStore({ inner: new RedisRevocationStore({ client, keyPrefix }) });
  const cachedTtl = new CachedRevocationStore({ inner: new RedisRevocationStore({ client, keyPrefix }), notRevokedTtlMs: 60_000 });
  const now = Math.floor(Date.now() / 1000);
  const valid: TokenRef[] = Array.from({ length: 1000 }, () => ({ userId: randomUUID(), jti: randomUUID(), expiresAt: now + 900 }));
  const revoked: TokenRef[] = valid.slice(0, 100).map((t) => ({ ...t, jti: `${t.jti}r` }));
  for (const store of [redisStore, memoryStore] as RevocationStore[]) {
    await Promise.all(revoked.map((t) => store.revoke(t)));
  }
  const pick = (list: TokenRef[], i: number) => list[i % list.length] as TokenRef;
  const n = options.smoke ? 500 : 3000;
  const batches = options.smoke ? 3 : 9;
  let results: MicroResult[];
  try {
    results = await measureInterleaved(
      [
        { name: 'Redis (loopback), 1 in flight', note: 'one ZMSCORE round trip: the hop', iterations: n, concurrency: 1, fn: (i) => redisStore.isRevoked(pick(valid, i)) },
        { name: 'Redis (loopback), 64 in flight', note: 'time per check with many lookups in flight', iterations: n, concurrency: 64, fn: (i) => redisStore.isRevoked(pick(valid, i)) },
        { name: 'embedded store (REDIS_URL unset)', note: 'a Map lookup', iterations: n, concurrency: 1, fn: (i) => memoryStore.isRevoked(pick(valid, i)) },
        {
          name: 'cache, revoked token (always on)',
          note: 'answered in process until the token expires',
          iterations: n,
          concurrency: 1,
          fn: (i) => cachedRedis.isRevoked(pick(revoked, i)),
        },
        {
          name: 'Redis, revoked token, no cache',
          note: 'what a replayed revoked token cost before the cache',
          iterations: n,
          concurrency: 1,
          fn: (i) => redisStore.isRevoked(pick(revoked, i)),
        },
        {
          name: 'cache, valid token, REVOCATION_CACHE_TTL_MS > 0',
          note: 'opt-in: answered in process within the window',
          iterations: n,
          concurrency: 1,
          fn: (i) => cachedTtl.isRevoked(pick(valid, i)),
        },
      ],
      batches,
    );
  } finally {
    client.disconnect();
    await memoryStore.close();
  }
  // The production client's setting (src/redis/redis-client.ts), for the report.
  return { checks: results, autoPipelining: client.options.enableAutoPipelining === true };
}
