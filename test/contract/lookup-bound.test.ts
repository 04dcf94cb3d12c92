/**
 * The per-request lookup is bounded by the Redis client's own command timeout, not by a timer
 * per request: RedisRevocationStore says so (lookupBoundMs), every layer in front of it passes
 * it on, and a Redis that stops answering (SIGSTOP) still fails the request closed, 503
 * AUTH_UNAVAILABLE, within that timeout, with the context builder's own timeout far above it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import type { Redis } from 'ioredis';
import { createTokenIssuer } from '../../src/auth/token-issuer.js';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { createContextBuilder, type AuthOutcome } from '../../src/context/context-builder.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { withRevocationEvents } from '../../src/live/publishing-store.js';
import { createMemoryEventBus } from '../../src/live/revocation-events.js';
import { CachedRevocationStore } from '../../src/revocation/cached-store.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import { createRedisClient } from '../../src/redis/redis-client.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { SafeguardedRevocationStore } from '../../src/revocation/safeguarded-store.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { secretKey } from '../helpers/tokens.js';

const COMMAND_TIMEOUT_MS = 300;
const key = secretKey('lookup-bound-test-secret-0123456789abcdef');
const claims = { issuer: 'graphql-revoke', audience: 'graphql-revoke' };

describe('lookup bound', () => {
  let server: RedisServerProcess;
  let client: Redis;

  beforeAll(async () => {
    server = await startRedisServer({ appendonly: false });
    client = createRedisClient({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    // No offline queue (fail closed): wait for the connection before the first command.
    if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  });

  afterAll(async () => {
    client?.disconnect();
    await server?.cleanup();
  });

  function servedStore() {
    const redisStore = new RedisRevocationStore({ client, keyPrefix: 'lb' });
    const safeguarded = new SafeguardedRevocationStore({ inner: redisStore, cutoffSeconds: () => 0, unavailable: () => undefined });
    const published = withRevocationEvents(safeguarded, { events: createMemoryEventBus() });
    return { redisStore, served: new CachedRevocationStore({ inner: published }) };
  }

  it('is the client command timeout, passed on by every layer in front of the store', () => {
    const { redisStore, served } = servedStore();
    expect(redisStore.lookupBoundMs).toBe(COMMAND_TIMEOUT_MS);
    expect(served.lookupBoundMs).toBe(COMMAND_TIMEOUT_MS);
    expect(new MemoryRevocationStore({ sweepIntervalMs: 0 }).lookupBoundMs).toBe(0);
  });

  it('answers through the layers as the store does (revoked, not revoked)', async () => {
    const { served } = servedStore();
    const exp = Math.floor(Date.now() / 1000) + 600;
    const revoked = { userId: 'u-lb', jti: 'jti-revoked', expiresAt: exp, issuedAt: exp - 600 };
    const valid = { userId: 'u-lb', jti: 'jti-valid', expiresAt: exp, issuedAt: exp - 600 };
    await served.revoke(revoked);
    expect(await Promise.all([served.isRevoked(revoked), served.isRevoked(valid)])).toEqual([true, false]);
  });

  it('fails a request closed (503) within the command timeout when Redis stops answering, with no timer of the builder', async () => {
    const { served } = servedStore();
    const issuer = createTokenIssuer({ key, ...claims });
    const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...claims });
    const outcomes: AuthOutcome[] = [];
    const errors: unknown[] = [];
    // The builder's own timeout far above the store's bound: the store's timeout must end the wait.
    const build = createContextBuilder({ verifier, revocations: served, lookupTimeoutMs: 30_000, onOutcome: (o, _d, e) => (outcomes.push(o), errors.push(e)) });
    const { token } = issuer.issue({ id: 'u-lb', username: 'lb' });
    process.kill(server.pid, 'SIGSTOP');
    try {
      const started = performance.now();
      const error = await build({ authorization: `Bearer ${token}` }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const tookMs = performance.now() - started;
      expect(error).toBeInstanceOf(GraphQLError);
      const extensions = (error as GraphQLError).extensions as { code: string; http: { status: number } };
      expect(extensions.code).toBe('AUTH_UNAVAILABLE');
      expect(extensions.http.status).toBe(503);
      expect(outcomes).toEqual(['unavailable']);
      expect(errors[0]).toBeInstanceOf(StoreUnavailableError);
      expect(tookMs).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 50);
      expect(tookMs).toBeLessThan(COMMAND_TIMEOUT_MS + 1500);
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
  });
});
