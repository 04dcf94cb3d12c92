import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeySpace } from '../../src/redis/keys.js';
import { MemoryUserStore } from '../../src/users/memory-user-store.js';
import { RedisUserStore } from '../../src/users/redis-user-store.js';
import type { UserRecord, UserStore } from '../../src/users/user-store.js';
import { requireRedisUrl } from '../helpers/redis-url.js';

const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

function newUser(): UserRecord {
  const id = randomUUID();
  return { id, username: `u${id.slice(0, 8)}`, passwordHash: 'scrypt$x', createdAt: new Date(0).toISOString() };
}

function describeUserStoreScopes(name: string, makeStore: () => Required<UserStore>) {
  describe(`${name}: scopes and the disabled flag`, () => {
    it('a new user has no scope and is not disabled', async () => {
      const store = makeStore();
      const user = newUser();
      await store.create(user);
      const found = await store.findById(user.id);
      expect(found?.scopes ?? []).toEqual([]);
      expect(found?.disabled ?? false).toBe(false);
    });

    it('adds and removes scopes, answering the sets before and after, sorted; found by id and by username', async () => {
      const store = makeStore();
      const user = newUser();
      await store.create(user);
      expect(await store.updateScopes(user.id, { add: ['tokens:admin', 'b', 'b'] })).toEqual({ before: [], after: ['b', 'tokens:admin'] });
      expect(await store.updateScopes(user.id, { add: ['c'], remove: ['b', 'absent'] })).toEqual({ before: ['b', 'tokens:admin'], after: ['c', 'tokens:admin'] });
      expect((await store.findById(user.id))?.scopes).toEqual(['c', 'tokens:admin']);
      expect((await store.findByUsername(user.username.toUpperCase()))?.scopes).toEqual(['c', 'tokens:admin']);
      expect(await store.updateScopes(user.id, { remove: ['c', 'tokens:admin'] })).toEqual({ before: ['c', 'tokens:admin'], after: [] });
      expect((await store.findById(user.id))?.scopes ?? []).toEqual([]);
    });

    it('sets and clears the disabled flag, answering its previous value; the rest of the record is kept', async () => {
      const store = makeStore();
      const user = newUser();
      await store.create(user);
      expect(await store.setDisabled(user.id, true)).toBe(false);
      expect(await store.setDisabled(user.id, true)).toBe(true);
      expect(await store.findById(user.id)).toMatchObject({ ...user, disabled: true });
      expect(await store.setDisabled(user.id, false)).toBe(true);
      expect((await store.findById(user.id))?.disabled ?? false).toBe(false);
    });

    it('answers undefined for an unknown id and creates nothing', async () => {
      const store = makeStore();
      const id = randomUUID();
      expect(await store.updateScopes(id, { add: ['x'] })).toBeUndefined();
      expect(await store.setDisabled(id, true)).toBeUndefined();
      expect(await store.findById(id)).toBeUndefined();
    });

    it('lands every one of 30 concurrent grants', async () => {
      const store = makeStore();
      const user = newUser();
      await store.create(user);
      const scopes = Array.from({ length: 30 }, (_, i) => `s${String(i).padStart(2, '0')}`);
      await Promise.all(scopes.map((scope) => store.updateScopes(user.id, { add: [scope] })));
      expect((await store.findById(user.id))?.scopes).toEqual(scopes);
    });
  });
}

describeUserStoreScopes('MemoryUserStore', () => new MemoryUserStore());

const prefix = `users${process.pid}x${Date.now().toString(36)}`;
describeUserStoreScopes('RedisUserStore', () => {
  const client = new Redis(requireRedisUrl());
  clients.push(client);
  return new RedisUserStore(client, { keyPrefix: prefix });
});

describe('RedisUserStore layout', () => {
  it('keeps scopes and the flag in the user hash: no new key, and the record keeps no TTL', async () => {
    const client = new Redis(requireRedisUrl());
    clients.push(client);
    const keyPrefix = `ulayout${randomUUID().slice(0, 8)}`;
    const store = new RedisUserStore(client, { keyPrefix });
    const user = newUser();
    await store.create(user);
    await store.updateScopes(user.id, { add: ['tokens:admin', 'a'] });
    await store.setDisabled(user.id, true);
    const keys = createKeySpace(keyPrefix);
    expect((await client.keys(`${keyPrefix}:*`)).sort()).toEqual([keys.username(user.username.toLowerCase()), keys.user(user.id)].sort());
    expect(await client.ttl(keys.user(user.id))).toBe(-1);
    expect(await client.hget(keys.user(user.id), 'scopes')).toBe('a tokens:admin');
    expect(await client.hget(keys.user(user.id), 'disabled')).toBe('1');
  });
});
