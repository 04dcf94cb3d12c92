/**
 * signUp, over HTTP against the real server: limited per client address in Redis (shared by
 * instances), 429 RATE_LIMITED with Retry-After once over the limit; input checked and the
 * limit counted before the password is hashed; a taken username costs the same hash as a free
 * one; X-Forwarded-For trusted only under TRUST_PROXY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher, type PasswordHasher } from '../../src/auth/password.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';

const SIGN_UP = 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken } }';

function signUp(server: TestServer, username: string, password = 'correct horse battery', headers?: Record<string, string>): Promise<HttpAnswer> {
  return server.graphql(SIGN_UP, { variables: { u: username, p: password }, ...(headers ? { headers } : {}) });
}

function expectSignedUp(answer: HttpAnswer) {
  expect(answer.status, answer.text).toBe(200);
  expect(answer.body.data.signUp.accessToken).toEqual(expect.any(String));
}

function expectRateLimited(answer: HttpAnswer, maxWaitSeconds: number) {
  expect(answer.status).toBe(429);
  expect(answer.body.data).toBeNull();
  expect(answer.body.errors[0].extensions.code).toBe('RATE_LIMITED');
  expect(answer.body.errors[0].message).toBe('Too many sign-up attempts. Retry later.');
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxWaitSeconds);
  expect(answer.body.errors[0].extensions.retryAfterSeconds).toBe(retryAfter);
}

/** A cheap real hasher that counts its hashes. */
function countingHasher() {
  const real = createPasswordHasher({ cost: 1024 });
  const calls = { hash: 0 };
  const hasher: PasswordHasher = {
    hash: (password) => {
      calls.hash += 1;
      return real.hash(password);
    },
    verify: (password, stored) => real.verify(password, stored),
    verifyDummy: (password) => real.verifyDummy(password),
  };
  return { hasher, calls };
}

describe('signUp limit per client address (Redis)', () => {
  const { hasher, calls } = countingHasher();
  let server: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    server = await startTestServer({ redisUrl, passwords: hasher, env: { SIGNUP_MAX_PER_ADDRESS: '3', SIGNUP_WINDOW: '600' } });
    // Another instance on the same Redis and key prefix.
    second = await startTestServer({ redisUrl, passwords: hasher, keyPrefix: server.config.redis.keyPrefix, env: { SIGNUP_MAX_PER_ADDRESS: '3', SIGNUP_WINDOW: '600' } });
  });
  afterAll(async () => {
    await server.close();
    await second.close();
  });

  it('refuses the 4th sign-up from an address with 429 RATE_LIMITED and Retry-After, on every instance, without hashing or creating the user', async () => {
    expectSignedUp(await signUp(server, uniqueUsername('su')));
    expectSignedUp(await signUp(second, uniqueUsername('su')));
    // Whatever X-Forwarded-For says: without TRUST_PROXY the address is the socket's.
    expectSignedUp(await signUp(server, uniqueUsername('su'), undefined, { 'x-forwarded-for': '203.0.113.7' }));
    expect(calls.hash).toBe(3);
    const refused = uniqueUsername('refused');
    expectRateLimited(await signUp(server, refused), 600);
    expectRateLimited(await signUp(second, uniqueUsername('refused'), undefined, { 'x-forwarded-for': '198.51.100.1' }), 600);
    expect(calls.hash).toBe(3);
    expect(await server.users.findByUsername(refused)).toBeUndefined();
  });

  it('counts in one Redis key per address, under the key prefix, with the window as TTL', async () => {
    const key = `${server.config.redis.keyPrefix}:v1:signup:a:127.0.0.1`;
    expect(await server.redis!.keys(`${server.config.redis.keyPrefix}:v1:signup:*`)).toEqual([key]);
    const ttl = await server.redis!.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
  });
});

describe('signUp: cheap checks first, the same work for a taken name', () => {
  const { hasher, calls } = countingHasher();
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl(), passwords: hasher, env: { SIGNUP_MAX_PER_ADDRESS: '3' } });
  });
  afterAll(() => server.close());

  it('refuses invalid input (400-class BAD_USER_INPUT) before the limit and the hash: it costs neither', async () => {
    for (let i = 0; i < 5; i++) {
      const answer = await signUp(server, 'no spaces allowed!');
      expect(answer.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'username' });
      const short = await signUp(server, uniqueUsername('short'), 'short');
      expect(short.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password' });
      const long = await signUp(server, uniqueUsername('long'), 'x'.repeat(1025));
      expect(long.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password' });
    }
    expect(calls.hash).toBe(0);
    expect(await server.redis!.keys(`${server.config.redis.keyPrefix}:v1:signup:*`)).toEqual([]);
  });

  it('hashes a taken username exactly as a free one (one hash each), and counts both against the limit', async () => {
    const name = uniqueUsername('taken');
    expectSignedUp(await signUp(server, name));
    expect(calls.hash).toBe(1);
    const taken = await signUp(server, name, 'another password');
    expect(taken.status).toBe(200);
    expect(taken.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'username' });
    expect(calls.hash).toBe(2);
    // The third attempt of the window is still allowed, the fourth is not, taken or free.
    expectSignedUp(await signUp(server, uniqueUsername('free')));
    expectRateLimited(await signUp(server, name), 3600);
    expectRateLimited(await signUp(server, uniqueUsername('free')), 3600);
    expect(calls.hash).toBe(3);
  });
});

describe('signUp limit without Redis', () => {
  it('limits in process memory', async () => {
    const server = await startTestServer({ env: { SIGNUP_MAX_PER_ADDRESS: '2' } });
    try {
      expectSignedUp(await signUp(server, uniqueUsername('mem')));
      expectSignedUp(await signUp(server, uniqueUsername('mem')));
      expectRateLimited(await signUp(server, uniqueUsername('mem')), 3600);
    } finally {
      await server.close();
    }
  });
});
