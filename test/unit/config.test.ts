import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
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
    const limits = { maxPerUser: 50, limitPolicy: 'evict-oldest', maxRefreshFailuresPerAddress: 100, refreshFailureWindowSeconds: 900 };
    expect(loadConfig({ JWT_SECRET: SECRET }).config.sessions).toEqual({ refreshTokenTtlSeconds: 2_592_000, idleTtlSeconds: 604_800, reuseGraceSeconds: 10, ...limits });
    const { config } = loadConfig({ JWT_SECRET: SECRET, REFRESH_TOKEN_TTL: '3', SESSION_IDLE_TTL: '2', REFRESH_REUSE_GRACE_SECONDS: '0' });
    expect(config.sessions).toEqual({ refreshTokenTtlSeconds: 3, idleTtlSeconds: 2, reuseGraceSeconds: 0, ...limits });
    expect(loadConfig({ JWT_SECRET: SECRET, SESSIONS_MAX_PER_USER: '3', SESSIONS_LIMIT_POLICY: 'refuse-new' }).config.sessions).toMatchObject({ maxPerUser: 3, limitPolicy: 'refuse-new' });
    expect(() => loadConfig({ SESSIONS_LIMIT_POLICY: 'evict-newest' })).toThrow(/SESSIONS_LIMIT_POLICY must be evict-oldest or refuse-new/);
    expect(() => loadConfig({ SESSIONS_MAX_PER_USER: '0' })).toThrow(/SESSIONS_MAX_PER_USER/);
    expect(loadConfig({ JWT_SECRET: SECRET }).config.signIn).toMatchObject({ maxSuccessesPerUsername: 30, maxSuccessesPerAddress: 300, successWindowSeconds: 3600 });
    expect(() => loadConfig({ REFRESH_TOKEN_TTL: '0' })).toThrow(/REFRESH_TOKEN_TTL/);
    expect(() => loadConfig({ SESSION_IDLE_TTL: '-5' })).toThrow(/SESSION_IDLE_TTL/);
    expect(() => loadConfig({ REFRESH_REUSE_GRACE_SECONDS: 'ten' })).toThrow(/REFRESH_REUSE_GRACE_SECONDS/);
  });
});

describe('config: live connections (WS_*)', () => {
  it('has the documented defaults, WS_MAX_CONNECTIONS=0 turns WebSocket off, and refuses bad values', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).config.live).toEqual({
      maxConnections: 900,
      maxConnectionsPerAddress: 50,
      maxAnonymousConnections: 450,
      anonymousIdleMs: 30_000,
      maxOperationsPerSecond: 50,
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
    expect(() => loadConfig({ JWT_SECRET: SECRET, WS_MAX_OPERATIONS_PER_SECOND: '0' })).toThrow(/WS_MAX_OPERATIONS_PER_SECOND/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, WS_ANONYMOUS_IDLE_MS: 'soon' })).toThrow(/WS_ANONYMOUS_IDLE_MS/);
  });

  it('keeps HTTP_RESERVED_CONNECTIONS of HTTP_MAX_CONNECTIONS out of the sockets\' reach: WS_MAX_CONNECTIONS defaults under it, and above it refuses to start', () => {
    const { config } = loadConfig({ JWT_SECRET: SECRET, HTTP_MAX_CONNECTIONS: '5000' });
    expect(config.http.limits.reservedConnections).toBe(500);
    expect(config.live.maxConnections).toBe(4500);
    expect(config.live.maxAnonymousConnections).toBe(2250);
    expect(loadConfig({ JWT_SECRET: SECRET, HTTP_MAX_CONNECTIONS: '2000', HTTP_RESERVED_CONNECTIONS: '50', WS_MAX_CONNECTIONS: '1950' }).config.live.maxConnections).toBe(1950);
    expect(() => loadConfig({ JWT_SECRET: SECRET, WS_MAX_CONNECTIONS: '10000' })).toThrow(
      'WS_MAX_CONNECTIONS (10000) must not exceed HTTP_MAX_CONNECTIONS (1000) minus HTTP_RESERVED_CONNECTIONS (100) = 900: upgraded sockets count against HTTP_MAX_CONNECTIONS',
    );
    expect(() => loadConfig({ JWT_SECRET: SECRET, HTTP_MAX_CONNECTIONS: '100', HTTP_RESERVED_CONNECTIONS: '100' })).toThrow(/HTTP_RESERVED_CONNECTIONS \(100\) must be below HTTP_MAX_CONNECTIONS \(100\)/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, WS_MAX_CONNECTIONS: '10', WS_MAX_ANONYMOUS_CONNECTIONS: '11' })).toThrow(/WS_MAX_ANONYMOUS_CONNECTIONS \(11\) must not exceed WS_MAX_CONNECTIONS \(10\)/);
  });
});

describe('config: OAuth clients (OAUTH_*)', () => {
  const A = 'a-secret-that-is-long-enough-0123456789';
  const B = 'b:secret/with+colon=and-more-0123456789';

  it('is off by default, with the documented limits', () => {
    const { oauth } = loadConfig({}).config;
    expect(oauth).toEqual({ clients: [], maxRequestsPerClient: 2000, maxRequestsPerAddress: 2000, maxAuthFailuresPerAddress: 10 });
  });

  it('reads id:secret pairs (a secret may hold ":") from OAUTH_CLIENTS and from OAUTH_CLIENTS_FILE', () => {
    expect(loadConfig({ OAUTH_CLIENTS: ` gateway:${A} , rest:${B} ` }).config.oauth.clients).toEqual([
      { id: 'gateway', secret: A },
      { id: 'rest', secret: B },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'oauth-clients-'));
    const file = join(dir, 'clients');
    writeFileSync(file, `# the gateway\ngateway:${A}\n\nrest:${B}\n`);
    try {
      expect(loadConfig({ OAUTH_CLIENTS_FILE: file }).config.oauth.clients.map((c) => c.id)).toEqual(['gateway', 'rest']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad entries with a clear error that never quotes a secret', () => {
    const cases = [`gateway:short`, `:${A}`, `gateway`, `gateway:${A},gateway:${B}`, `gate way:${A}`, `gateway:${A} with space`];
    for (const value of cases) {
      let error: unknown;
      try {
        loadConfig({ OAUTH_CLIENTS: value });
      } catch (e) {
        error = e;
      }
      expect(error, value).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain(A);
      expect((error as Error).message).not.toContain('short');
    }
    expect(() => loadConfig({ OAUTH_CLIENTS: `gateway:${A}`, OAUTH_CLIENTS_FILE: '/nonexistent' })).toThrow(/only one of OAUTH_CLIENTS and OAUTH_CLIENTS_FILE/);
    expect(() => loadConfig({ OAUTH_CLIENTS_FILE: '/nonexistent/clients' })).toThrow(/OAUTH_CLIENTS_FILE could not be read \(ENOENT\)/);
    expect(() => loadConfig({ OAUTH_MAX_REQUESTS_PER_CLIENT: '0' })).toThrow(ConfigError);
  });
});
