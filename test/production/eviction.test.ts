/**
 * Redis' eviction policy and a full Redis (issue 10), with the real API process:
 * production refuses to start on an evicting policy unless REDIS_ALLOW_EVICTION_POLICY
 * allows it (then it warns at every start); with noeviction, memory pressure makes writes
 * fail with 503 (never a silent success), evicts nothing, and a revoked token stays refused.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfo, redisCommand, startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { CANCEL, ME, metricValue, startApiProcess, type ApiProcess } from './api-process.js';

describe('eviction policy at start', () => {
  let redis: RedisServerProcess;
  let allowed: ApiProcess | undefined;

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false, args: ['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru'] });
  });

  afterAll(async () => {
    await allowed?.kill();
    await redis?.cleanup();
  });

  it('refuses to start in production on volatile-lru, saying what to do', async () => {
    const failure = await startApiProcess({ REDIS_URL: redis.url }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(failure!.message).toMatch(/API process exited before it answered \(1\)/);
    expect(failure!.message).toMatch(/maxmemory-policy is not noeviction on 127\.0\.0\.1:\d+ \(volatile-lru\)/);
    expect(failure!.message).toMatch(/REDIS_ALLOW_EVICTION_POLICY/);
  });

  it('starts when REDIS_ALLOW_EVICTION_POLICY allows it, with a warning', async () => {
    allowed = await startApiProcess({ REDIS_URL: redis.url, REDIS_ALLOW_EVICTION_POLICY: 'volatile-lru' });
    expect((await allowed.get('/readyz')).status).toBe(200);
    const warnings = allowed.logs().filter((line) => line.level === 40 && /volatile-lru is allowed by REDIS_ALLOW_EVICTION_POLICY/.test(line.msg));
    expect(warnings).toHaveLength(1);
  });
});

describe('a full Redis with noeviction', () => {
  let redis: RedisServerProcess;
  let a: ApiProcess;
  let b: ApiProcess;
  let maxmemory = 0;
  let fillerClient: Redis | undefined;

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    const used = Number(parseInfo(await redisCommand(redis, 'INFO', ['memory'])).get('used_memory'));
    // A tiny limit: about 3 MB above what the empty server uses (the API's connections take some).
    maxmemory = used + 3 * 1024 * 1024;
    await redisCommand(redis, 'CONFIG', ['SET', 'maxmemory', String(maxmemory)]);
    [a, b] = await Promise.all([startApiProcess({ REDIS_URL: redis.url }), startApiProcess({ REDIS_URL: redis.url })]);
  }, 60_000);

  afterAll(async () => {
    fillerClient?.disconnect();
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.cleanup();
  });

  it('writes fail with 503 AUTH_UNAVAILABLE, nothing is evicted, the revoked token stays refused, reads go on', async () => {
    const { token: revoked } = await a.signUp('full_victim');
    const live = await a.signIn('full_victim');
    expect((await a.graphql(CANCEL, { token: revoked })).body.data.cancelToken).toBe(true);

    // Fill Redis to its limit with keys of no TTL, as user records would: big values, then
    // smaller ones until even those are refused, on one connection kept open (closing one
    // would free its buffers and bring Redis back under the limit).
    const filler = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    let filled = 0;
    try {
      for (const size of [64 * 1024, 4096, 256, 16]) {
        for (let refusals = 0; refusals < 3 && filled < 10_000; ) {
          try {
            await filler.set(`filler:${filled}`, 'x'.repeat(size));
            filled += 1;
          } catch (error) {
            expect(String(error)).toMatch(/OOM/);
            refusals += 1;
          }
        }
      }
    } finally {
      fillerClient = filler;
    }
    expect(filled).toBeGreaterThan(10);
    expect(filled).toBeLessThan(10_000);
    // Redis frees idle clients' buffers every 100 ms, which could bring it a few KB under the
    // limit again between two requests: put the limit 256 KB under what it uses, so it stays full.
    const used = Number(parseInfo(await filler.info('memory')).get('used_memory'));
    maxmemory = used - 256 * 1024;
    await filler.config('SET', 'maxmemory', String(maxmemory));

    const cancel = await a.graphql(CANCEL, { token: live });
    expect(cancel.status).toBe(503);
    expect(cancel.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    const signUp = await b.graphql('mutation { signUp(username: "too_late", password: "long enough pw") { accessToken } }');
    expect(signUp.status).toBe(503);
    expect(signUp.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    const signIn = await b.graphql('mutation { signIn(username: "full_victim", password: "correct horse battery") { accessToken } }');
    expect(signIn.status).toBe(503);

    // B never looked the revoked token up: Redis still has the revocation.
    const onB = await b.graphql(ME, { token: revoked });
    expect(onB.status).toBe(401);
    expect(onB.body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');
    expect((await b.graphql(ME, { token: live })).status).toBe(200);
    expect(parseInfo(await redisCommand(redis, 'INFO', ['stats'])).get('evicted_keys')).toBe('0');

    // The gauge shows it full.
    const metrics = await a.metrics();
    const node = `127.0.0.1:${redis.port}`;
    expect(metricValue(metrics, `graphql_revoke_redis_memory_max_bytes{node="${node}"}`)).toBe(maxmemory);
    expect(metricValue(metrics, `graphql_revoke_redis_memory_used_ratio{node="${node}"}`)).toBeGreaterThan(0.95);
    expect(metricValue(metrics, `graphql_revoke_redis_memory_used_bytes{node="${node}"}`)).toBeGreaterThan(maxmemory * 0.95);

    // Memory back: the same revocation goes through.
    await fillerClient!.del(...Array.from({ length: filled }, (_, i) => `filler:${i}`));
    const retried = await a.graphql(CANCEL, { token: live });
    expect(retried.status).toBe(200);
    expect(retried.body.data.cancelToken).toBe(true);
    expect((await b.graphql(ME, { token: live })).status).toBe(401);
  });

  it('/readyz reads the policy again: changed to volatile-lru at run time, the instance is unready and says why', async () => {
    expect((await a.get('/readyz')).status).toBe(200);
    await redisCommand(redis, 'CONFIG', ['SET', 'maxmemory-policy', 'volatile-lru']);
    try {
      const ready = await a.get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'unavailable', reason: `Redis maxmemory-policy is unsafe on 127.0.0.1:${redis.port} (volatile-lru)` });
    } finally {
      await redisCommand(redis, 'CONFIG', ['SET', 'maxmemory-policy', 'noeviction']);
    }
    expect((await a.get('/readyz')).status).toBe(200);
  });
});
