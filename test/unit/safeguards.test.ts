import { describe, expect, it, vi } from 'vitest';
import type { TokenRef } from '../../src/auth/token.js';
import { loadConfig } from '../../src/config/index.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { keySlot } from '../../src/redis/cluster-slot.js';
import { evaluateEvictionPolicy } from '../../src/safeguards/eviction-policy.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';
import { SafeguardedRevocationStore } from '../../src/revocation/safeguarded-store.js';

const SECRET = 'x'.repeat(32);

describe('keySlot', () => {
  it('maps keys to the slots Redis Cluster gives them (CRC16-XMODEM of the hash tag, mod 16384)', () => {
    // Values of CLUSTER KEYSLOT on Redis 7.
    expect(keySlot('123456789')).toBe(12739);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    // An empty tag does not count: the whole key is hashed.
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
  });
});

describe('evaluateEvictionPolicy', () => {
  const report = (policy: string, node = 'h:1') => ({ node, usedBytes: 0, maxBytes: 0, policy });
  it('is safe on noeviction everywhere, allowed when listed, unsafe otherwise (naming the nodes)', () => {
    expect(evaluateEvictionPolicy([report('noeviction')], [])).toEqual({ kind: 'safe', policies: ['noeviction'] });
    expect(evaluateEvictionPolicy([report('noeviction'), report('allkeys-lru', 'h:2')], ['allkeys-lru']).kind).toBe('allowed');
    expect(evaluateEvictionPolicy([report('noeviction'), report('volatile-lru', 'h:2')], ['allkeys-lru'])).toEqual({
      kind: 'unsafe',
      policies: ['noeviction', 'volatile-lru'],
      nodes: ['h:2 (volatile-lru)'],
    });
  });
});

describe('config of the safeguards', () => {
  it('defaults: refuse-old-tokens, checks every second, MAX_CLOCK_SKEW 10 s measured every 10 s, no evicting policy allowed', () => {
    const { config } = loadConfig({ JWT_SECRET: SECRET, REDIS_URL: 'redis://r:6379' });
    expect(config.redis.dataLoss).toBe('refuse-old-tokens');
    expect(config.redis.dataLossCheckIntervalMs).toBe(1000);
    expect(config.redis.allowEvictionPolicies).toEqual([]);
    expect(config.jwt.maxClockSkewSeconds).toBe(10);
    expect(config.jwt.clockSkewCheckIntervalMs).toBe(10_000);
  });

  it('parses the settings, and refuses bad values with one clear line', () => {
    const { config, warnings } = loadConfig({
      JWT_SECRET: SECRET,
      REDIS_URL: 'redis://r:6379',
      REDIS_DATA_LOSS: 'ignore',
      REDIS_ALLOW_EVICTION_POLICY: 'allkeys-lru, Volatile-TTL',
      MAX_CLOCK_SKEW: '30',
    });
    expect(config.redis.dataLoss).toBe('ignore');
    expect(config.redis.allowEvictionPolicies).toEqual(['allkeys-lru', 'volatile-ttl']);
    expect(config.jwt.maxClockSkewSeconds).toBe(30);
    expect(warnings.join('\n')).toMatch(/REDIS_DATA_LOSS=ignore: .*revoked tokens work again/);
    expect(() => loadConfig({ REDIS_DATA_LOSS: 'refuse' })).toThrow(/REDIS_DATA_LOSS must be refuse-old-tokens or ignore/);
    expect(() => loadConfig({ REDIS_ALLOW_EVICTION_POLICY: 'lru' })).toThrow(/REDIS_ALLOW_EVICTION_POLICY must list maxmemory-policy values/);
    expect(() => loadConfig({ MAX_CLOCK_SKEW: '0' })).toThrow(/MAX_CLOCK_SKEW/);
    expect(() => loadConfig({ REDIS_DATA_LOSS_CHECK_MS: '5' })).toThrow(/REDIS_DATA_LOSS_CHECK_MS/);
  });
});

describe('SafeguardedRevocationStore', () => {
  const token: TokenRef = { userId: 'u', jti: 'j', expiresAt: 2000, issuedAt: 1000 };
  function inner(): RevocationStore & { isRevoked: ReturnType<typeof vi.fn> } {
    return {
      recordIssued: vi.fn(async () => {}),
      isRevoked: vi.fn(async () => false),
      revoke: vi.fn(async () => {}),
      revokeAllForUser: vi.fn(async () => 3),
      ping: vi.fn(async () => {}),
      close: vi.fn(async () => {}),
    };
  }

  it('refuses a token issued before the cutoff as revoked, without asking the store', async () => {
    const store = inner();
    const guarded = new SafeguardedRevocationStore({ inner: store, cutoffSeconds: () => 1001, unavailable: () => undefined });
    expect(await guarded.isRevoked(token)).toBe(true);
    expect(store.isRevoked).not.toHaveBeenCalled();
    expect(await guarded.isRevoked({ ...token, issuedAt: 1001 })).toBe(false);
    expect(store.isRevoked).toHaveBeenCalledTimes(1);
  });

  it('while unavailable (clock beyond MAX_CLOCK_SKEW, markers unread): lookups and issuing fail as a store outage; revocations still go through', async () => {
    const store = inner();
    const guarded = new SafeguardedRevocationStore({ inner: store, cutoffSeconds: () => 0, unavailable: () => "this host's clock is 60.0 s from Redis'" });
    await expect(guarded.isRevoked(token)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(guarded.recordIssued(token)).rejects.toThrow(/recordIssued/);
    expect(store.recordIssued).not.toHaveBeenCalled();
    await guarded.revoke(token);
    expect(await guarded.revokeAllForUser('u', token)).toBe(3);
    expect(store.revoke).toHaveBeenCalledTimes(1);
  });
});
