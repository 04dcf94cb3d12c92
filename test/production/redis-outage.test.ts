/**
 * One API process (src/server/main.ts, NODE_ENV=production) through a Redis life cycle:
 * absent at start, started, SIGSTOPped (a Redis that does not answer), SIGKILLed under
 * load, restarted from its AOF. Then what the logs and /metrics (on METRICS_PORT) recorded of it all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../helpers/free-port.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { httpRequest } from '../helpers/test-server.js';
import { CANCEL, claimsOf, loadMe, ME, metricValue, offlineToken, startApiProcess, within, type ApiProcess } from './api-process.js';

const PASSWORD = 'outage-password-42';

describe('Redis outages (one API process)', () => {
  let redisPort: number;
  let redis: RedisServerProcess | undefined;
  let api: ApiProcess;
  let tokenA: string;
  let tokenB: string;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    redisPort = await getFreePort();
    // Nothing listens on redisPort yet: Redis is absent at start.
    api = await startApiProcess({ REDIS_URL: `redis://127.0.0.1:${redisPort}`, LOG_LEVEL: 'debug', METRICS_PORT: String(await getFreePort()) });
  });

  afterAll(async () => {
    console.info('[redis-outage] measured (ms):', JSON.stringify(figures));
    await api?.kill();
    await redis?.cleanup();
  });

  it('starts without Redis: /healthz 200, /readyz 503, anonymous fields served, tokens and sign-in 503 AUTH_UNAVAILABLE', async () => {
    const health = await api.get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });

    const ready = await api.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('unavailable');

    const anonymous = await api.graphql('{ __typename me { id } }');
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.data).toEqual({ __typename: 'Query', me: null });
    expect(anonymous.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });

    const started = performance.now();
    const withToken = await api.graphql(ME, { token: offlineToken('user-offline') });
    figures.tokenRequestWithRedisAbsent = Math.round(performance.now() - started);
    expect(withToken.status).toBe(503);
    expect(withToken.body.data).toBeUndefined();
    expect(withToken.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    expect(withToken.headers.get('retry-after')).toBe('1');
    expect(figures.tokenRequestWithRedisAbsent).toBeLessThan(1000);

    const signUp = await api.graphql('mutation { signUp(username: "nobody_yet", password: "long enough pw") { accessToken } }');
    expect(signUp.status).toBe(503);
    expect(signUp.body.data).toBeNull();
    expect(signUp.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    expect(signUp.body.errors[0].message).toBe('Authentication is temporarily unavailable. Retry shortly.');

    const signIn = await api.graphql('mutation { signIn(username: "nobody_yet", password: "long enough pw") { accessToken } }');
    expect(signIn.status).toBe(503);
    expect(signIn.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
  });

  it('recovers by itself when Redis comes up, and logs once that the AOF is on', async () => {
    redis = await startRedisServer({ port: redisPort, appendonly: true });
    const token = offlineToken('user-recovery');
    figures.readyAfterRedisStart = await within('/readyz 200 after Redis started', 5000, async () => (await api.get('/readyz')).status === 200);
    figures.tokenServedAfterRedisStart = await within('a token served after Redis started', 5000, async () => {
      const answer = await api.graphql(ME, { token });
      return answer.status === 200 && answer.body.data.me.id === 'user-recovery';
    });
    expect((await api.get('/readyz')).body).toEqual({ status: 'ready' });
    await within('the persistence report in the log', 3000, async () => api.logs().some((line) => line.msg === 'Redis persistence: AOF on'));
    expect(api.logs().filter((line) => /persistence/i.test(line.msg) && line.level >= 40)).toEqual([]);
  });

  it('fails closed within about a second when Redis stops answering (SIGSTOP), and recovers on SIGCONT', async () => {
    ({ token: tokenA } = await api.signUp('outage_a', PASSWORD));
    expect((await api.graphql(ME, { token: tokenA })).status).toBe(200);
    process.kill(redis!.pid, 'SIGSTOP');
    try {
      const started = performance.now();
      const answer = await api.graphql(ME, { token: tokenA });
      figures.tokenRequestWithRedisFrozen = Math.round(performance.now() - started);
      expect(answer.status).toBe(503);
      expect(answer.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
      expect(figures.tokenRequestWithRedisFrozen).toBeLessThan(1500);
      const readyStarted = performance.now();
      expect((await api.get('/readyz')).status).toBe(503);
      expect(performance.now() - readyStarted).toBeLessThan(1500);
    } finally {
      process.kill(redis!.pid, 'SIGCONT');
    }
    figures.tokenServedAfterSigcont = await within('a token served after SIGCONT', 5000, async () => (await api.graphql(ME, { token: tokenA })).status === 200);
  });

  it('under load, kill -9 of Redis: never a 200 after the kill, never a hang; after the restart (AOF) revoked tokens stay revoked', async () => {
    ({ token: tokenB } = await api.signUp('outage_b', PASSWORD));
    const cancel = await api.graphql(CANCEL, { token: tokenB });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ data: { cancelToken: true } });

    const traffic = loadMe([api], tokenA, 4);
    await within('load to get answers', 3000, async () => traffic.samples.length >= 20);
    const killStartedAt = performance.now();
    await redis!.kill();
    // The API may see the connection drop before this process hears of the exit.
    const killedAt = performance.now();
    // Keep the load on Redis-less for a while.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const restartAt = performance.now();
    await redis!.restart();
    const restartedAt = performance.now();
    await within('load to get 200s again', 10_000, async () => traffic.samples.some((s) => s.start > restartedAt && s.status === 200));
    await traffic.stop();

    const before = traffic.samples.filter((s) => s.end < killStartedAt);
    const down = traffic.samples.filter((s) => s.start > killedAt && s.end < restartAt);
    const firstDown = traffic.samples.find((s) => s.start > killedAt && s.status !== 200);
    const firstUp = traffic.samples.find((s) => s.start > restartedAt && s.status === 200);
    figures.loadRequests = traffic.samples.length;
    figures.requestsWhileDown = down.length;
    figures.firstRefusalAfterKill = Math.round((firstDown?.end ?? NaN) - killedAt);
    figures.slowestRequestWhileDown = Math.round(Math.max(...down.map((s) => s.end - s.start)));
    figures.redisRestartWithAof = Math.round(restartedAt - restartAt);
    figures.servedAgainAfterRedisReady = Math.round((firstUp?.end ?? NaN) - restartedAt);

    expect(before.filter((s) => s.status !== 200)).toEqual([]);
    expect(down.length).toBeGreaterThan(10);
    // Fail closed: every request that started with Redis dead was refused with 503 AUTH_UNAVAILABLE.
    expect(down.filter((s) => s.status !== 503 || s.code !== 'AUTH_UNAVAILABLE')).toEqual([]);
    // Never a hang: every answer within about a second.
    expect(traffic.samples.filter((s) => s.end - s.start > 1500)).toEqual([]);
    expect(traffic.samples.every((s) => s.status === 200 || s.status === 503)).toBe(true);

    // The revocation acknowledged before the crash came back with the AOF.
    const revoked = await api.graphql(ME, { token: tokenB });
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    expect((await api.graphql(ME, { token: tokenA })).status).toBe(200);
    expect((await api.get('/readyz')).status).toBe(200);
  });

  it('logs JSON: refusals at debug with their reason, revocations at info with user id and jti, never a token or password', async () => {
    const invalid = await api.graphql(ME, { token: 'not.a.jwt' });
    expect(invalid.status).toBe(401);
    const expiredToken = offlineToken('user-expired', { now: () => Date.now() - 3_600_000, ttlSeconds: 60 });
    const expired = await api.graphql(ME, { token: expiredToken });
    expect(expired.status).toBe(401);
    expect(expired.body.errors[0].extensions.reason).toBe('TOKEN_EXPIRED');
    const all = await api.graphql('mutation { cancelAllMyTokens }', { token: tokenA });
    expect(all.status).toBe(200);
    expect(all.body.data.cancelAllMyTokens).toBeGreaterThanOrEqual(1);

    await within('the last log lines', 2000, async () => api.logs().some((l) => l.msg === 'all tokens of user revoked'));
    const logs = api.logs();
    expect(logs.length).toBe(api.output.filter((line) => line.trim() !== '').length);
    const refusals = logs.filter((l) => l.msg === 'token refused');
    expect(refusals.every((l) => l.level === 20)).toBe(true);
    expect(new Set(refusals.map((l) => l.reason))).toEqual(new Set(['TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED']));

    const b = claimsOf(tokenB);
    expect(logs).toContainEqual(expect.objectContaining({ level: 30, msg: 'token revoked', userId: b.sub, jti: b.jti }));
    const a = claimsOf(tokenA);
    expect(logs).toContainEqual(expect.objectContaining({ level: 30, msg: 'all tokens of user revoked', userId: a.sub, jti: a.jti }));
    expect(logs.some((l) => l.msg === 'redis connection lost: requests with a token get 503 until it is back' && l.level === 40)).toBe(true);
    expect(logs.some((l) => l.msg === 'redis connection restored')).toBe(true);

    const everything = api.output.join('\n');
    // Nor a password hash (failed Redis commands are logged with their arguments redacted).
    expect(everything).not.toContain('scrypt$');
    for (const secret of [tokenA, tokenB, expiredToken, PASSWORD, tokenA.split('.')[2]!, tokenB.split('.')[2]!]) {
      expect(everything.includes(secret)).toBe(false);
    }
  });

  it('GET /metrics: requests by auth outcome, revocations one/all, token-store latency', async () => {
    const answer = await httpRequest(`${api.metricsBase}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = answer.text;
    const requests = (outcome: string) => metricValue(text, `graphql_revoke_requests_total{auth_outcome="${outcome}"}`) ?? -1;
    expect(requests('ok')).toBeGreaterThan(10);
    expect(requests('missing')).toBeGreaterThanOrEqual(4);
    expect(requests('unavailable')).toBeGreaterThan(10);
    expect(requests('invalid')).toBe(1);
    expect(requests('expired')).toBe(1);
    expect(requests('revoked')).toBe(1);
    expect(metricValue(text, 'graphql_revoke_revocations_total{kind="one"}')).toBe(1);
    expect(metricValue(text, 'graphql_revoke_revocations_total{kind="all"}')).toBe(1);
    expect(metricValue(text, 'graphql_revoke_revoked_tokens_total{kind="all"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'graphql_revoke_token_store_command_duration_seconds_count{operation="isRevoked",result="ok"}')).toBeGreaterThan(10);
    expect(metricValue(text, 'graphql_revoke_token_store_command_duration_seconds_count{operation="isRevoked",result="error"}')).toBeGreaterThan(10);
    expect(metricValue(text, 'graphql_revoke_token_store_command_duration_seconds_count{operation="revoke",result="ok"}')).toBe(1);
    expect(text).toContain('graphql_revoke_token_store_command_duration_seconds_bucket{le="0.001",operation="isRevoked",result="ok"}');
    expect(metricValue(text, 'graphql_revoke_token_store_up')).toBe(1);
    expect(text).toContain('graphql_revoke_process_cpu_seconds_total');
  });
});
