/**
 * Redis data loss on a Cluster master and behind Sentinel (issue 10), with the real API
 * processes: FLUSHALL on one of three masters, a slot migration (not a loss), and a
 * Sentinel failover to a replica that missed an acknowledged revocation
 * (REDIS_MIN_REPLICAS_TO_ACK=0, replication held back while the revocation is written).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis/cluster-slot.js';
import { createKeySpace } from '../../src/redis/keys.js';
import { startRedisCluster, type RedisClusterProcess } from '../helpers/redis-cluster.js';
import { parseInfo, redisCommand, type RedisAddress } from '../helpers/redis-server.js';
import { startRedisSentinelSetup, type RedisSentinelSetup } from '../helpers/redis-sentinel.js';
import { waitFor } from '../helpers/wait-for.js';
import { CANCEL, metricValue, refused, served, startApiProcess, within, type ApiProcess } from './api-process.js';

const DETECTION_BOUND_MS = 3000;

type SlotRange = [number, number, [string, number, string]];

async function slotOwner(node: RedisAddress, slot: number): Promise<{ port: number; id: string }> {
  const ranges = (await redisCommand(node, 'CLUSTER', ['SLOTS'])) as SlotRange[];
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  if (!range) throw new Error(`slot ${slot} is not served`);
  return { port: Number(range[2][1]), id: String(range[2][2]) };
}

function lossLines(api: ApiProcess) {
  return api.logs().filter((line) => line.level >= 50 && /lost the data behind revocations/.test(line.msg));
}

describe('Redis Cluster: one master loses its data', () => {
  let cluster: RedisClusterProcess;
  let a: ApiProcess;
  let b: ApiProcess;
  let late: ApiProcess | undefined;
  let env: Record<string, string>;
  const figures: Record<string, number> = {};
  const prefix = 'dl';

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, appendonly: false });
    env = { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','), REDIS_KEY_PREFIX: prefix };
    [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
  }, 90_000);

  afterAll(async () => {
    console.info('[data-loss cluster] measured (ms):', JSON.stringify(figures));
    await Promise.all([a?.kill(), b?.kill(), late?.kill()]);
    await cluster?.stop();
  });

  it('moving a slot that holds a data marker to another master is not a loss', async () => {
    const { token } = await a.signUp('cl_mover');
    const node = cluster.nodes[0]!;
    // The marker the watchers chose for the first master: the first candidate it owns.
    const keys = createKeySpace(prefix);
    const ranges = (await redisCommand(node, 'CLUSTER', ['SLOTS'])) as SlotRange[];
    const [from] = ranges;
    let index = 0;
    while (!(keySlot(keys.shardMarker(index)) >= from![0] && keySlot(keys.shardMarker(index)) <= from![1])) index += 1;
    const marker = keys.shardMarker(index);
    const slot = keySlot(marker);
    const source = await slotOwner(node, slot);
    const target = ranges.map((range) => ({ port: Number(range[2][1]), id: String(range[2][2]) })).find((owner) => owner.port !== source.port)!;
    const sourceAddress = { host: '127.0.0.1', port: source.port };
    const targetAddress = { host: '127.0.0.1', port: target.port };
    expect(await redisCommand(sourceAddress, 'EXISTS', [marker])).toBe(1);

    await redisCommand(targetAddress, 'CLUSTER', ['SETSLOT', slot, 'IMPORTING', source.id]);
    await redisCommand(sourceAddress, 'CLUSTER', ['SETSLOT', slot, 'MIGRATING', target.id]);
    const keysInSlot = (await redisCommand(sourceAddress, 'CLUSTER', ['GETKEYSINSLOT', slot, 100])) as string[];
    await redisCommand(sourceAddress, 'MIGRATE', ['127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keysInSlot]);
    for (const address of cluster.nodes) await redisCommand(address, 'CLUSTER', ['SETSLOT', slot, 'NODE', target.id]);
    expect(await redisCommand(targetAddress, 'EXISTS', [marker])).toBe(1);

    // Three checks' worth of time: no instance reports a loss, tokens stay served.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(lossLines(a)).toEqual([]);
    expect(lossLines(b)).toEqual([]);
    expect(await served(a, token)).toBe(true);
    expect(await served(b, token)).toBe(true);
    expect(metricValue(await b.metrics(), 'graphql_revoke_token_cutoff_seconds')).toBe(0);
  });

  it('FLUSHALL on one master: noticed by every instance, named in the log, older tokens refused on every master, new sign-ins served', async () => {
    // Users until one lives on each master, each with a revoked and a live token.
    const byMaster = new Map<number, { revoked: string; live: string }>();
    for (let i = 0; byMaster.size < 3 && i < 40; i += 1) {
      const { token: revoked, userId } = await a.signUp(`cl_loss_${i}`);
      const port = (await slotOwner(cluster.nodes[0]!, keySlot(`{${userId}}`))).port;
      if (byMaster.has(port)) continue;
      const live = await a.signIn(`cl_loss_${i}`);
      expect((await a.graphql(CANCEL, { token: revoked })).body.data.cancelToken).toBe(true);
      byMaster.set(port, { revoked, live });
    }
    expect(byMaster.size).toBe(3);
    for (const { live } of byMaster.values()) expect(await served(b, live)).toBe(true);

    const victim = cluster.nodes[1]!;
    const onVictim = byMaster.get(victim.port)!;
    await redisCommand(victim, 'FLUSHALL');
    const flushed = performance.now();
    // B never looked the revoked token up: only Redis (and now the cutoff) refuses it there.
    await within('B refuses the revoked token of the flushed master', DETECTION_BOUND_MS, () => refused(b, onVictim.revoked), 20);
    figures.clusterFlushRevokedRefusedOnB = Math.round(performance.now() - flushed);
    for (const api of [a, b]) {
      await within('older tokens refused', DETECTION_BOUND_MS, () => refused(api, onVictim.live), 20);
      for (const { live } of byMaster.values()) expect(await refused(api, live)).toBe(true);
    }
    figures.clusterFlushOlderRefusedEverywhere = Math.round(performance.now() - flushed);

    const lines = [...lossLines(a), ...lossLines(b)];
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(new Set(lines.map((line) => line.shard))).toEqual(new Set([`127.0.0.1:${victim.port}`]));

    // New accounts, wherever they land, are served by both instances at once.
    const fresh: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const { token } = await b.signUp(`cl_after_${i}`);
      expect(await served(a, token)).toBe(true);
      expect(await served(b, token)).toBe(true);
      fresh.push(token);
    }

    // An instance started after the loss finds the cutoff (copied into every master's marker).
    late = await startApiProcess(env);
    for (const { revoked, live } of byMaster.values()) {
      expect(await refused(late, revoked)).toBe(true);
      expect(await refused(late, live)).toBe(true);
    }
    for (const token of fresh) expect(await served(late, token)).toBe(true);
  });
});

describe('Sentinel: failover to a replica that missed an acknowledged revocation', () => {
  let setup: RedisSentinelSetup;
  let a: ApiProcess;
  let b: ApiProcess;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    setup = await startRedisSentinelSetup();
    const env = {
      REDIS_SENTINELS: setup.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: setup.name,
      // The revocation is acknowledged without waiting for the replica: what this test loses.
      REDIS_MIN_REPLICAS_TO_ACK: '0',
    };
    [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
  }, 90_000);

  afterAll(async () => {
    console.info('[data-loss sentinel] measured (ms):', JSON.stringify(figures));
    await Promise.all([a?.kill(), b?.kill()]);
    await setup?.stop();
  });

  it('the write sequence of the promoted replica is behind what the instance saw acknowledged: older tokens refused everywhere, new sign-ins served', async () => {
    const { token: revoked } = await a.signUp('sentinel_victim');
    const live = await b.signIn('sentinel_victim');
    expect(await served(b, live)).toBe(true);
    // Everything so far (user, tokens, the data marker) is on the replica.
    await waitFor('the replica in sync', 10_000, async () => {
      const primary = parseInfo(await redisCommand(setup.primary, 'INFO', ['replication'])).get('master_repl_offset');
      const replica = parseInfo(await redisCommand(setup.replica, 'INFO', ['replication'])).get('slave_repl_offset');
      return primary === replica ? true : undefined;
    });

    // Hold replication back: freeze the replica, cut its link, revoke, crash the primary.
    process.kill(setup.replica.pid, 'SIGSTOP');
    try {
      await redisCommand(setup.primary, 'CLIENT', ['KILL', 'TYPE', 'replica']);
      const cancel = await a.graphql(CANCEL, { token: revoked });
      expect(cancel.status).toBe(200);
      expect(cancel.body.data.cancelToken).toBe(true);
      await setup.killPrimary();
    } finally {
      process.kill(setup.replica.pid, 'SIGCONT');
    }
    const crashed = performance.now();
    await setup.waitForFailover();
    figures.failover = Math.round(performance.now() - crashed);
    // The promoted replica never had the revocation.
    const revokedKeys = (await redisCommand(setup.replica, 'KEYS', ['gr:v1:*:r'])) as string[];
    expect(revokedKeys).toEqual([]);

    // B never looked the revoked token up: it is refused through the cutoff A recorded.
    await within('B refuses the revoked token after the failover', 15_000, () => refused(b, revoked), 50);
    figures.revokedRefusedOnBAfterCrash = Math.round(performance.now() - crashed);
    for (const api of [a, b]) expect(await refused(api, live)).toBe(true);
    const lines = lossLines(a);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(String(lines[0]!.reason)).toMatch(/write sequence went back/);
    expect(lines[0]!.shard).toBe(`127.0.0.1:${setup.replica.port}`);

    const fresh = await b.signIn('sentinel_victim');
    expect(await served(a, fresh)).toBe(true);
    expect(await served(b, fresh)).toBe(true);
  });
});
