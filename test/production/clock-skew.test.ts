/**
 * Instances whose clocks disagree with Redis' (issue 10), on one real redis-server: each
 * instance is an in-process server with the safeguards of main.ts on an injected clock
 * shifted by a fixed offset. The two scenarios of the issue, and the zone in between:
 *
 * (a) B's clock 60 s ahead: a token revoked through A, then any revocation for the same
 *     user through B; C (correct clock) must still refuse the revoked token. Before, B's
 *     revocation pruned the revoked set with B's clock and C served the token.
 * (b) Both instances 60 s behind Redis: cancelToken answered true and the other instance
 *     served the token at once (the key's EXPIREAT, computed from the lagging exp, was
 *     already past in Redis' time).
 *
 * MAX_CLOCK_SKEW is 10 s (the default): 60 s is refused outright (503 AUTH_UNAVAILABLE);
 * 8 s is served with a warning, and revocations hold because the scripts prune and
 * expire by Redis' clock and keep entries exp + tolerance + MAX_CLOCK_SKEW.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, redisCommand, type RedisServerProcess } from '../helpers/redis-server.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { CANCEL, ME, claimsOf, offlineToken } from './api-process.js';

const CANCEL_ALL = 'mutation { cancelAllMyTokens }';
const ENV = { MAX_CLOCK_SKEW: '10', JWT_CLOCK_TOLERANCE: '5' };
// Short-lived tokens, as in the reproduction (29 s of life left).
const SHORT_TTL = { ...ENV, ACCESS_TOKEN_TTL: '30' };

interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capturingLogger() {
  const records: LogRecord[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) },
  );
  return { logger, records };
}

function shifted(offsetMs: number) {
  return () => Date.now() + offsetMs;
}

describe('clock skew between API instances and Redis', () => {
  let redis: RedisServerProcess;
  const servers: TestServer[] = [];
  const start = async (offsetMs: number, keyPrefix: string, env: Record<string, string> = ENV) => {
    const { logger, records } = capturingLogger();
    const server = await startTestServer({ redisUrl: redis.url, env, now: shifted(offsetMs), keyPrefix, safeguards: true, logger });
    servers.push(server);
    return { server, records };
  };

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await redis?.cleanup();
  });

  it('(a) B 60 s ahead: B refuses tokens (503) and revokes nothing; C (correct clock) still refuses the token revoked through A', async () => {
    const { server: a } = await start(0, 'clock-a');
    const { server: b, records: bLogs } = await start(60_000, 'clock-a');
    const { server: c } = await start(0, 'clock-a');
    const { token: revoked, username, password } = await a.signUp();
    const other = await a.signIn(username, password);
    expect((await a.graphql(CANCEL, { token: revoked })).body.data.cancelToken).toBe(true);

    // Any revocation for the same user through B: refused before it runs.
    for (const mutation of [CANCEL, CANCEL_ALL]) {
      const answer = await b.graphql(mutation, { token: other });
      expect(answer.status).toBe(503);
      expect(answer.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    }
    const me = await b.graphql(ME, { token: other });
    expect(me.status).toBe(503);
    expect(me.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    const signIn = await b.graphql('mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }', { variables: { u: username, p: password } });
    expect(signIn.status).toBe(503);

    // C never looked the revoked token up: Redis answers, and it still has the revocation.
    const onC = await c.graphql(ME, { token: revoked });
    expect(onC.status).toBe(401);
    expect(onC.body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');
    expect((await c.graphql(ME, { token: other })).status).toBe(200);

    // B says why, in /readyz, the log and the metric.
    const ready = await b.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.reason).toMatch(/clock is -60\.\d s from Redis' \(MAX_CLOCK_SKEW=10\)/);
    expect(bLogs.some((line) => line.level === 50 && /MAX_CLOCK_SKEW/.test(line.msg) && Math.abs(Number(line.skewSeconds) + 60) < 1)).toBe(true);
    expect(b.safeguards!.clock.skewMs!).toBeLessThan(-59_000);
    expect((await a.get('/readyz')).status).toBe(200);
  });

  it('(b) both instances 60 s behind Redis: neither issues nor serves a token, so cancelToken cannot answer true while the other serves it', async () => {
    const { server: a } = await start(-60_000, 'clock-b', SHORT_TTL);
    const { server: b } = await start(-60_000, 'clock-b', SHORT_TTL);
    const signUp = await a.graphql('mutation { signUp(username: "lagging_user", password: "long enough pw") { accessToken } }');
    expect(signUp.status).toBe(503);
    expect(signUp.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    // A token as such an instance issued it before this change: its own clock, 60 s behind.
    const token = offlineToken('lagging-user', { now: shifted(-60_000), ttlSeconds: 30 });
    const cancel = await a.graphql(CANCEL, { token });
    expect(cancel.status).toBe(503);
    expect(cancel.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    const me = await b.graphql(ME, { token });
    expect(me.status).toBe(503);
    expect(me.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    expect((await b.get('/readyz')).body.reason).toMatch(/clock is 60\.\d s from Redis'/);
  });

  it('within MAX_CLOCK_SKEW (8 s behind, and 8 s ahead): served with a warning; a revocation holds on every instance, its key expiring by Redis\' clock', async () => {
    const { server: behindA, records } = await start(-8_000, 'clock-c', SHORT_TTL);
    const { server: behindB } = await start(-8_000, 'clock-c', SHORT_TTL);
    const { server: ahead } = await start(8_000, 'clock-c', SHORT_TTL);
    const { server: correct } = await start(0, 'clock-c', SHORT_TTL);
    expect(records.some((line) => line.level === 40 && /clock tolerance/.test(line.msg))).toBe(true);

    const { token, userId, username, password } = await behindA.signUp();
    const second = await behindA.signIn(username, password);
    expect((await behindB.graphql(ME, { token: second })).status).toBe(200);
    expect((await behindA.graphql(CANCEL, { token })).body.data.cancelToken).toBe(true);
    // The other instance (as far behind) refuses it at once: scenario (b) within the limit.
    const onB = await behindB.graphql(ME, { token });
    expect(onB.status).toBe(401);
    expect(onB.body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');

    // The revoked set outlives exp + tolerance + MAX_CLOCK_SKEW in Redis' time.
    const key = `clock-c:v1:{${userId}}:r`;
    const expireAt = Number(await redisCommand(redis, 'EXPIRETIME', [key]));
    const [redisSeconds] = (await redisCommand(redis, 'TIME')) as string[];
    expect(expireAt).toBeGreaterThanOrEqual(claimsOf(token).exp + 5 + 10);
    expect(expireAt).toBeGreaterThan(Number(redisSeconds) + 30);

    // A revocation through the instance ahead (scenario (a) within the limit) prunes nothing live.
    expect((await ahead.graphql(CANCEL, { token: second })).body.data.cancelToken).toBe(true);
    for (const server of [correct, behindB]) {
      const answer = await server.graphql(ME, { token });
      expect(answer.status).toBe(401);
    }
    expect(Number(await redisCommand(redis, 'ZCARD', [key]))).toBe(2);

    // Measured: Redis' clock minus this host's (the value of graphql_revoke_clock_skew_seconds).
    expect(behindA.safeguards!.clock.skewMs!).toBeGreaterThan(7_000);
    expect(ahead.safeguards!.clock.skewMs!).toBeLessThan(-7_000);
  });
});
