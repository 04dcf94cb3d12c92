import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const SECRET = 'x'.repeat(32);

describe('config', () => {
  it('has working defaults in development, with loud warnings', () => {
    const { config, warnings } = loadConfig({});
    expect(config.production).toBe(false);
    expect(config.port).toBe(4000);
    expect(config.redis.url).toBeUndefined();
    expect(config.jwt.ttlSeconds).toBe(900);
    expect(config.jwt.generatedSecret).toBe(true);
    expect(warnings.join('\n')).toMatch(/EMBEDDED IN-PROCESS/);
    expect(warnings.join('\n')).toMatch(/JWT_SECRET is not set/);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
  });

  it('refuses production without REDIS_URL or JWT_SECRET', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:1' })).toThrow(/JWT_SECRET is required/);
    expect(loadConfig({ NODE_ENV: 'production', REDIS_URL: 'redis://r:6379', JWT_SECRET: SECRET }).warnings).toEqual([]);
  });

  it('refuses a JWT_SECRET under 32 bytes and bad numbers', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/at least 32 bytes/);
    expect(() => loadConfig({ ACCESS_TOKEN_TTL: '0' })).toThrow(/ACCESS_TOKEN_TTL/);
    expect(() => loadConfig({ ACCESS_TOKEN_TTL: '15m' })).toThrow(/ACCESS_TOKEN_TTL/);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
    // A URL of another scheme: one line (credentials masked), never a connection to something else.
    expect(() => loadConfig({ REDIS_URL: 'http://user:secret@127.0.0.1:6379' })).toThrow('REDIS_URL must start with redis:// or rediss:// (TLS), got "http://***@127.0.0.1:6379"');
    expect(() => loadConfig({ REDIS_URL: '127.0.0.1:6379' })).toThrow(/REDIS_URL must start with redis:\/\//);
    expect(loadConfig({ REDIS_URL: 'rediss://r:6380/2' }).config.redis).toMatchObject({ url: 'rediss://r:6380/2' });
  });

  it('reads issuer, audience, TTL and port', () => {
    const { config } = loadConfig({ JWT_SECRET: SECRET, JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'api', ACCESS_TOKEN_TTL: '60', PORT: '8080' });
    expect(config.jwt).toMatchObject({ issuer: 'https://auth.example', audience: 'api', ttlSeconds: 60, generatedSecret: false });
    expect(config.port).toBe(8080);
  });
});

describe('config: the verification cache', () => {
  it('remembers 10,000 verified tokens by default; JWT_VERIFY_CACHE_SIZE=0 turns it off; refuses bad values', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).config.jwt.verifyCacheSize).toBe(10_000);
    expect(loadConfig({ JWT_SECRET: SECRET, JWT_VERIFY_CACHE_SIZE: '0' }).config.jwt.verifyCacheSize).toBe(0);
    expect(loadConfig({ JWT_SECRET: SECRET, JWT_VERIFY_CACHE_SIZE: '500' }).config.jwt.verifyCacheSize).toBe(500);
    expect(() => loadConfig({ JWT_SECRET: SECRET, JWT_VERIFY_CACHE_SIZE: '-1' })).toThrow(/JWT_VERIFY_CACHE_SIZE/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, JWT_VERIFY_CACHE_SIZE: 'lots' })).toThrow(/JWT_VERIFY_CACHE_SIZE/);
  });
});

describe('config: sessions', () => {
  it('has the issue\'s defaults; takes any positive number of seconds; the grace may be 0; refuses the rest', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).config.sessions).toEqual({ refreshTokenTtlSeconds: 2_592_000, idleTtlSeconds: 604_800, reuseGraceSeconds: 10 });
    const { config } = loadConfig({ JWT_SECRET: SECRET, REFRESH_TOKEN_TTL: '3', SESSION_IDLE_TTL: '2', REFRESH_REUSE_GRACE_SECONDS: '0' });
    expect(config.sessions).toEqual({ refreshTokenTtlSeconds: 3, idleTtlSeconds: 2, reuseGraceSeconds: 0 });
    expect(() => loadConfig({ REFRESH_TOKEN_TTL: '0' })).toThrow(/REFRESH_TOKEN_TTL/);
    expect(() => loadConfig({ SESSION_IDLE_TTL: '-5' })).toThrow(/SESSION_IDLE_TTL/);
    expect(() => loadConfig({ REFRESH_REUSE_GRACE_SECONDS: 'ten' })).toThrow(/REFRESH_REUSE_GRACE_SECONDS/);
  });
});

describe('config: live connections (WS_*)', () => {
  it('has the documented defaults, WS_MAX_CONNECTIONS=0 turns WebSocket off, and refuses bad values', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).config.live).toEqual({
      maxConnections: 10_000,
      maxSubscriptionsPerSocket: 20,
      connectionInitTimeoutMs: 3000,
      keepAliveMs: 12_000,
      recheckIntervalSeconds: 60,
    });
    expect(loadConfig({ JWT_SECRET: SECRET, WS_MAX_CONNECTIONS: '0', WS_RECHECK_INTERVAL_SECONDS: '0' }).config.live).toMatchObject({
      maxConnections: 0,
      recheckIntervalSeconds: 0,
    });
    expect(() => loadConfig({ JWT_SECRET: SECRET, WS_MAX_CONNECTIONS: 'many' })).toThrow(/WS_MAX_CONNECTIONS/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '0' })).toThrow(/WS_MAX_SUBSCRIPTIONS_PER_SOCKET/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, WS_CONNECTION_INIT_TIMEOUT_MS: '5' })).toThrow(/WS_CONNECTION_INIT_TIMEOUT_MS/);
  });
});
