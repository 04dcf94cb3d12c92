/** The Redis topology settings of config.ts: parsed, validated, frozen. No I/O. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

const SECRET = 'production-secret-0123456789-abcdefghij';
const production = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, ...env }).config;

describe('Redis configuration', () => {
  it('REDIS_URL: single mode, no replica acknowledgement by default', () => {
    const { redis } = production({ REDIS_URL: 'redis://cache:6379' });
    expect(redis).toMatchObject({ mode: 'single', url: 'redis://cache:6379', clusterNodes: [], sentinels: [], minReplicasToAck: 0, replicaAckTimeoutMs: 500 });
  });

  it('REDIS_CLUSTER_NODES: cluster mode with every seed node parsed (IPv6 in brackets too), frozen', () => {
    const { redis } = production({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-b:7001,[::1]:7002 ' });
    expect(redis.mode).toBe('cluster');
    expect(redis.clusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(redis.minReplicasToAck).toBe(0);
    expect(Object.isFrozen(redis.clusterNodes)).toBe(true);
    expect(Object.isFrozen(redis.clusterNodes[0])).toBe(true);
  });

  it('REDIS_SENTINELS + REDIS_SENTINEL_NAME: sentinel mode, a replica must acknowledge each write by default', () => {
    const { redis } = production({ REDIS_SENTINELS: 's1:26379,s2:26379,s3:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_SENTINEL_PASSWORD: 'pw' });
    expect(redis).toMatchObject({ mode: 'sentinel', sentinelName: 'mymaster', sentinelPassword: 'pw', minReplicasToAck: 1 });
    expect(redis.sentinels).toHaveLength(3);
  });

  it('REDIS_MIN_REPLICAS_TO_ACK and REDIS_REPLICA_ACK_TIMEOUT_MS override the defaults', () => {
    const sentinel = production({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_MIN_REPLICAS_TO_ACK: '0' });
    expect(sentinel.redis.minReplicasToAck).toBe(0);
    const single = production({ REDIS_URL: 'redis://r:6379', REDIS_MIN_REPLICAS_TO_ACK: '2', REDIS_REPLICA_ACK_TIMEOUT_MS: '250' });
    expect(single.redis).toMatchObject({ minReplicasToAck: 2, replicaAckTimeoutMs: 250 });
  });

  it.each([
    [{ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:1' }, 'Set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS (got REDIS_URL and REDIS_CLUSTER_NODES)'],
    [{ REDIS_SENTINELS: 's:26379' }, 'REDIS_SENTINELS needs REDIS_SENTINEL_NAME: the name of the master the sentinels monitor'],
    [{ REDIS_CLUSTER_NODES: 'a:1,b' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "b"'],
    [{ REDIS_CLUSTER_NODES: 'a:70000' }, 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "a:70000"'],
    [{ REDIS_URL: 'redis://r:6379', REDIS_MIN_REPLICAS_TO_ACK: '-1' }, 'REDIS_MIN_REPLICAS_TO_ACK must be an integer between 0 and 16, got "-1"'],
  ])('refuses to start on %j', (env, message) => {
    expect(() => production(env)).toThrow(new ConfigError(message));
  });

  it('production without any Redis setting refuses to start, naming the three options', () => {
    expect(() => production({})).toThrow(/^REDIS_URL \(or REDIS_CLUSTER_NODES, or REDIS_SENTINELS\) is required when NODE_ENV=production/);
  });
});
