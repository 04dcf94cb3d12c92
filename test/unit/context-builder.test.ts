import { GraphQLError } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import type { TokenRef } from '../../src/auth/token.js';
import { createTokenIssuer } from '../../src/auth/token-issuer.js';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { authorizationFromRequest, createContextBuilder, type AuthOutcome } from '../../src/context/context-builder.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';
import { secretKey } from '../helpers/tokens.js';

const key = secretKey('context-test-secret-0123456789abcdefgh');
const NOW = 1_800_000_000_000;
const options = { issuer: 'graphql-revoke', audience: 'graphql-revoke', now: () => NOW };
const issuer = createTokenIssuer({ key, ...options });
const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...options });

function setup(revocations: RevocationStore = new MemoryRevocationStore({ now: () => NOW, sweepIntervalMs: 0 }), lookupTimeoutMs?: number) {
  const outcomes: AuthOutcome[] = [];
  const build = createContextBuilder({ verifier, revocations, onOutcome: (o) => outcomes.push(o), ...(lookupTimeoutMs ? { lookupTimeoutMs } : {}) });
  return { build, outcomes, revocations };
}

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphQLError);
  const ext = (error as GraphQLError).extensions as { code: string; reason?: string; http: { status: number; headers: Map<string, string> } };
  return { code: ext.code, reason: ext.reason, status: ext.http.status, challenge: ext.http.headers.get('www-authenticate') };
}

describe('context builder', () => {
  it('is anonymous without an Authorization header', async () => {
    const { build, outcomes } = setup();
    expect(await build({})).toEqual({ auth: { kind: 'anonymous' } });
    expect(await build({ authorization: [] })).toEqual({ auth: { kind: 'anonymous' } });
    expect(outcomes).toEqual(['missing', 'missing']);
  });

  it('authenticates a valid bearer token (scheme case-insensitive)', async () => {
    const { build } = setup();
    const issued = issuer.issue({ id: 'u1', username: 'alice' });
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const context = await build({ authorization: `${scheme} ${issued.token}` });
      expect(context.auth).toEqual({ kind: 'authenticated', token: expect.objectContaining({ userId: 'u1', jti: issued.jti }) });
    }
  });

  it('refuses a revoked token with 401 TOKEN_REVOKED and the RFC 6750 challenge', async () => {
    const { build, revocations, outcomes } = setup();
    const issued = issuer.issue({ id: 'u1', username: 'alice' });
    await revocations.revoke(issued);
    expect(await refusal(build({ authorization: `Bearer ${issued.token}` }))).toEqual({
      code: 'UNAUTHENTICATED',
      reason: 'TOKEN_REVOKED',
      status: 401,
      challenge: 'Bearer error="invalid_token"',
    });
    expect(outcomes).toEqual(['revoked']);
  });

  it('refuses an invalid token with 401 TOKEN_INVALID', async () => {
    const { build } = setup();
    expect(await refusal(build({ authorization: 'Bearer abc.def.ghi' }))).toMatchObject({ status: 401, reason: 'TOKEN_INVALID' });
  });

  it('refuses malformed headers: another scheme, an empty token, two values', async () => {
    const { build } = setup();
    const { token } = issuer.issue({ id: 'u1', username: 'alice' });
    for (const authorization of [`Basic ${token}`, 'Bearer', 'Bearer ', '', token, `Bearer ${token} extra`, [`Bearer ${token}`, `Bearer ${token}`]]) {
      expect(await refusal(build({ authorization }))).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reason: 'TOKEN_INVALID' });
    }
  });

  it('says the token is missing when the header is "Bearer " with an empty or unset token, not "not a Bearer token"', async () => {
    const { build } = setup();
    const message = async (authorization: string) =>
      (await build({ authorization }).then(() => undefined, (e: unknown) => e) as GraphQLError).message;
    for (const authorization of ['Bearer', 'Bearer ', 'bearer   ']) {
      expect(await message(authorization)).toBe('Malformed Authorization header: the Bearer token is missing (empty). Expected "Authorization: Bearer <token>".');
    }
    for (const word of ['undefined', 'null']) {
      expect(await message(`Bearer ${word}`)).toBe(
        `Malformed Authorization header: the Bearer token is missing (got the word "${word}": an unset variable in the client?). Expected "Authorization: Bearer <token>".`,
      );
      expect(await refusal(build({ authorization: `Bearer ${word}` }))).toEqual({
        code: 'UNAUTHENTICATED',
        reason: 'TOKEN_INVALID',
        status: 401,
        challenge: 'Bearer error="invalid_request"',
      });
    }
    expect(await message('Basic abc')).toBe('Malformed Authorization header: not a Bearer token (another scheme, or no scheme). Expected "Authorization: Bearer <token>".');
    expect(await message('Bearer a b')).toBe('Malformed Authorization header: the Bearer token must be one word, without spaces. Expected "Authorization: Bearer <token>".');
  });

  it('fails closed with 503 AUTH_UNAVAILABLE when the store errors', async () => {
    const failing = { isRevoked: async () => { throw new StoreUnavailableError('isRevoked'); } } as unknown as RevocationStore;
    const { build, outcomes } = setup(failing);
    const { token } = issuer.issue({ id: 'u1', username: 'alice' });
    expect(await refusal(build({ authorization: `Bearer ${token}` }))).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
    expect(outcomes).toEqual(['unavailable']);
  });

  it('fails closed with 503 when the store never answers, after the lookup timeout', async () => {
    const hanging = { isRevoked: () => new Promise<boolean>(() => {}) } as unknown as RevocationStore;
    const { build } = setup(hanging, 50);
    const { token } = issuer.issue({ id: 'u1', username: 'alice' });
    const started = Date.now();
    expect(await refusal(build({ authorization: `Bearer ${token}` }))).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('sets no timer of its own for a store that bounds its lookups, and one per lookup for a store that does not', async () => {
    const { token } = issuer.issue({ id: 'u1', username: 'alice' });
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      const bounded = { lookupBoundMs: 500, isRevoked: async () => false } as unknown as RevocationStore;
      await setup(bounded, 1000).build({ authorization: `Bearer ${token}` });
      expect(timers).not.toHaveBeenCalled();
      const unbounded = { isRevoked: async () => false } as unknown as RevocationStore;
      await setup(unbounded, 1000).build({ authorization: `Bearer ${token}` });
      expect(timers).toHaveBeenCalledTimes(1);
    } finally {
      timers.mockRestore();
    }
  });

  it('keeps its own timer when the store says its bound is above the lookup timeout (503 after the timeout)', async () => {
    const slowBound = { lookupBoundMs: 60_000, isRevoked: () => new Promise<boolean>(() => {}) } as unknown as RevocationStore;
    const { build, outcomes } = setup(slowBound, 50);
    const { token } = issuer.issue({ id: 'u1', username: 'alice' });
    const started = Date.now();
    expect(await refusal(build({ authorization: `Bearer ${token}` }))).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(outcomes).toEqual(['unavailable']);
  });

  it('asks the store exactly once per request, and only for a verified token', async () => {
    const calls: TokenRef[] = [];
    const counting = { isRevoked: async (t: TokenRef) => (calls.push(t), false) } as unknown as RevocationStore;
    const { build } = setup(counting);
    const issued = issuer.issue({ id: 'u1', username: 'alice' });
    await build({ authorization: `Bearer ${issued.token}` });
    await build({ authorization: 'Bearer not.a.token' }).catch(() => {});
    expect(calls).toEqual([expect.objectContaining({ userId: 'u1', jti: issued.jti })]);
  });

  describe('begun early (start), finished once the request is read', () => {
    it('sends the lookup at start; the builder given the started check asks nothing more and builds the same context', async () => {
      const calls: TokenRef[] = [];
      const counting = { batchesLookups: true, isRevoked: async (t: TokenRef) => (calls.push(t), false) } as unknown as RevocationStore;
      const { build, outcomes } = setup(counting);
      const issued = issuer.issue({ id: 'u1', username: 'alice' });
      const started = build.start?.(`Bearer ${issued.token}`);
      expect(calls).toHaveLength(1);
      expect(started).toMatchObject({ kind: 'checking', leavesAtTurnEnd: true });
      expect(outcomes).toEqual([]);
      const context = await build({ started, userAgent: 'ua' });
      expect(context).toEqual({ auth: { kind: 'authenticated', token: expect.objectContaining({ jti: issued.jti }) }, userAgent: 'ua' });
      expect(calls).toHaveLength(1);
      expect(outcomes).toEqual(['ok']);
      expect(setup().build.start?.(`Bearer ${issued.token}`)).toMatchObject({ kind: 'checking', leavesAtTurnEnd: false });
    });

    it('decides a refusal only when finished: a sign-in with a dead token runs anonymous, anything else is 401', async () => {
      const { build, outcomes } = setup();
      const started = build.start?.('Bearer not.a.token');
      expect(started).toMatchObject({ kind: 'refused', outcome: 'invalid' });
      expect(outcomes).toEqual([]);
      const signIn = { body: { query: 'mutation { signIn(username: "a", password: "b") { accessToken } }' } };
      expect(await build({ started, request: signIn })).toEqual({ auth: { kind: 'anonymous' } });
      expect(await refusal(build({ started, request: { body: { query: '{ me { id } }' } } }))).toMatchObject({ status: 401, reason: 'TOKEN_INVALID' });
      expect(build.start?.(undefined)).toEqual({ kind: 'none' });
    });

    it('leaves no unhandled rejection when a started lookup fails and the request ends before its context (a body refused 400)', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const failing = { isRevoked: () => Promise.reject(new StoreUnavailableError('isRevoked')) } as unknown as RevocationStore;
        const { token } = issuer.issue({ id: 'u1', username: 'alice' });
        expect(setup(failing).build.start?.(`Bearer ${token}`)).toMatchObject({ kind: 'checking' });
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('fails closed when the started lookup fails (503), as when built at once', async () => {
      const failing = { isRevoked: () => { throw new StoreUnavailableError('isRevoked'); } } as unknown as RevocationStore;
      const { build, outcomes } = setup(failing);
      const { token } = issuer.issue({ id: 'u1', username: 'alice' });
      expect(await refusal(build({ started: build.start?.(`Bearer ${token}`) }))).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
      expect(outcomes).toEqual(['unavailable']);
    });
  });

  it('reads every Authorization value from raw headers (Node drops duplicates from req.headers)', () => {
    expect(authorizationFromRequest({ rawHeaders: ['Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b'] })).toEqual(['Bearer a', 'Bearer b']);
    expect(authorizationFromRequest({ rawHeaders: ['Host', 'x'] })).toEqual([]);
  });
});
