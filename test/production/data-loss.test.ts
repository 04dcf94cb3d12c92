/**
 * Redis losing the data behind revocations while the API runs (issue 10): FLUSHALL, a
 * restart without persistence. Every instance notices within about a second, refuses every
 * token issued before the loss (the revoked one included), serves new sign-ins at once, and
 * an instance started after the loss refuses the old tokens too (the cutoff lives in Redis).
 * Cluster and Sentinel: data-loss-topologies.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCommand, startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { CANCEL, metricValue, refused, served, startApiProcess, within, type ApiProcess } from './api-process.js';

/** The detection bound asserted; the design target is about one second (figures are printed). */
const DETECTION_BOUND_MS = 3000;

describe('Redis data loss on a single node (REDIS_DATA_LOSS=refuse-old-tokens, the default)', () => {
  let redis: RedisServerProcess;
  let a: ApiProcess;
  let b: ApiProcess;
  let late: ApiProcess | undefined;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    // No persistence: a restart comes back empty, as an operator's cache-style Redis would.
    redis = await startRedisServer({ appendonly: false });
    [a, b] = await Promise.all([startApiProcess({ REDIS_URL: redis.url }), startApiProcess({ REDIS_URL: redis.url })]);
  }, 60_000);

  afterAll(async () => {
    console.info('[data-loss single] measured (ms):', JSON.stringify(figures));
    await Promise.all([a?.kill(), b?.kill(), late?.kill()]);
    await redis?.cleanup();
  });

  it('after FLUSHALL: the revoked token and every older token are refused by every instance within about a second; a new sign-in works at once', async () => {
    const { token: revoked } = await a.signUp('loss_victim');
    const older = await a.signIn('loss_victim');
    expect((await a.graphql(CANCEL, { token: revoked })).body.data.cancelToken).toBe(true);
    // B never looked the revoked token up, so no cache of B's remembers it: only Redis does.
    expect(await served(b, older)).toBe(true);
    expect(await served(a, older)).toBe(true);

    await redisCommand(redis, 'FLUSHALL');
    const flushed = performance.now();
    await within('B refuses the revoked token after FLUSHALL', DETECTION_BOUND_MS, () => refused(b, revoked), 20);
    figures.flushallRevokedRefusedOnB = Math.round(performance.now() - flushed);
    await within('A refuses an older token after FLUSHALL', DETECTION_BOUND_MS, () => refused(a, older), 20);
    figures.flushallOlderRefusedOnA = Math.round(performance.now() - flushed);
    await within('B refuses an older token after FLUSHALL', DETECTION_BOUND_MS, () => refused(b, older), 20);
    figures.flushallOlderRefusedOnB = Math.round(performance.now() - flushed);
    expect(await refused(a, revoked)).toBe(true);

    // A new sign-in (the user records went with the data: a new sign-up), on either
    // instance, is served by both at once.
    const { token: fresh } = await b.signUp('after_flushall');
    expect(await served(a, fresh)).toBe(true);
    expect(await served(b, fresh)).toBe(true);
    const freshA = await a.signIn('after_flushall');
    expect(await served(b, freshA)).toBe(true);

    // Told at error level, with the shard, and counted.
    const lines = [...a.logs(), ...b.logs()].filter((line) => line.level >= 50 && /lost the data behind revocations/.test(line.msg));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]!.shard).toMatch(/^127\.0\.0\.1:\d+$/);
    const metrics = [await a.metrics(), await b.metrics()];
    const losses = metrics.map((text) => metricValue(text, `graphql_revoke_redis_data_loss_total{shard="${lines[0]!.shard}"}`) ?? 0);
    expect(losses.reduce((x, y) => x + y)).toBeGreaterThanOrEqual(1);
    for (const text of metrics) expect(metricValue(text, 'graphql_revoke_token_cutoff_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);

    // An instance started after the loss reads the cutoff from Redis before it serves.
    late = await startApiProcess({ REDIS_URL: redis.url });
    expect(await refused(late, revoked)).toBe(true);
    expect(await refused(late, older)).toBe(true);
    expect(await served(late, fresh)).toBe(true);
    expect((await late.get('/readyz')).status).toBe(200);
  });

  it('after a restart without persistence: tokens issued before it are refused everywhere, new sign-ins work', async () => {
    const { token: revoked } = await a.signUp('restart_victim');
    const older = await b.signIn('restart_victim');
    expect((await b.graphql(CANCEL, { token: revoked })).body.data.cancelToken).toBe(true);
    expect(await served(a, older)).toBe(true);

    await redis.restart();
    const restarted = performance.now();
    for (const api of [a, b, late!]) {
      await within('an older token refused after the restart', DETECTION_BOUND_MS, () => refused(api, older), 20);
    }
    figures.restartOlderRefusedEverywhere = Math.round(performance.now() - restarted);
    // `late` never looked the revoked token up: its refusal comes from the cutoff alone.
    for (const api of [a, b, late!]) expect(await refused(api, revoked)).toBe(true);
    // The user records went with the data: a new account, served everywhere.
    const { token: fresh } = await a.signUp('after_restart');
    for (const api of [a, b, late!]) expect(await served(api, fresh)).toBe(true);
  });
});

describe('REDIS_DATA_LOSS=ignore', () => {
  let redis: RedisServerProcess;
  let api: ApiProcess;

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    api = await startApiProcess({ REDIS_URL: redis.url, REDIS_DATA_LOSS: 'ignore' });
  }, 60_000);

  afterAll(async () => {
    await api?.kill();
    await redis?.cleanup();
  });

  it('logs and counts the loss but refuses nothing: the trade-off the setting names', async () => {
    const { token } = await api.signUp('ignore_user');
    const revoked = await api.signIn('ignore_user');
    await api.graphql(CANCEL, { token: revoked });
    expect(await refused(api, revoked)).toBe(true);
    expect(api.logs().some((line) => line.level === 40 && /REDIS_DATA_LOSS=ignore/.test(line.msg))).toBe(true);
    await redisCommand(redis, 'FLUSHALL');
    await within('the loss logged', DETECTION_BOUND_MS, async () => api.logs().some((line) => line.level >= 50 && /REDIS_DATA_LOSS=ignore/.test(line.msg)));
    // The in-process cache still remembers this instance's own revocation; the other token works.
    expect(await served(api, token)).toBe(true);
    expect(metricValue(await api.metrics(), 'graphql_revoke_token_cutoff_seconds')).toBe(0);
  });
});
