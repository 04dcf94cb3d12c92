/**
 * Step-up freshness over the wire: auth_time in the tokens (set by a password check, kept by
 * refreshes), reauthenticate, and ADMIN_FRESH_AUTH_MAX_AGE on our admin mutations, over HTTP
 * and over WebSocket, on the Redis stores (their Lua scripts keep the auth time). The
 * instance's clock runs `ahead` seconds in front of the real one (Redis' TIME): the way to
 * let the password check grow old without waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPE, createUserAdmin } from '../../src/admin/user-admin.js';
import { openLive, type LiveConnection } from '../helpers/live.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, uniqueUsername, type TestServer } from '../helpers/test-server.js';
import { decodePayload } from '../helpers/tokens.js';

const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken session { id } } }';
const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }';
const REAUTH = 'mutation($p: String!) { reauthenticate(password: $p) { accessToken tokenType expiresAt authTime session { id current } } }';
const CANCEL_ALL_USER = 'mutation($id: ID!) { cancelAllUserTokens(userId: $id) }';
const ENABLE = 'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: false) }';
const MAX_AGE = 60;

/** Runs one operation on the socket and returns its single result. */
async function once(connection: LiveConnection, query: string, variables?: Record<string, unknown>) {
  const run = connection.subscribe(query, variables);
  await run.ended;
  return (run.results[0] ?? { errors: run.errors }) as { data?: Record<string, unknown> | null; errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[] };
}

describe('step-up freshness: auth_time, @requiresFreshAuth on the admin mutations, reauthenticate', () => {
  let api: TestServer;
  let off: TestServer;
  /** Seconds the API's clock runs ahead of Redis'. */
  let ahead = 0;
  let admin: { userId: string; username: string; password: string };
  let victimId: string;

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = `fresh${process.pid}x${Date.now().toString(36)}`;
    const now = () => Date.now() + ahead * 1000;
    [api, off] = await Promise.all([
      startTestServer({ redisUrl, keyPrefix, now, env: { ADMIN_FRESH_AUTH_MAX_AGE: String(MAX_AGE), SIGNIN_MAX_FAILURES_PER_USERNAME: '3' } }),
      // The default: unset, off.
      startTestServer({ redisUrl, keyPrefix, now }),
    ]);
    const root = await api.signUp(uniqueUsername('root'));
    await createUserAdmin({ users: api.users, revocations: api.revocations }).grantScopes({ kind: 'cli' }, root.userId, [ADMIN_SCOPE]);
    admin = root;
    victimId = (await api.signUp()).userId;
  });
  afterAll(async () => {
    await api?.close();
    await off?.close();
  });

  async function signIn(server: TestServer, username = admin.username, password = admin.password) {
    const answer = await server.graphql(SIGN_IN, { variables: { u: username, p: password } });
    const payload = answer.body?.data?.signIn;
    if (!payload) throw new Error(`signIn failed: ${answer.text}`);
    return payload as { accessToken: string; refreshToken: string; session: { id: string } };
  }

  it('stamps auth_time at sign-in and keeps it unchanged across refreshes (a refresh proves no password)', async () => {
    ahead = 0;
    const pair = await signIn(api);
    const first = decodePayload(pair.accessToken);
    expect(first.auth_time).toBe(first.iat);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const refreshed = (await api.graphql(REFRESH, { variables: { r: pair.refreshToken } })).body.data.refreshSession;
    const second = decodePayload(refreshed.accessToken);
    expect(second.iat as number).toBeGreaterThan(first.iat as number);
    expect(second.auth_time).toBe(first.auth_time);
    const again = (await api.graphql(REFRESH, { variables: { r: refreshed.refreshToken } })).body.data.refreshSession;
    expect(decodePayload(again.accessToken).auth_time).toBe(first.auth_time);
  });

  it('serves an admin mutation within ADMIN_FRESH_AUTH_MAX_AGE; past it INSUFFICIENT_USER_AUTHENTICATION with extensions.maxAge (HTTP 200)', async () => {
    ahead = 0;
    const { accessToken } = await signIn(api);
    const fresh = await api.graphql(CANCEL_ALL_USER, { variables: { id: victimId }, token: accessToken });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toEqual({ data: { cancelAllUserTokens: expect.any(Number) } });

    ahead = MAX_AGE + 2;
    const stale = await api.graphql(ENABLE, { variables: { id: victimId }, token: accessToken });
    expect(stale.status).toBe(200);
    // A refused non-null root mutation: data is null (the rest-of-the-response rule is shown on queries: test/unit/requires-fresh-auth-directive.test.ts).
    expect(stale.body.data).toBeNull();
    expect(stale.body.errors).toHaveLength(1);
    expect(stale.body.errors[0]).toMatchObject({ path: ['setUserDisabled'] });
    const { stacktrace: _s, ...extensions } = stale.body.errors[0].extensions;
    expect(extensions).toEqual({ code: 'INSUFFICIENT_USER_AUTHENTICATION', maxAge: MAX_AGE });

    // A query in the same state is served as before: only the admin mutations ask for freshness.
    expect((await api.graphql('{ me { id } }', { token: accessToken })).body).toEqual({ data: { me: { id: admin.userId } } });
    // The default instance (ADMIN_FRESH_AUTH_MAX_AGE unset) serves it with the same token.
    expect((await off.graphql(CANCEL_ALL_USER, { variables: { id: victimId }, token: accessToken })).body).toEqual({ data: { cancelAllUserTokens: expect.any(Number) } });
  });

  it('a refresh does not make the session fresh again; reauthenticate does, for the same session, and the refresh token stays valid', async () => {
    ahead = 0;
    const pair = await signIn(api);
    ahead = MAX_AGE + 5;
    const refreshed = (await api.graphql(REFRESH, { variables: { r: pair.refreshToken } })).body.data.refreshSession;
    const stale = await api.graphql(CANCEL_ALL_USER, { variables: { id: victimId }, token: refreshed.accessToken });
    expect(stale.body.errors[0].extensions).toMatchObject({ code: 'INSUFFICIENT_USER_AUTHENTICATION', maxAge: MAX_AGE });

    // auth_time is in seconds: let one pass so the new one is visibly later.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const answer = await api.graphql(REAUTH, { variables: { p: admin.password }, token: refreshed.accessToken });
    expect(answer.status).toBe(200);
    const fresh = answer.body.data.reauthenticate;
    expect(fresh).toMatchObject({ tokenType: 'Bearer', session: { id: pair.session.id, current: true } });
    const claims = decodePayload(fresh.accessToken);
    expect(claims.sid).toBe(pair.session.id);
    expect(claims.auth_time).toBe(claims.iat);
    expect(claims.auth_time as number).toBeGreaterThan(decodePayload(pair.accessToken).auth_time as number);
    expect(fresh.authTime).toBe(new Date((claims.auth_time as number) * 1000).toISOString());
    // Now: the mutation is served with the new token (auth_time is Redis' now, the clock MAX_AGE+5 ahead: still within).
    ahead = 0;
    expect((await api.graphql(CANCEL_ALL_USER, { variables: { id: victimId }, token: fresh.accessToken })).body).toEqual({ data: { cancelAllUserTokens: expect.any(Number) } });
    // The refresh token was not rotated by reauthenticate: it still refreshes, and carries the new auth_time.
    const next = (await api.graphql(REFRESH, { variables: { r: refreshed.refreshToken } })).body.data.refreshSession;
    expect(decodePayload(next.accessToken).auth_time).toBe(claims.auth_time);
  });

  it('over WebSocket: the same refusal with extensions.maxAge, then reauthenticate on the socket and renewConnection make the socket fresh', async () => {
    ahead = 0;
    const { accessToken } = await signIn(api);
    ahead = MAX_AGE + 2;
    const socket = openLive(api.wsUrl, accessToken);
    await socket.connected;
    const stale = await once(socket, CANCEL_ALL_USER, { id: victimId });
    expect(stale.data).toBeNull();
    expect(stale.errors?.[0]).toMatchObject({ path: ['cancelAllUserTokens'], extensions: { code: 'INSUFFICIENT_USER_AUTHENTICATION', maxAge: MAX_AGE } });
    const overHttp = await api.graphql(CANCEL_ALL_USER, { variables: { id: victimId }, token: accessToken });
    expect(stale.errors?.[0]?.extensions?.code).toBe(overHttp.body.errors[0].extensions.code);

    const reauth = await once(socket, REAUTH, { p: admin.password });
    const token = (reauth.data?.reauthenticate as { accessToken: string }).accessToken;
    expect(await once(socket, 'mutation($t: String!) { renewConnection(accessToken: $t) }', { t: token })).toEqual({ data: { renewConnection: true } });
    ahead = 0;
    expect(await once(socket, CANCEL_ALL_USER, { id: victimId })).toEqual({ data: { cancelAllUserTokens: expect.any(Number) } });
    expect(socket.close).toBeUndefined();
    await socket.dispose();
  });

  it('a wrong password to reauthenticate is a failed sign-in: INVALID_CREDENTIALS, then RATE_LIMITED past the limit, even with the right one', async () => {
    ahead = 0;
    const user = await api.signUp();
    const token = await api.signIn(user.username, user.password);
    for (let i = 0; i < 3; i++) {
      const wrong = await api.graphql(REAUTH, { variables: { p: 'not the password' }, token });
      expect(wrong.status).toBe(200);
      expect(wrong.body.errors[0]).toMatchObject({ path: ['reauthenticate'], extensions: { code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' } });
    }
    const limited = await api.graphql(REAUTH, { variables: { p: user.password }, token });
    expect(limited.status).toBe(429);
    expect(limited.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED' });
    // The same counter as signIn's.
    const signIn = await api.graphql(SIGN_IN, { variables: { u: user.username, p: user.password } });
    expect(signIn.body.errors[0].extensions.code).toBe('RATE_LIMITED');
  });

  it('reauthenticate needs a token: anonymous gets UNAUTHENTICATED / TOKEN_MISSING; a revoked one is refused with 401', async () => {
    ahead = 0;
    const anonymous = await api.graphql(REAUTH, { variables: { p: 'whatever password' } });
    expect(anonymous.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    const user = await api.signUp();
    const token = await api.signIn(user.username, user.password);
    await api.graphql('mutation { cancelSession }', { token });
    const revoked = await api.graphql(REAUTH, { variables: { p: user.password }, token });
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
  });
});
