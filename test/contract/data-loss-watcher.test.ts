/**
 * The data-loss watcher against a real Redis (the run's test Redis, under key prefixes of
 * its own), driven check by check: what marks a loss, what does not, and the cutoff.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createDataLossWatcher, type DataLossWatcherOptions } from '../../src/safeguards/data-loss-watcher.js';
import { createKeySpace } from '../../src/redis/keys.js';
import { requireRedisUrl } from '../helpers/redis-url.js';

const clients: Redis[] = [];
afterAll(() => clients.forEach((client) => client.disconnect()));

function setup(options: Partial<DataLossWatcherOptions> = {}) {
  const client = new Redis(requireRedisUrl());
  clients.push(client);
  const keyPrefix = `dlw${randomUUID().slice(0, 8)}`;
  const losses: string[] = [];
  const errors: object[] = [];
  const logger = { error: (o: object) => void errors.push(o), warn: () => {}, info: () => {} };
  const make = () => createDataLossWatcher({ client, keyPrefix, logger, onLoss: (_shard, reason) => void losses.push(reason), ...options });
  const marker = createKeySpace(keyPrefix).shardMarker(0);
  return { client, make, marker, losses, errors };
}

async function redisSeconds(client: Redis): Promise<number> {
  return Number((await client.time())[0]);
}

describe('data-loss watcher', () => {
  it('first start: creates the marker, reports nothing, refuses nothing', async () => {
    const { client, make, marker, losses } = setup();
    const watcher = make();
    expect(watcher.ready).toBe(false);
    await watcher.check();
    expect(watcher.ready).toBe(true);
    expect(watcher.cutoffSeconds).toBe(0);
    expect(losses).toEqual([]);
    expect(await client.hget(marker, 'epoch')).toMatch(/^[0-9a-f]{16}$/);
    expect(await client.ttl(marker)).toBe(-1);
  });

  it('a marker gone (FLUSHALL) is a loss: cutoff = Redis time + 1, written back into the marker', async () => {
    const { client, make, marker, losses } = setup();
    const watcher = make();
    await watcher.check();
    await client.del(marker);
    const before = await redisSeconds(client);
    await watcher.check();
    expect(losses).toHaveLength(1);
    expect(losses[0]).toMatch(/marker is gone/);
    expect(watcher.cutoffSeconds).toBeGreaterThanOrEqual(before + 1);
    expect(watcher.cutoffSeconds).toBeLessThanOrEqual(before + 2);
    expect(Number(await client.hget(marker, 'cutoff'))).toBe(watcher.cutoffSeconds);
    // Nothing more to report at the next check.
    await watcher.check();
    expect(losses).toHaveLength(1);
  });

  it('a write sequence that went back (a lossy failover) is a loss; writes seen acknowledged count', async () => {
    const { client, make, marker, losses } = setup();
    const watcher = make();
    await watcher.check();
    for (let i = 0; i < 5; i += 1) await watcher.acknowledgeWrite(`any:{user}:r`);
    expect(await client.hget(marker, 'seq')).toBe('5');
    // The replica promoted had only the first 3.
    await client.hset(marker, 'seq', 3);
    await watcher.check();
    expect(losses).toEqual(["the shard's write sequence went back from 5 to 3: a failover to a replica that missed acknowledged writes"]);
    expect(watcher.cutoffSeconds).toBeGreaterThan(0);
  });

  it('another instance, and one started later, adopt the cutoff from the marker; a second detection within 3 s keeps it', async () => {
    const { client, make, marker, losses } = setup();
    const first = make();
    const second = make();
    await first.check();
    await second.check();
    await client.del(marker);
    await first.check();
    const cutoff = first.cutoffSeconds;
    await second.check(); // sees a new epoch carrying a cutoff: the same loss
    expect(second.cutoffSeconds).toBe(cutoff);
    expect(losses).toHaveLength(2);
    const later = make();
    await later.check();
    expect(later.cutoffSeconds).toBe(cutoff);
    // Two instances that both find the marker gone record one cutoff, not two.
    await client.del(marker);
    await Promise.all([first.check(), second.check()]);
    expect(second.cutoffSeconds).toBe(first.cutoffSeconds);
  });

  it('REDIS_DATA_LOSS=ignore: reports the loss, sets no cutoff', async () => {
    const { client, make, marker, losses } = setup({ mode: 'ignore' });
    const watcher = make();
    await watcher.check();
    await client.del(marker);
    await watcher.check();
    expect(losses).toHaveLength(1);
    expect(watcher.cutoffSeconds).toBe(0);
    expect(await client.hget(marker, 'cutoff')).toBeNull();
    expect(await client.hget(marker, 'epoch')).toMatch(/^[0-9a-f]{16}$/);
  });
});
