/**
 * Sign-in brute force and enumeration, over HTTP against the real server: failures limited
 * per username and per client address in Redis (shared by instances), RATE_LIMITED (429)
 * until the window passes even for the right password, keys free of raw usernames and
 * passwords, X-Forwarded-For trusted only under TRUST_PROXY, and an unknown username
 * hashed against the dummy hash.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { createServer } from '../../src/server/create-server.js';
import { MemoryUserStore } from '../../src/users/memory-user-store.js';
import { addressBucket } from '../../src/auth/sign-in-limiter.js';
import { createPasswordHasher, type PasswordHasher } from '../../src/auth/password.js';
import { clientAddress } from '../../src/server/client-address.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { waitFor } from '../helpers/wait-for.js';
import { httpRequest, startTestServer, TEST_SECRET, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';

const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }';

function signIn(server: TestServer, username: string, password: string, headers?: Record<string, string>): Promise<HttpAnswer> {
  return server.graphql(SIGN_IN, { variables: { u: username, p: password }, ...(headers ? { headers } : {}) });
}

function expectInvalidCredentials(answer: HttpAnswer) {
  expect(answer.status).toBe(200);
  expect(answer.body.data).toBeNull();
  expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
}

function expectRateLimited(answer: HttpAnswer, maxWaitSeconds: number) {
  expect(answer.status).toBe(429);
  expect(answer.body.data).toBeNull();
  expect(answer.body.errors[0].extensions.code).toBe('RATE_LIMITED');
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxWaitSeconds);
  expect(answer.body.errors[0].extensions.retryAfterSeconds).toBe(retryAfter);
}

describe('sign-in limit per username (Redis, defaults: 10 failures in 15 minutes)', () => {
  let server: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    server = await startTestServer({ redisUrl });
    // Another instance on the same Redis and key prefix.
    second = await startTestServer({ redisUrl, keyPrefix: server.config.redis.keyPrefix });
  });
  afterAll(async () => {
    await server.close();
    await second.close();
  });

  it('refuses the 11th attempt after 10 failures with 429 RATE_LIMITED, even with the right password, on every instance', async () => {
    const user = await server.signUp();
    for (let i = 0; i < 10; i++) expectInvalidCredentials(await signIn(i % 2 ? server : second, user.username, `wrong password ${i}`));
    expectRateLimited(await signIn(server, user.username, user.password), 900);
    expectRateLimited(await signIn(second, user.username, user.password), 900);
    // The username is normalised: case and compatibility forms share the counter.
    expectRateLimited(await signIn(second, user.username.toUpperCase(), user.password), 900);
    // Other users are not affected.
    const other = await server.signUp();
    expect((await signIn(server, other.username, other.password)).body.data.signIn.accessToken).toEqual(expect.any(String));
  });

  it('limits an unknown username exactly like a known one (no enumeration through the limit)', async () => {
    const ghost = uniqueUsername('ghost');
    for (let i = 0; i < 10; i++) expectInvalidCredentials(await signIn(server, ghost, `guess ${i} password`));
    expectRateLimited(await signIn(server, ghost, 'guess 11 password'), 900);
  });

  it('forgets the failures of a username after a successful sign-in', async () => {
    const user = await server.signUp();
    for (let i = 0; i < 9; i++) expectInvalidCredentials(await signIn(server, user.username, `wrong password ${i}`));
    expect((await signIn(server, user.username, user.password)).status).toBe(200);
    for (let i = 0; i < 9; i++) expectInvalidCredentials(await signIn(server, user.username, `wrong password ${i}`));
    expect((await signIn(server, user.username, user.password)).body.data.signIn.accessToken).toEqual(expect.any(String));
  });

  it('keeps its counters in Redis under the key prefix, with a TTL, and no raw username or password in any key', async () => {
    const user = await server.signUp(uniqueUsername('keyscan'), 'Pa55word-in-clear');
    expectInvalidCredentials(await signIn(server, user.username, 'Pa55word-in-clear?'));
    // A password typed into the username field:
    expectInvalidCredentials(await signIn(server, 'MySecretPassw0rd', 'x'.repeat(10)));
    const prefix = `${server.config.redis.keyPrefix}:v1:signin:`;
    const keys = await server.redis!.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const key of keys) {
      expect(key.startsWith(prefix)).toBe(true);
      expect(key.toLowerCase()).not.toContain(user.username.toLowerCase());
      expect(key.toLowerCase()).not.toContain('mysecretpassw0rd');
      expect(key).not.toContain('Pa55word');
      const ttl = await server.redis!.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      // Failures: SIGNIN_FAILURE_WINDOW (900 s); successful sign-ins (:su:, :sa:): SIGNIN_SUCCESS_WINDOW (3600 s).
      expect(ttl).toBeLessThanOrEqual(/:s[ua]:/.test(key) ? 3600 : 900);
    }
    expect(keys.some((key) => key === `${prefix}a:127.0.0.1`)).toBe(true);
  });
});

describe('sign-in limit wired as main.ts wires it (createServer given no Redis client)', () => {
  it('opens its own Redis connection for the counters, shared by instances, and closes it', async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = `bfmain${process.pid}x${Date.now().toString(36)}`;
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix, JWT_SECRET: TEST_SECRET, SIGNIN_MAX_FAILURES_PER_USERNAME: '2' };
    const users = new MemoryUserStore();
    const apps = await Promise.all(
      [0, 1].map(() =>
        createServer({
          config: loadConfig(env).config,
          revocations: new MemoryRevocationStore({ sweepIntervalMs: 0 }),
          users,
          logger: pino({ level: 'silent' }),
          passwords: createPasswordHasher({ cost: 1024 }),
        }),
      ),
    );
    try {
      const urls = await Promise.all(apps.map(async (app) => (await app.listen(0)).url));
      const post = (url: string, u: string, p: string) =>
        httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: SIGN_IN, variables: { u, p } }) });
      // The limiter's own client connects in the background; until then signIn is a 503 (fail closed).
      for (const url of urls) {
        await waitFor('the sign-in limiter connected', 2000, async () => ((await post(url, 'warmup_user', 'warm up password')).status === 503 ? undefined : true), () => '', 20);
      }
      const name = uniqueUsername('mainwired');
      expectInvalidCredentials(await post(urls[0]!, name, 'wrong password 1'));
      expectInvalidCredentials(await post(urls[1]!, name, 'wrong password 2'));
      expectRateLimited(await post(urls[0]!, name, 'wrong password 3'), 900);
      expectRateLimited(await post(urls[1]!, name, 'wrong password 3'), 900);
      const probe = new Redis(redisUrl);
      try {
        expect((await probe.keys(`${keyPrefix}:v1:signin:*`)).length).toBe(3); // 2 usernames, 1 address
      } finally {
        probe.disconnect();
      }
    } finally {
      for (const app of apps) await app.close();
    }
  });
});

describe('sign-in limit per client address', () => {
  let server: TestServer;
  let proxied: TestServer;
  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    server = await startTestServer({ redisUrl, env: { SIGNIN_MAX_FAILURES_PER_ADDRESS: '5' } });
    proxied = await startTestServer({ redisUrl, env: { SIGNIN_MAX_FAILURES_PER_ADDRESS: '5', TRUST_PROXY: '1' } });
  });
  afterAll(async () => {
    await server.close();
    await proxied.close();
  });

  it('refuses every username from an address after its failures, whatever X-Forwarded-For says without TRUST_PROXY', async () => {
    for (let i = 0; i < 5; i++) {
      expectInvalidCredentials(await signIn(server, uniqueUsername('spray'), 'password123', { 'x-forwarded-for': `203.0.113.${i}` }));
    }
    const user = await server.signUp();
    expectRateLimited(await signIn(server, user.username, user.password, { 'x-forwarded-for': '198.51.100.7' }), 900);
  });

  it('with TRUST_PROXY=1 limits the address the proxy reports', async () => {
    for (let i = 0; i < 5; i++) {
      expectInvalidCredentials(await signIn(proxied, uniqueUsername('spray'), 'password123', { 'x-forwarded-for': '203.0.113.9' }));
    }
    const user = await proxied.signUp();
    expectRateLimited(await signIn(proxied, user.username, user.password, { 'x-forwarded-for': '203.0.113.9' }), 900);
    // Another client behind the same proxy is not.
    expect((await signIn(proxied, user.username, user.password, { 'x-forwarded-for': '203.0.113.10' })).status).toBe(200);
  });

  it('takes the right address out of X-Forwarded-For, and buckets IPv6 by /64', () => {
    const req = (xff?: string) => ({ socket: { remoteAddress: '10.0.0.1' }, headers: xff ? { 'x-forwarded-for': xff } : {} }) as never;
    expect(clientAddress(req('1.1.1.1, 2.2.2.2'), 0)).toBe('10.0.0.1');
    expect(clientAddress(req('1.1.1.1, 2.2.2.2'), 1)).toBe('2.2.2.2');
    expect(clientAddress(req('1.1.1.1, 2.2.2.2'), 2)).toBe('1.1.1.1');
    expect(clientAddress(req('1.1.1.1'), 5)).toBe('1.1.1.1');
    expect(clientAddress(req(), 1)).toBe('10.0.0.1');
    expect(addressBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('192.0.2.1')).toBe('192.0.2.1');
  });
});

describe('the window', () => {
  it('lets the right password in again once the window has passed (Redis)', async () => {
    const server = await startTestServer({ redisUrl: requireRedisUrl(), env: { SIGNIN_MAX_FAILURES_PER_USERNAME: '2', SIGNIN_FAILURE_WINDOW: '1' } });
    try {
      const user = await server.signUp();
      expectInvalidCredentials(await signIn(server, user.username, 'wrong password 1'));
      expectInvalidCredentials(await signIn(server, user.username, 'wrong password 2'));
      expectRateLimited(await signIn(server, user.username, user.password), 1);
      await new Promise((resolve) => setTimeout(resolve, 1300));
      expect((await signIn(server, user.username, user.password)).body.data.signIn.accessToken).toEqual(expect.any(String));
    } finally {
      await server.close();
    }
  });

  it('limits in process memory when there is no Redis', async () => {
    const server = await startTestServer({ env: { SIGNIN_MAX_FAILURES_PER_USERNAME: '3' } });
    try {
      const user = await server.signUp();
      for (let i = 0; i < 3; i++) expectInvalidCredentials(await signIn(server, user.username, `wrong password ${i}`));
      expectRateLimited(await signIn(server, user.username, user.password), 900);
    } finally {
      await server.close();
    }
  });
});

describe('enumeration by timing', () => {
  /** A real hasher that records which path each check took. */
  function spyHasher(cost: number) {
    const real = createPasswordHasher({ cost });
    const calls = { verify: 0, verifyDummy: 0 };
    const hasher: PasswordHasher = {
      hash: (password) => real.hash(password),
      verify: (password, stored) => {
        calls.verify += 1;
        return real.verify(password, stored);
      },
      verifyDummy: (password) => {
        calls.verifyDummy += 1;
        return real.verifyDummy(password);
      },
    };
    return { hasher, calls };
  }

  it('hashes an unknown or malformed username against the dummy hash, a known one against its own', async () => {
    const { hasher, calls } = spyHasher(1024);
    const server = await startTestServer({ passwords: hasher });
    try {
      const user = await server.signUp();
      expectInvalidCredentials(await signIn(server, uniqueUsername('nobody'), 'some password'));
      expect(calls).toEqual({ verify: 0, verifyDummy: 1 });
      expectInvalidCredentials(await signIn(server, 'not a valid name!', 'some password'));
      expect(calls).toEqual({ verify: 0, verifyDummy: 2 });
      expectInvalidCredentials(await signIn(server, user.username, 'wrong password'));
      expect(calls).toEqual({ verify: 1, verifyDummy: 2 });
      const unknown = await signIn(server, uniqueUsername('nobody'), 'some password');
      const known = await signIn(server, user.username, 'wrong password');
      // The same answer, byte for byte.
      expect(unknown.text).toBe(known.text);
    } finally {
      await server.close();
    }
  });

  it('takes about as long for an unknown username as for a wrong password (medians, loosely)', async () => {
    // The dummy hash has the configured cost, so both paths run one scrypt of the same cost.
    const server = await startTestServer({ passwords: createPasswordHasher({ cost: 16384 }), env: { SIGNIN_MAX_FAILURES_PER_USERNAME: '100' } });
    try {
      const user = await server.signUp();
      await signIn(server, uniqueUsername('warm'), 'warm up the dummy');
      const time = async (username: string) => {
        const started = performance.now();
        expectInvalidCredentials(await signIn(server, username, 'wrong password'));
        return performance.now() - started;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 7; i++) {
        known.push(await time(user.username));
        unknown.push(await time(uniqueUsername('nobody')));
      }
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
      const ratio = median(unknown) / median(known);
      // Loose on purpose (shared CPUs): a skipped hash would be a ratio near 0.
      expect(ratio).toBeGreaterThan(0.4);
      expect(ratio).toBeLessThan(2.5);
    } finally {
      await server.close();
    }
  });
});
