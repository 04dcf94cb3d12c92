import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { MemorySessionStore } from '../../src/sessions/memory-session-store.js';
import { RedisSessionStore } from '../../src/sessions/redis-session-store.js';
import { describeRevocationStoreContract, manualClock } from './revocation-store.contract.js';
import { describeSessionStoreContract } from './session-store.contract.js';

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

describeSessionStoreContract('MemorySessionStore', async (lifetimes) => {
  const clock = manualClock();
  const revocations = new MemoryRevocationStore({ now: clock.now, expiryGraceSeconds: 5, sweepIntervalMs: 0 });
  const sessions = new MemorySessionStore({ revocations, now: clock.now, ...lifetimes });
  return { revocations, sessions, pass: async (s) => clock.advance(s), close: () => revocations.close() };
});

describeSessionStoreContract('RedisSessionStore', async (lifetimes) => {
  // Redis's own clock (TIME) decides: time passes for real.
  const client = new Redis(requireRedisUrl());
  clients.push(client);
  const keyPrefix = `contract${process.pid}s`;
  return {
    revocations: new RedisRevocationStore({ client, expiryGraceSeconds: 5, keyPrefix }),
    sessions: new RedisSessionStore({ client, keyPrefix, ...lifetimes }),
    pass: (s) => new Promise((resolve) => setTimeout(resolve, s * 1000)),
    close: async () => {},
  };
});
