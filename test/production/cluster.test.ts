/**
 * Redis Cluster (REDIS_CLUSTER_NODES): a real 3-master cluster on loopback. Every
 * operation of the API works (the scripts touch one user's hash tag per call, so no
 * CROSSSLOT), a master that dies makes tokens 503 (never 200 unchecked), and its return
 * heals the API by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { createRedisClient } from '../../src/redis/redis-client.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { startRedisCluster, type RedisClusterProcess } from '../helpers/redis-cluster.js';
import { redisCommand } from '../helpers/redis-server.js';
import { CANCEL, ME, startApiProcess, within, type ApiProcess } from './api-process.js';

/** The port of the master that owns `userId`'s hash tag. */
async function ownerPort(cluster: RedisClusterProcess, userId: string): Promise<number> {
  const node = cluster.nodes[0]!;
  const slot = Number(await redisCommand(node, 'CLUSTER', ['KEYSLOT', `{${userId}}`]));
  const ranges = (await redisCommand(node, 'CLUSTER', ['SLOTS'])) as [number, number, [string, number]][];
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  if (!range) throw new Error(`slot ${slot} is not served`);
  return Number(range[2][1]);
}

describe('Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: RedisClusterProcess;
  let api: ApiProcess;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, appendonly: true });
    api = await startApiProcess({
      // Two seeds are enough: the client discovers the third node.
      REDIS_CLUSTER_NODES: cluster.nodes.slice(0, 2).map((n) => `${n.host}:${n.port}`).join(','),
      REDIS_KEY_PREFIX: 'cl',
    });
  }, 90_000);

  afterAll(async () => {
    console.info('[cluster] measured (ms):', JSON.stringify(figures));
    await api?.kill();
    await cluster?.stop();
  });

  it('serves signUp, signIn, me, cancelToken (own and other token), cancelAllMyTokens for users on every master', async () => {
    expect((await api.get('/readyz')).status).toBe(200);
    const owners = new Set<number>();
    const masters = new Set(((await redisCommand(cluster.nodes[0]!, 'CLUSTER', ['SLOTS'])) as [number, number, [string, number]][]).map((range) => Number(range[2][1])));
    // User ids are random: at least 6 users, and more until every master owns one (6 users all
    // on one of 3 masters happens once in 243 runs; 40 without covering them all, practically never).
    for (let i = 0; i < 40 && (i < 6 || owners.size < masters.size); i += 1) {
      const username = `cluster_user_${i}`;
      const { token, userId } = await api.signUp(username);
      owners.add(await ownerPort(cluster, userId));
      const signIn = await api.graphql(`mutation { signIn(username: "${username}", password: "correct horse battery") { accessToken } }`);
      expect(signIn.status).toBe(200);
      const second = signIn.body.data.signIn.accessToken as string;
      const signIn2 = await api.graphql(`mutation { signIn(username: "${username}", password: "correct horse battery") { accessToken } }`);
      const third = signIn2.body.data.signIn.accessToken as string;

      const me = await api.graphql(ME, { token });
      expect(me.status).toBe(200);
      expect(me.body.data.me.id).toBe(userId);

      // cancelToken with an argument: the second token, through the first.
      const cancelOther = await api.graphql('mutation($t: String) { cancelToken(token: $t) }', { token, variables: { t: second } });
      expect(cancelOther.body).toEqual({ data: { cancelToken: true } });
      expect((await api.graphql(ME, { token: second })).body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');

      // cancelAllMyTokens: the first and third (the second is already revoked).
      const all = await api.graphql('mutation { cancelAllMyTokens }', { token: third });
      expect(all.status).toBe(200);
      expect(all.body).toEqual({ data: { cancelAllMyTokens: 2 } });
      for (const t of [token, third]) {
        const refused = await api.graphql(ME, { token: t });
        expect(refused.status).toBe(401);
        expect(refused.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
      }
    }
    // The users' keys really are spread over every master.
    expect(masters.size).toBeGreaterThanOrEqual(2);
    expect(owners).toEqual(masters);
    expect(api.output.join('\n')).not.toMatch(/CROSSSLOT|MOVED/);
  });

  it('checks persistence on every master at start (AOF on: no warning)', async () => {
    await within('the persistence report', 3000, async () => api.logs().some((l) => l.msg === 'Redis persistence: AOF on'));
    expect(api.logs().find((l) => l.msg === 'Redis persistence: AOF on')?.persistence).toEqual({ kind: 'aof', nodes: 3 });
    expect(api.logs().filter((l) => /persistence/i.test(l.msg) && l.level >= 40)).toEqual([]);
  });

  it('a dead master: tokens get 503 AUTH_UNAVAILABLE (never 200 unchecked); it comes back and the API heals by itself', async () => {
    const { token, userId } = await api.signUp('cluster_victim');
    const port = await ownerPort(cluster, userId);
    const victim = cluster.processes.find((p) => p.port === port)!;
    // A revoked token on the same master, to see it survive the master's crash (AOF).
    let revokedToken: string | undefined;
    for (let i = 0; i < 30 && !revokedToken; i += 1) {
      const other = await api.signUp(`cluster_victim_${i}`);
      if ((await ownerPort(cluster, other.userId)) !== port) continue;
      expect((await api.graphql(CANCEL, { token: other.token })).status).toBe(200);
      revokedToken = other.token;
    }
    expect(revokedToken).toBeDefined();

    await victim.kill();
    const killedAt = performance.now();
    const statuses: number[] = [];
    let slowest = 0;
    // Bounded: about 3 s of requests, each within its own timing check.
    for (let i = 0; i < 30; i += 1) {
      const started = performance.now();
      const answer = await api.graphql(ME, { token });
      const took = performance.now() - started;
      statuses.push(answer.status);
      slowest = Math.max(slowest, took);
      expect(took).toBeLessThan(1500);
      expect(answer.status).toBe(503);
      expect(answer.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
      if (performance.now() - killedAt > 3000) break;
    }
    figures.requestsWhileMasterDown = statuses.length;
    figures.slowestRefusalWhileMasterDown = Math.round(slowest);

    const restartAt = performance.now();
    await victim.restart();
    figures.masterRestart = Math.round(performance.now() - restartAt);
    figures.servedAgainAfterMasterRestart = await within('a token served after the master came back', 20_000, async () => {
      const answer = await api.graphql(ME, { token });
      return answer.status === 200 && answer.body.data.me.id === userId;
    }, 100);
    const still = await api.graphql(ME, { token: revokedToken });
    expect(still.status).toBe(401);
    expect(still.body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');
    // Each master clears its own "cluster down" state when it hears from the restarted one:
    // a slot on another master may answer CLUSTERDOWN a little longer.
    figures.readyAgainAfterMasterRestart = await within('/readyz 200 after the master came back', 20_000, async () => (await api.get('/readyz')).status === 200, 100);

    // Each master leaves its own CLUSTERDOWN state when it hears from the restarted one;
    // until all have, writes to their slots are refused (503, measured below).
    figures.allMastersOkAfterMasterRestart = await within('cluster_state:ok on every master', 20_000, async () => {
      const states = await Promise.all(cluster.nodes.map((node) => redisCommand(node, 'CLUSTER', ['INFO'])));
      return states.every((info) => /cluster_state:ok/.test(String(info)));
    }, 100);

    // The restarted master has an empty script cache: the Lua scripts must be sent again
    // (EVAL after NOSCRIPT), for writes on its slots as much as on the others.
    let onVictim: { token: string; userId: string } | undefined;
    for (let i = 0; i < 40 && !onVictim; i += 1) {
      const user = await api.signUp(`cluster_back_${i}`);
      if ((await ownerPort(cluster, user.userId)) === port) onVictim = user;
    }
    expect(onVictim).toBeDefined();
    const cancel = await api.graphql(CANCEL, { token: onVictim!.token });
    expect(cancel.body).toEqual({ data: { cancelToken: true } });
    expect((await api.graphql(ME, { token: onVictim!.token })).status).toBe(401);
  }, 45_000);

  it('WAIT on a cluster (pipelined behind a keyed read, so no CROSSSLOT): too few replicas is an error, never a silent success', async () => {
    const client = createRedisClient({ clusterNodes: cluster.nodes, commandTimeoutMs: 1000 });
    try {
      await within('cluster client ready', 10_000, async () => client.status === 'ready');
      const token = { userId: 'wait-user', jti: 'wait-jti', expiresAt: Math.floor(Date.now() / 1000) + 60 };
      const noReplicas = new RedisRevocationStore({ client, keyPrefix: 'clwait', replicasToAck: 0 });
      await noReplicas.revoke(token);
      expect(await noReplicas.isRevoked(token)).toBe(true);

      const oneReplica = new RedisRevocationStore({ client, keyPrefix: 'clwait', replicasToAck: 1, replicaAckTimeoutMs: 100 });
      const error = await oneReplica.revoke({ ...token, jti: 'wait-jti-2' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toBe('Token store unavailable during revoke (only 0/1 replicas acknowledged)');
      await expect(oneReplica.revokeAllForUser('wait-user')).rejects.toThrow('only 0/1 replicas acknowledged');
    } finally {
      client.disconnect();
    }
  });
});
