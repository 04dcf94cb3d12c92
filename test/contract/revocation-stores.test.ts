import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { describeRevocationStoreContract } from './revocation-store.contract.js';

describeRevocationStoreContract('MemoryRevocationStore', async (clock) =>
  new MemoryRevocationStore({ now: clock.now, expiryGraceSeconds: 5, sweepIntervalMs: 0 }),
);

const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

describeRevocationStoreContract('RedisRevocationStore', async (clock) => {
  const client = new Redis(requireRedisUrl());
  clients.push(client);
  return new RedisRevocationStore({ client, now: clock.now, expiryGraceSeconds: 5, keyPrefix: `contract${process.pid}` });
});
