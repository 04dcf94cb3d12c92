import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisClusterProcess } from '../helpers/redis-cluster.js';
import { parseInfo, startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { startRedisSentinelSetup, type RedisSentinelSetup } from '../helpers/redis-sentinel.js';
import { requireRedisUrl } from '../helpers/redis-url.js';

// Clients here must give up quickly instead of hiding a dead server behind
// retries, and must never print "Unhandled error event" noise.
function connect(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  client.on('error', () => {});
  return client;
}

// The three setups are independent processes on their own ports, so they run
// side by side to keep this file well under its time budget.
describe.concurrent('redis test helpers', () => {
  // Sequential inside: one test kills and restarts the server another test pings.
  describe.sequential('startRedisServer', () => {
    let server: RedisServerProcess | undefined;

    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server?.cleanup();
    });

    it('answers PING on a free loopback port, never the shared 6379', async () => {
      const s = server!;
      expect(s.host).toBe('127.0.0.1');
      expect(s.port).not.toBe(6379);
      expect(s.url).toBe(`redis://127.0.0.1:${s.port}`);
      const client = connect(s.url);
      try {
        expect(await client.ping()).toBe('PONG');
        const persistence = parseInfo(await client.info('persistence'));
        expect(persistence.get('aof_enabled')).toBe('1');
      } finally {
        client.disconnect();
      }
    });

    it('keeps an acknowledged write across kill -9 and restart (AOF replay)', async () => {
      const s = server!;
      const before = connect(s.url);
      try {
        expect(await before.set('durable-key', 'durable-value')).toBe('OK');
      } finally {
        before.disconnect();
      }
      const oldPid = s.pid;
      await s.kill();
      expect(s.running).toBe(false);

      await s.restart();
      expect(s.running).toBe(true);
      expect(s.pid).not.toBe(oldPid);
      const after = connect(s.url);
      try {
        expect(await after.get('durable-key')).toBe('durable-value');
      } finally {
        after.disconnect();
      }
    });
  });

  describe('startRedisCluster', () => {
    let cluster: RedisClusterProcess | undefined;

    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3 });
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('routes SET/GET for keys in different hash slots and reports cluster_state:ok', async () => {
      const c = cluster!;
      expect(c.nodes).toHaveLength(3);
      const client = new Cluster(c.nodes, { redisOptions: { connectTimeout: 2_000 } });
      client.on('error', () => {});
      try {
        const tags = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
        for (const tag of tags) await client.set(`rev:{${tag}}:k`, tag);
        for (const tag of tags) expect(await client.get(`rev:{${tag}}:k`)).toBe(tag);

        const owners = new Set<string>();
        for (const tag of tags) {
          const slot = Number(await client.call('CLUSTER', 'KEYSLOT', `rev:{${tag}}:k`));
          const node = client.slots[slot]?.[0];
          if (node) owners.add(node);
        }
        // The keys really were spread over several masters, not one.
        expect(owners.size).toBeGreaterThan(1);

        const info = parseInfo(await client.call('CLUSTER', 'INFO'));
        expect(info.get('cluster_state')).toBe('ok');
        expect(info.get('cluster_slots_assigned')).toBe('16384');
      } finally {
        client.disconnect();
      }
    });
  });

  describe('startRedisSentinelSetup', () => {
    let setup: RedisSentinelSetup | undefined;

    beforeAll(async () => {
      setup = await startRedisSentinelSetup();
    });
    afterAll(async () => {
      await setup?.stop();
    });

    it('fails over to the replica after the primary is killed, keeping replicated writes', async () => {
      const s = setup!;
      expect(s.sentinels).toHaveLength(3);
      const client = new Redis({ sentinels: s.sentinels, name: s.name, connectTimeout: 2_000 });
      client.on('error', () => {});
      try {
        expect(await client.set('before-failover', 'kept')).toBe('OK');
        // Only a write the replica has acknowledged is promised to survive.
        expect(await client.call('WAIT', '1', '1000')).toBe(1);

        await s.killPrimary();
        const newPrimary = await s.waitForFailover();
        expect(newPrimary).toEqual({ host: '127.0.0.1', port: s.replica.port });

        expect(await client.set('after-failover', 'written')).toBe('OK');
        expect(await client.get('before-failover')).toBe('kept');
        const server = parseInfo(await client.info('server'));
        expect(server.get('tcp_port')).toBe(String(s.replica.port));
        const replication = parseInfo(await client.info('replication'));
        expect(replication.get('role')).toBe('master');
      } finally {
        client.disconnect();
      }
    });
  });
});

describe('global setup', () => {
  it('provides a Redis URL that answers PING', async () => {
    const client = connect(requireRedisUrl());
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});
