/**
 * Two API processes (`npx tsx src/server/main.ts`) on one Redis, under concurrent load:
 * once one instance has answered a cancel mutation, no request that starts afterwards
 * gets data from either instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { loadMe, ME, startApiProcess, within, type ApiProcess } from './api-process.js';

describe('several instances on one Redis', () => {
  let redis: RedisServerProcess;
  let apis: ApiProcess[];
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: true });
    apis = await Promise.all([0, 1].map(() => startApiProcess({ REDIS_URL: redis.url }, 'npx')));
  }, 90_000);

  afterAll(async () => {
    console.info('[multi-instance] measured:', JSON.stringify(figures));
    await Promise.all((apis ?? []).map((api) => api.kill()));
    await redis?.cleanup();
  });

  async function revokeUnderLoad(token: string, mutation: string, via: ApiProcess, label: string) {
    // The token works on both instances first.
    for (const api of apis) expect((await api.graphql(ME, { token })).status).toBe(200);
    const traffic = loadMe(apis, token, 3);
    await within('load on both instances', 5000, async () => new Set(traffic.samples.map((s) => s.instance)).size === 2 && traffic.samples.length >= 30);
    const sentAt = performance.now();
    const answer = await via.graphql(mutation, { token });
    const answeredAt = performance.now();
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await traffic.stop();

    const after = traffic.samples.filter((s) => s.start > answeredAt);
    // Answered before the mutation was even sent: served. (Those in between may go either way.)
    const before = traffic.samples.filter((s) => s.end < sentAt);
    figures[`${label}Requests`] = traffic.samples.length;
    figures[`${label}RequestsAfterAnswer`] = after.length;
    expect(before.length).toBeGreaterThan(10);
    expect(before.every((s) => s.status === 200 && s.data)).toBe(true);
    expect(after.filter((s) => s.instance === 0).length).toBeGreaterThan(10);
    expect(after.filter((s) => s.instance === 1).length).toBeGreaterThan(10);
    // The very next request, on either instance, is refused: none gets data.
    expect(after.filter((s) => s.data || s.status !== 401 || s.reason !== 'TOKEN_REVOKED')).toEqual([]);
    return answer;
  }

  it('cancelToken on one instance: no request that started after its answer gets data, on either instance', async () => {
    const { token } = await apis[0]!.signUp('multi_one');
    const answer = await revokeUnderLoad(token, 'mutation { cancelToken }', apis[1]!, 'cancelToken');
    expect(answer.body.data).toEqual({ cancelToken: true });
  });

  it('cancelAllMyTokens on one instance: every token of the user is refused by every instance right after', async () => {
    const { token: first } = await apis[0]!.signUp('multi_all');
    const second = await apis[1]!.signIn('multi_all');
    // Load with the first token, revoke with the second, through the other instance.
    const traffic = loadMe(apis, first, 3);
    await within('load on both instances', 5000, async () => traffic.samples.length >= 30);
    const answer = await apis[0]!.graphql('mutation { cancelAllMyTokens }', { token: second });
    const answeredAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await traffic.stop();
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({ cancelAllMyTokens: 2 });
    const after = traffic.samples.filter((s) => s.start > answeredAt);
    figures.cancelAllRequestsAfterAnswer = after.length;
    expect(after.length).toBeGreaterThan(20);
    expect(after.filter((s) => s.data || s.status !== 401 || s.reason !== 'TOKEN_REVOKED')).toEqual([]);
    for (const api of apis) {
      expect((await api.graphql(ME, { token: second })).status).toBe(401);
    }
  });
});
