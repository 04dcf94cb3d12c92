/**
 * Sessions over HTTP on Redis: every answer of the contract (issue 12) with its exact code
 * and reason, against the real server (createServer, real HTTP, RedisSessionStore).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, TEST_SECRET, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';
import { decodePayload, hmacToken } from '../helpers/tokens.js';

const PAIR = 'accessToken tokenType expiresAt refreshToken refreshTokenExpiresAt session { id createdAt lastUsedAt expiresAt userAgent ipAddress current } user { id username }';
const SIGN_IN = `mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { ${PAIR} } }`;
const SIGN_UP = `mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { ${PAIR} } }`;
const REFRESH = `mutation($r: String!) { refreshSession(refreshToken: $r) { ${PAIR} } }`;
const MY_SESSIONS = '{ mySessions { id createdAt lastUsedAt expiresAt userAgent ipAddress current } }';
const ME = '{ me { id } }';
const PASSWORD = 'correct horse battery';

interface Pair {
  accessToken: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
  session: { id: string; current: boolean; userAgent: string | null; ipAddress: string | null };
  user: { id: string; username: string };
}

function errorOf(answer: HttpAnswer) {
  return answer.body?.errors?.[0]?.extensions as { code?: string; reason?: string } | undefined;
}

async function signUp(server: TestServer, userAgent = 'e2e-browser/1.0'): Promise<Pair & { password: string }> {
  const answer = await server.graphql(SIGN_UP, { variables: { u: uniqueUsername('sess'), p: PASSWORD }, headers: { 'user-agent': userAgent } });
  if (!answer.body?.data?.signUp) throw new Error(`signUp failed: ${answer.text}`);
  return { ...answer.body.data.signUp, password: PASSWORD };
}

async function signIn(server: TestServer, username: string, userAgent = 'e2e-phone/2.0', password = PASSWORD): Promise<Pair> {
  const answer = await server.graphql(SIGN_IN, { variables: { u: username, p: password }, headers: { 'user-agent': userAgent } });
  if (!answer.body?.data?.signIn) throw new Error(`signIn failed: ${answer.text}`);
  return answer.body.data.signIn;
}

function refresh(server: TestServer, refreshToken: string, userAgent?: string) {
  return server.graphql(REFRESH, { variables: { r: refreshToken }, ...(userAgent ? { headers: { 'user-agent': userAgent } } : {}) });
}

/** 200 with data, or the 401 and its reason. */
async function meStatus(server: TestServer, token: string): Promise<string> {
  const answer = await server.graphql(ME, { token });
  return answer.status === 200 && answer.body.data?.me ? 'ok' : `${answer.status} ${errorOf(answer)?.reason}`;
}

/** A token signed with the server's key that no store ever saw: real sub and sid, fresh jti. */
function mintedToken(userId: string, sessionId: string): string {
  const now = Math.floor(Date.now() / 1000);
  return hmacToken(
    { alg: 'HS256', typ: 'JWT' },
    { sub: userId, sid: sessionId, jti: randomUUID(), iat: now, exp: now + 600, iss: 'graphql-revoke', aud: 'graphql-revoke' },
    TEST_SECRET,
  );
}

describe('sessions over HTTP (Redis, reuse grace off)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl(), env: { REFRESH_REUSE_GRACE_SECONDS: '0' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('signUp and signIn start sessions: a refresh token, the session, and a sid in the access token', async () => {
    const alice = await signUp(server);
    expect(alice.refreshToken).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.1\.[A-Za-z0-9_-]{43}$/);
    expect(alice.session).toMatchObject({ current: true, userAgent: 'e2e-browser/1.0', ipAddress: '127.0.0.1' });
    expect(decodePayload(alice.accessToken)).toMatchObject({ sub: alice.user.id, sid: alice.session.id });
    expect(Date.parse(alice.refreshTokenExpiresAt)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    const phone = await signIn(server, alice.user.username);
    expect(phone.session.id).not.toBe(alice.session.id);

    const listed = await server.graphql(MY_SESSIONS, { token: phone.accessToken });
    expect(listed.status).toBe(200);
    const sessions = listed.body.data.mySessions;
    // Newest first; `current` is the session of the request's token.
    expect(sessions.map((s: { id: string }) => s.id)).toEqual([phone.session.id, alice.session.id]);
    expect(sessions.map((s: { current: boolean }) => s.current)).toEqual([true, false]);
    expect(sessions[1]).toMatchObject({ userAgent: 'e2e-browser/1.0', ipAddress: '127.0.0.1' });
    expect(sessions[0].userAgent).toBe('e2e-phone/2.0');
  });

  it('keeps at most 256 characters of the user agent', async () => {
    const alice = await signUp(server, 'x'.repeat(1000));
    expect(alice.session.userAgent).toBe('x'.repeat(256));
  });

  it('refreshSession needs no access token and rotates: new pair, same session, both access tokens work', async () => {
    const alice = await signUp(server);
    const answer = await refresh(server, alice.refreshToken, 'e2e-browser/1.1');
    expect(answer.status).toBe(200);
    const next: Pair = answer.body.data.refreshSession;
    expect(next.session).toMatchObject({ id: alice.session.id, current: true, userAgent: 'e2e-browser/1.1' });
    expect(next.refreshToken).not.toBe(alice.refreshToken);
    expect(next.accessToken).not.toBe(alice.accessToken);
    expect(decodePayload(next.accessToken)).toMatchObject({ sub: alice.user.id, sid: alice.session.id });
    expect(await meStatus(server, next.accessToken)).toBe('ok');
    expect(await meStatus(server, alice.accessToken)).toBe('ok');
    expect((await refresh(server, next.refreshToken)).body.data.refreshSession.session.id).toBe(alice.session.id);
  });

  it('a used refresh token ends the session: REFRESH_TOKEN_REUSED (HTTP 200), then every token of it refused', async () => {
    const alice = await signUp(server);
    const other = await signIn(server, alice.user.username);
    const next: Pair = (await refresh(server, alice.refreshToken)).body.data.refreshSession;
    const reused = await refresh(server, alice.refreshToken);
    expect(reused.status).toBe(200);
    expect(reused.body.data).toBeNull();
    expect(errorOf(reused)).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_REUSED' });
    expect(await meStatus(server, alice.accessToken)).toBe('401 TOKEN_REVOKED');
    expect(await meStatus(server, next.accessToken)).toBe('401 TOKEN_REVOKED');
    expect(errorOf(await refresh(server, next.refreshToken))).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    // The other session is untouched.
    expect(await meStatus(server, other.accessToken)).toBe('ok');
    const listed = await server.graphql(MY_SESSIONS, { token: other.accessToken });
    expect(listed.body.data.mySessions.map((s: { id: string }) => s.id)).toEqual([other.session.id]);
  });

  it('answers REFRESH_TOKEN_INVALID for malformed, unknown and forged tokens', async () => {
    const alice = await signUp(server);
    const [user, sid] = alice.refreshToken.split('.');
    const forged = [`${user}.${sid}.1.${'A'.repeat(43)}`, `${user}.${sid}.2.${'A'.repeat(43)}`, `${user}.${'B'.repeat(22)}.1.${'A'.repeat(43)}`];
    for (const token of ['', 'nonsense', `${user}.${sid}.${'A'.repeat(43)}`, ...forged, alice.accessToken]) {
      const answer = await refresh(server, token);
      expect(answer.status).toBe(200);
      expect(errorOf(answer)).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    }
    // None of them touched the session.
    expect(await meStatus(server, alice.accessToken)).toBe('ok');
    expect((await refresh(server, alice.refreshToken)).status).toBe(200);
  });

  it('cancelSession() without id logs out this session; with an id, another of mine; never another user\'s', async () => {
    const alice = await signUp(server);
    const phone = await signIn(server, alice.user.username);
    const laptop = await signIn(server, alice.user.username);
    const bob = await signUp(server);

    const foreign = await server.graphql('mutation($id: ID) { cancelSession(id: $id) }', { token: bob.accessToken, variables: { id: alice.session.id } });
    expect(foreign.body.data).toEqual({ cancelSession: false });
    expect(await meStatus(server, alice.accessToken)).toBe('ok');

    const logout = await server.graphql('mutation { cancelSession }', { token: alice.accessToken });
    expect(logout.body.data).toEqual({ cancelSession: true });
    expect(await meStatus(server, alice.accessToken)).toBe('401 TOKEN_REVOKED');
    expect(errorOf(await refresh(server, alice.refreshToken))).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });

    const one = await server.graphql('mutation($id: ID) { cancelSession(id: $id) }', { token: laptop.accessToken, variables: { id: phone.session.id } });
    expect(one.body.data).toEqual({ cancelSession: true });
    expect(await meStatus(server, phone.accessToken)).toBe('401 TOKEN_REVOKED');
    expect(await meStatus(server, laptop.accessToken)).toBe('ok');
    const again = await server.graphql('mutation($id: ID) { cancelSession(id: $id) }', { token: laptop.accessToken, variables: { id: phone.session.id } });
    expect(again.body.data).toEqual({ cancelSession: false });
    const listed = await server.graphql(MY_SESSIONS, { token: laptop.accessToken });
    expect(listed.body.data.mySessions.map((s: { id: string }) => s.id)).toEqual([laptop.session.id]);
    expect(await meStatus(server, bob.accessToken)).toBe('ok');
  });

  it('cancelToken keeps its meaning: one access token; the session can still refresh', async () => {
    const alice = await signUp(server);
    expect((await server.graphql('mutation { cancelToken }', { token: alice.accessToken })).body.data).toEqual({ cancelToken: true });
    expect(await meStatus(server, alice.accessToken)).toBe('401 TOKEN_REVOKED');
    const next: Pair = (await refresh(server, alice.refreshToken)).body.data.refreshSession;
    expect(await meStatus(server, next.accessToken)).toBe('ok');
  });

  it('cancelAllMyTokens refuses a minted, never-recorded token, ends every session, and a token issued right after works', async () => {
    const alice = await signUp(server);
    const phone = await signIn(server, alice.user.username);
    const minted = mintedToken(alice.user.id, alice.session.id);
    expect(await meStatus(server, minted)).toBe('ok');
    const answer = await server.graphql('mutation { cancelAllMyTokens }', { token: alice.accessToken });
    expect(answer.body.data).toEqual({ cancelAllMyTokens: 2 });
    for (const token of [alice.accessToken, phone.accessToken, minted]) expect(await meStatus(server, token)).toBe('401 TOKEN_REVOKED');
    for (const token of [alice.refreshToken, phone.refreshToken]) {
      expect(errorOf(await refresh(server, token))).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    }
    // Same second (and very likely the same millisecond on Redis's clock): accepted.
    const again = await signIn(server, alice.user.username);
    expect(await meStatus(server, again.accessToken)).toBe('ok');
    const listed = await server.graphql(MY_SESSIONS, { token: again.accessToken });
    expect(listed.body.data.mySessions.map((s: { id: string }) => s.id)).toEqual([again.session.id]);
  });

  it('cancelAllMyTokens(exceptCurrentSession: true) signs out the other devices, keeps this session and its tokens (even minted)', async () => {
    const alice = await signUp(server);
    const phone = await signIn(server, alice.user.username);
    const mintedHere = mintedToken(alice.user.id, alice.session.id);
    const mintedThere = mintedToken(alice.user.id, phone.session.id);
    const answer = await server.graphql('mutation { cancelAllMyTokens(exceptCurrentSession: true) }', { token: alice.accessToken });
    expect(answer.body.data).toEqual({ cancelAllMyTokens: 1 });
    expect(await meStatus(server, alice.accessToken)).toBe('ok');
    expect(await meStatus(server, mintedHere)).toBe('ok');
    expect(await meStatus(server, phone.accessToken)).toBe('401 TOKEN_REVOKED');
    expect(await meStatus(server, mintedThere)).toBe('401 TOKEN_REVOKED');
    expect(errorOf(await refresh(server, phone.refreshToken))).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    const next: Pair = (await refresh(server, alice.refreshToken)).body.data.refreshSession;
    expect(await meStatus(server, next.accessToken)).toBe('ok');
  });

  it('changePassword checks the current password, applies signUp\'s rules, ends the other sessions, returns a fresh pair', async () => {
    const alice = await signUp(server);
    const phone = await signIn(server, alice.user.username);
    const change = (current: string, next: string) =>
      server.graphql(`mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { ${PAIR} } }`, {
        token: alice.accessToken,
        variables: { c: current, n: next },
      });
    const wrong = await change('wrong password!', 'a new long password');
    expect(errorOf(wrong)).toEqual({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
    // Its own words: not signIn's "Invalid username or password." (the user gave no username).
    expect(wrong.body.errors[0].message).toBe('The current password is wrong.');
    expect(errorOf(await change(PASSWORD, 'short'))).toMatchObject({ code: 'BAD_USER_INPUT' });
    const answer = await change(PASSWORD, 'a new long password');
    expect(answer.status).toBe(200);
    const fresh: Pair = answer.body.data.changePassword;
    expect(fresh.session.id).toBe(alice.session.id);
    expect(fresh.refreshToken).not.toBe(alice.refreshToken);
    expect(await meStatus(server, fresh.accessToken)).toBe('ok');
    expect(await meStatus(server, phone.accessToken)).toBe('401 TOKEN_REVOKED');
    expect(errorOf(await refresh(server, phone.refreshToken))).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    // The replaced refresh token of this session is refused (not a reuse: the session lives on).
    expect(errorOf(await refresh(server, alice.refreshToken))).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    expect((await refresh(server, fresh.refreshToken)).status).toBe(200);
    const oldPassword = await server.graphql(SIGN_IN, { variables: { u: alice.user.username, p: PASSWORD } });
    expect(errorOf(oldPassword)).toEqual({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
    await signIn(server, alice.user.username, 'x', 'a new long password');
  });

  it('50 concurrent refreshSession with one token and no grace: one successor, one REFRESH_TOKEN_REUSED that ends the session, then INVALID', async () => {
    const alice = await signUp(server);
    const answers = await Promise.all(Array.from({ length: 50 }, () => refresh(server, alice.refreshToken)));
    const ok = answers.filter((a) => a.body?.data?.refreshSession);
    // Decided one at a time: the first rotates, the second is a reuse and ends the session,
    // the other 48 find no session.
    expect(ok).toHaveLength(1);
    expect(answers.filter((a) => errorOf(a)?.reason === 'REFRESH_TOKEN_REUSED')).toHaveLength(1);
    expect(answers.filter((a) => errorOf(a)?.reason === 'REFRESH_TOKEN_INVALID')).toHaveLength(48);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(await meStatus(server, ok[0]!.body.data.refreshSession.accessToken)).toBe('401 TOKEN_REVOKED');
    expect(errorOf(await refresh(server, ok[0]!.body.data.refreshSession.refreshToken))?.reason).toBe('REFRESH_TOKEN_INVALID');
  });
});

describe('sessions over HTTP (Redis, default reuse grace, short lifetimes)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl(), env: { REFRESH_TOKEN_TTL: '2' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('50 concurrent refreshSession with one token: all succeed with the SAME successor; the session stays consistent', async () => {
    const alice = await signUp(server);
    const answers = await Promise.all(Array.from({ length: 50 }, () => refresh(server, alice.refreshToken)));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    const pairs: Pair[] = answers.map((a) => a.body.data.refreshSession);
    expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(1);
    expect(new Set(pairs.map((p) => p.accessToken)).size).toBe(50);
    expect(pairs.every((p) => p.session.id === alice.session.id)).toBe(true);
    for (const p of pairs.slice(0, 5)) expect(await meStatus(server, p.accessToken)).toBe('ok');
    const listed = await server.graphql(MY_SESSIONS, { token: pairs[0]!.accessToken });
    expect(listed.body.data.mySessions).toHaveLength(1);
    // The one live refresh token rotates on.
    expect((await refresh(server, pairs[0]!.refreshToken)).status).toBe(200);
    expect(errorOf(await refresh(server, alice.refreshToken))?.reason).toBe('REFRESH_TOKEN_REUSED');
  });

  it('answers REFRESH_TOKEN_EXPIRED past REFRESH_TOKEN_TTL, and mySessions no longer lists it', async () => {
    const alice = await signUp(server);
    expect(Date.parse(alice.refreshTokenExpiresAt) - Date.now()).toBeLessThanOrEqual(2000);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const answer = await refresh(server, alice.refreshToken);
    expect(answer.status).toBe(200);
    expect(errorOf(answer)).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_EXPIRED' });
    // The access token lives its own 15 minutes; the session is gone from the list.
    const listed = await server.graphql(MY_SESSIONS, { token: alice.accessToken });
    expect(listed.body.data.mySessions).toEqual([]);
  });
});

describe('sessions behind a proxy (TRUST_PROXY=1)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl(), env: { TRUST_PROXY: '1' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('records the client address X-Forwarded-For gives, on sign-in and on refresh', async () => {
    const signedUp = await server.graphql(SIGN_UP, {
      variables: { u: uniqueUsername('proxy'), p: PASSWORD },
      headers: { 'x-forwarded-for': '198.51.100.23', 'user-agent': 'behind-proxy/1.0' },
    });
    const pair: Pair = signedUp.body.data.signUp;
    expect(pair.session).toMatchObject({ ipAddress: '198.51.100.23', userAgent: 'behind-proxy/1.0' });
    const refreshed = await server.graphql(REFRESH, { variables: { r: pair.refreshToken }, headers: { 'x-forwarded-for': '203.0.113.99', 'user-agent': 'behind-proxy/1.1' } });
    expect(refreshed.body.data.refreshSession.session).toMatchObject({ ipAddress: '203.0.113.99', userAgent: 'behind-proxy/1.1' });
  });
});
