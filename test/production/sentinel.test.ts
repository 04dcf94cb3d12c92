/**
 * Redis Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME): a primary, a replica and three
 * sentinels on loopback. A revocation is acknowledged only once the replica has it
 * (WAIT, REDIS_MIN_REPLICAS_TO_ACK defaults to 1 with Sentinel), so it survives the
 * primary's death; during the failover tokens get 503, never 200 unchecked; afterwards
 * the API serves again, and writes that no replica can confirm are errors until one is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCommand } from '../helpers/redis-server.js';
import { startRedisSentinelSetup, type RedisSentinelSetup } from '../helpers/redis-sentinel.js';
import { CANCEL, claimsOf, ME, startApiProcess, within, type ApiProcess } from './api-process.js';

const PREFIX = 'sn';
const revokedKey = (userId: string) => `${PREFIX}:v1:{${userId}}:r`;

describe('Redis Sentinel (REDIS_SENTINELS)', () => {
  let setup: RedisSentinelSetup;
  let api: ApiProcess;
  const figures: Record<string, number> = {};
  let carolToken: string;

  beforeAll(async () => {
    setup = await startRedisSentinelSetup();
    api = await startApiProcess({
      REDIS_SENTINELS: setup.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: setup.name,
      REDIS_KEY_PREFIX: PREFIX,
    });
  }, 90_000);

  afterAll(async () => {
    console.info('[sentinel] measured (ms):', JSON.stringify(figures));
    await api?.kill();
    await setup?.stop();
  });

  it('fails over: a revocation acknowledged before the primary is killed is still in force, and the API serves again', async () => {
    await within('/readyz 200', 10_000, async () => (await api.get('/readyz')).status === 200);
    expect(api.logs().find((l) => l.msg.startsWith('GraphQL API ready'))).toMatchObject({ store: 'redis-sentinel', minReplicasToAck: 1 });

    const alice = await api.signUp('sentinel_alice');
    const bob = await api.signUp('sentinel_bob');
    const carol = await api.signUp('sentinel_carol');
    carolToken = carol.token;
    const cancel = await api.graphql(CANCEL, { token: bob.token });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ data: { cancelToken: true } });
    // Acknowledged means the replica has it already (WAIT), not "eventually".
    const onReplica = await redisCommand(setup.replica, 'ZSCORE', [revokedKey(bob.userId), claimsOf(bob.token).jti]);
    expect(onReplica).not.toBeNull();

    await setup.killPrimary();
    const killedAt = performance.now();
    const answers: { status: number; code?: string; took: number }[] = [];
    // Bounded: at most 400 tries, 30 s.
    for (let i = 0; i < 400 && performance.now() - killedAt < 30_000; i += 1) {
      const started = performance.now();
      const answer = await api.graphql(ME, { token: alice.token });
      answers.push({ status: answer.status, code: answer.body?.errors?.[0]?.extensions?.code, took: performance.now() - started });
      if (answer.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    figures.servedAgainAfterPrimaryKill = Math.round(performance.now() - killedAt);
    figures.requestsDuringFailover = answers.length - 1;
    figures.slowestAnswerDuringFailover = Math.round(Math.max(...answers.map((a) => a.took)));
    expect(answers.at(-1)?.status).toBe(200);
    expect(answers.slice(0, -1).filter((a) => a.status !== 503 || a.code !== 'AUTH_UNAVAILABLE')).toEqual([]);
    expect(answers.filter((a) => a.took > 1500)).toEqual([]);

    // And it stays served: no flapping once the client follows the new primary.
    for (let i = 0; i < 10; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await api.graphql(ME, { token: alice.token })).status).toBe(200);
    }

    const newPrimary = await setup.waitForFailover(5000);
    expect(newPrimary.port).toBe(setup.replica.port);

    const revoked = await api.graphql(ME, { token: bob.token });
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    expect((await api.graphql(ME, { token: carol.token })).status).toBe(200);
    expect((await api.get('/readyz')).status).toBe(200);
  }, 60_000);

  it('with no replica left to confirm them, revocations and sign-ins are errors (503 AUTH_UNAVAILABLE), never silent successes; they work again once a replica is back', async () => {
    const carol = await api.signIn('sentinel_carol').catch((error: Error) => error);
    expect(carol).toBeInstanceOf(Error);
    expect((carol as Error).message).toMatch(/^signIn failed: 503 .*"code":"AUTH_UNAVAILABLE"/);

    const unconfirmed = await api.graphql(CANCEL, { token: carolToken });
    expect(unconfirmed.status).toBe(503);
    expect(unconfirmed.body.data).toBeNull();
    expect(unconfirmed.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
    expect(unconfirmed.body.errors[0].message).toBe('Authentication is temporarily unavailable. Retry shortly.');

    // The old primary comes back; the sentinels turn it into a replica of the new primary.
    await setup.primary.restart();
    let eve: { token: string; userId: string } | undefined;
    figures.writesConfirmedAgainAfterOldPrimaryRestart = await within('a write confirmed by a replica again', 30_000, async () => {
      eve = await api.signUp(`sentinel_eve_${Math.round(performance.now())}`);
      return true;
    }, 250);
    const cancel = await api.graphql(CANCEL, { token: eve!.token });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ data: { cancelToken: true } });
    expect(await redisCommand(setup.primary, 'ZSCORE', [revokedKey(eve!.userId), claimsOf(eve!.token).jti])).not.toBeNull();
    expect((await api.graphql(ME, { token: eve!.token })).status).toBe(401);
  }, 60_000);
});
