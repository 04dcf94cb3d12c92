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
import { createRedisClient } from '../../src/revocation/redis-client.js';
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

function measureSync(name: string, note: string, iterations: number, batches: number, fn: (i: number) => unknown): MicroResult {
  for (let i = 0; i < Math.min(iterations, 2000); i += 1) fn(i); // warm-up (JIT)
  const results: number[] = [];
  for (let b = 0; b < batches; b += 1) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i += 1) fn(i);
    results.push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
  }
  return { name, note, usPerOp: median(results), batches: results };
}

async function measureAsync(
  name: string,
  note: string,
  iterations: number,
  batches: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<MicroResult> {
  const runBatch = async (count: number) => {
    let next = 0;
    const worker = async () => {
      while (next < count) await fn(next++);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  await runBatch(Math.min(iterations, 2000));
  const results: number[] = [];
  for (let b = 0; b < batches; b += 1) {
    const started = process.hrtime.bigint();
    await runBatch(iterations);
    results.push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
  }
  return { name, note, usPerOp: median(results), batches: results };
}

/** JWT verification: our verifier (KeyObject built once) next to jsonwebtoken's paths. */
export function jwtMicro(options: { secret: string; smoke: boolean }): MicroResult[] {
  const { secret } = options;
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const claims = { issuer: 'graphql-revoke', audience: 'graphql-revoke' };
  const issuer = createTokenIssuer({ key, algorithm: 'HS256', ...claims, ttlSeconds: 900 });
  const tokens = Array.from({ length: 1000 }, (_, i) => issuer.issue({ id: randomUUID(), username: `user${i}` }).token);
  const token = (i: number) => tokens[i % tokens.length] as string;
  const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...claims });
  const n = options.smoke ? 2000 : 20_000;
  const batches = options.smoke ? 3 : 9;
  const verifyOptions = { algorithms: ['HS256' as const], ...claims };
  const results = [
    measureSync('createTokenVerifier (KeyObject)', 'the project: signature, alg pinned, every claim', n, batches, (i) => verifier.verify(token(i))),
    measureSync('jsonwebtoken.verify, KeyObject', 'the library alone, key built once', n, batches, (i) => jwt.verify(token(i), key, verifyOptions)),
    measureSync('jsonwebtoken.verify, string secret', 'the string-secret path (key rebuilt on every call)', options.smoke ? 50 : 500, batches, (i) =>
      jwt.verify(token(i), secret, verifyOptions),
    ),
    measureSync('node:crypto HMAC + JSON.parse', 'floor: what HS256 verification needs at least', n, batches, (i) => {
      const t = token(i);
      const dot = t.lastIndexOf('.');
      const mac = createHmac('sha256', key).update(t.slice(0, dot)).digest();
      const signature = Buffer.from(t.slice(dot + 1), 'base64url');
      if (signature.length !== mac.length || !timingSafeEqual(mac, signature)) throw new Error('bad signature');
      return JSON.parse(Buffer.from(t.slice(t.indexOf('.') + 1, dot), 'base64url').toString('utf8'));
    }),
  ];
  return results;
}

/**
 * The cost of one revocation check through each store: one at a time (latency: the Redis
 * hop) and 64 at a time (what auto-pipelining buys under load).
 */
export async function storeMicro(options: { redisUrl: string; smoke: boolean }): Promise<MicroResult[]> {
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
  const n = options.smoke ? 500 : 10_000;
  const batches = options.smoke ? 3 : 7;
  const results: MicroResult[] = [];
  try {
    results.push(await measureAsync('Redis (loopback), 1 in flight', 'one ZSCORE round trip: the hop', n, batches, 1, (i) => redisStore.isRevoked(pick(valid, i))));
    results.push(await measureAsync('Redis (loopback), 64 in flight', 'auto-pipelined: CPU per check under load', n, batches, 64, (i) => redisStore.isRevoked(pick(valid, i))));
    results.push(await measureAsync('embedded store (REDIS_URL unset)', 'a Map lookup', n, batches, 1, (i) => memoryStore.isRevoked(pick(valid, i))));
    results.push(
      await measureAsync('cache, revoked token (always on)', 'answered in process until the token expires', n, batches, 1, (i) =>
        cachedRedis.isRevoked(pick(revoked, i)),
      ),
    );
    results.push(
      await measureAsync('Redis, revoked token, no cache', 'what a replayed revoked token cost before the cache', n, batches, 1, (i) =>
        redisStore.isRevoked(pick(revoked, i)),
      ),
    );
    results.push(
      await measureAsync('cache, valid token, REVOCATION_CACHE_TTL_MS > 0', 'opt-in: answered in process within the window', n, batches, 1, (i) =>
        cachedTtl.isRevoked(pick(valid, i)),
      ),
    );
  } finally {
    client.disconnect();
    await memoryStore.close();
  }
  return results;
}
