import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPE, createUserAdmin } from '../../src/admin/user-admin.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';
import { decodePayload } from '../helpers/tokens.js';

const ME = '{ me { id } }';
const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }';
const CANCEL_ALL_USER = 'mutation($id: ID!) { cancelAllUserTokens(userId: $id) }';
const SET_DISABLED = 'mutation($id: ID!, $d: Boolean!) { setUserDisabled(userId: $id, disabled: $d) }';
const SIGN_IN_PAIR = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken session { id } } }';
const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }';
const USER_SESSIONS = 'query($id: ID!) { userSessions(userId: $id) { id createdAt lastUsedAt expiresAt userAgent ipAddress current } }';

interface Pair {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

async function signInPair(api: TestServer, username: string, password: string): Promise<Pair> {
  const answer = await api.graphql(SIGN_IN_PAIR, { variables: { u: username, p: password } });
  const payload = answer.body?.data?.signIn;
  if (!payload) throw new Error(`signIn failed: ${answer.text}`);
  return { accessToken: payload.accessToken, refreshToken: payload.refreshToken, sessionId: payload.session.id };
}

function expectRefreshRefused(answer: HttpAnswer, reason: string): void {
  expect(answer.status).toBe(200);
  expect(answer.body.data).toBeNull();
  expect(answer.body.errors[0]).toMatchObject({ path: ['refreshSession'], extensions: { code: 'UNAUTHENTICATED', reason } });
}

function expectRevoked(answer: HttpAnswer): void {
  expect(answer.status).toBe(401);
  expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
}

describe('operators over HTTP: two instances on one Redis', () => {
  let a: TestServer;
  let b: TestServer;
  let adminToken: string;
  let adminId: string;

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = `ops${process.pid}x${Date.now().toString(36)}`;
    a = await startTestServer({ redisUrl, keyPrefix });
    b = await startTestServer({ redisUrl, keyPrefix });
    // The first admin, made as the CLI makes it: the admin functions on the shared stores.
    const admin = await a.signUp(uniqueUsername('root'));
    await createUserAdmin({ users: a.users, revocations: a.revocations }).grantScopes({ kind: 'cli' }, admin.userId, [ADMIN_SCOPE]);
    adminId = admin.userId;
    adminToken = await a.signIn(admin.username, admin.password);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('writes the user\'s scopes into the token issued at sign-in', () => {
    expect(decodePayload(adminToken).scope).toBe(ADMIN_SCOPE);
  });

  it('refuses the admin fields to a user without tokens:admin: null with FORBIDDEN / INSUFFICIENT_SCOPE at the path, the rest served', async () => {
    const user = await a.signUp();
    expect(decodePayload(user.token).scope).toBeUndefined();
    const answer = await b.graphql(`mutation { setUserDisabled(userId: "${adminId}", disabled: true) }`, { token: user.token });
    expect(answer.status).toBe(200);
    expect(answer.body.data).toBeNull();
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors[0]).toMatchObject({ path: ['setUserDisabled'], extensions: { code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' } });

    const both = await b.graphql(`{ me { id } }`, { token: user.token });
    expect(both.body.data.me.id).toBe(user.userId);
    const anonymous = await b.graphql(CANCEL_ALL_USER, { variables: { id: user.userId } });
    expect(anonymous.body.errors[0]).toMatchObject({ path: ['cancelAllUserTokens'], extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' } });
    // Nothing of the target changed.
    expect((await a.graphql(ME, { token: adminToken })).body.data.me.id).toBe(adminId);
  });

  it('cancelAllUserTokens on instance A: every token of the user is refused on instance B at the next request', async () => {
    const victim = await a.signUp();
    const second = await b.signIn(victim.username, victim.password);
    for (const token of [victim.token, second]) expect((await b.graphql(ME, { token })).body.data.me.id).toBe(victim.userId);

    const answer = await a.graphql(CANCEL_ALL_USER, { token: adminToken, variables: { id: victim.userId } });
    expect(answer.body).toEqual({ data: { cancelAllUserTokens: 2 } });
    for (const token of [victim.token, second]) expectRevoked(await b.graphql(ME, { token }));
    // A token issued afterwards works: the user is revoked, not banned.
    const after = await b.signIn(victim.username, victim.password);
    expect((await a.graphql(ME, { token: after })).body.data.me.id).toBe(victim.userId);
  });

  it('cancelAllUserTokens of an unknown id answers 0', async () => {
    const answer = await a.graphql(CANCEL_ALL_USER, { token: adminToken, variables: { id: 'no-such-user' } });
    expect(answer.body).toEqual({ data: { cancelAllUserTokens: 0 } });
  });

  it('setUserDisabled: tokens end at once on B; sign-in answers ACCOUNT_DISABLED only with the right password; enabled again it works', async () => {
    const user = await b.signUp();
    const disabled = await a.graphql(SET_DISABLED, { token: adminToken, variables: { id: user.userId, d: true } });
    expect(disabled.body).toEqual({ data: { setUserDisabled: true } });
    expectRevoked(await b.graphql(ME, { token: user.token }));

    const right = await b.graphql(SIGN_IN, { variables: { u: user.username, p: user.password } });
    expect(right.status).toBe(200);
    expect(right.body.data).toBeNull();
    expect(right.body.errors[0]).toMatchObject({ path: ['signIn'], extensions: { code: 'UNAUTHENTICATED', reason: 'ACCOUNT_DISABLED' } });
    const wrong = await b.graphql(SIGN_IN, { variables: { u: user.username, p: 'not the password' } });
    expect(wrong.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });

    const enabled = await b.graphql(SET_DISABLED, { token: adminToken, variables: { id: user.userId, d: false } });
    expect(enabled.body).toEqual({ data: { setUserDisabled: true } });
    const token = await a.signIn(user.username, user.password);
    expect((await b.graphql(ME, { token })).body.data.me.id).toBe(user.userId);
  });

  it('setUserDisabled refuses an admin disabling themself (FORBIDDEN) and answers false for an unknown id', async () => {
    const self = await a.graphql(SET_DISABLED, { token: adminToken, variables: { id: adminId, d: true } });
    expect(self.body.data).toBeNull();
    expect(self.body.errors[0]).toMatchObject({ path: ['setUserDisabled'], extensions: { code: 'FORBIDDEN' } });
    expect(self.body.errors[0].extensions.reason).toBeUndefined();
    expect((await b.graphql(ME, { token: adminToken })).body.data.me.id).toBe(adminId);

    const unknown = await a.graphql(SET_DISABLED, { token: adminToken, variables: { id: 'no-such-user', d: true } });
    expect(unknown.body).toEqual({ data: { setUserDisabled: false } });
  });

  it('removing tokens:admin ends that admin\'s tokens at once, and their next token has no admin scope', async () => {
    const other = await a.signUp();
    const admin = createUserAdmin({ users: a.users, revocations: a.revocations });
    await admin.grantScopes({ kind: 'cli' }, other.userId, [ADMIN_SCOPE]);
    expectRevoked(await b.graphql(ME, { token: other.token }));
    const adminNow = await b.signIn(other.username, other.password);
    expect((await a.graphql(CANCEL_ALL_USER, { token: adminNow, variables: { id: 'nobody' } })).body).toEqual({ data: { cancelAllUserTokens: 0 } });

    await admin.revokeScopes({ kind: 'user', userId: adminId }, other.userId, [ADMIN_SCOPE]);
    expectRevoked(await b.graphql(CANCEL_ALL_USER, { token: adminNow, variables: { id: 'nobody' } }));
    const plain = await b.signIn(other.username, other.password);
    expect(decodePayload(plain).scope).toBeUndefined();
    const refused = await a.graphql(CANCEL_ALL_USER, { token: plain, variables: { id: 'nobody' } });
    expect(refused.body.errors[0].extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });
  });

  describe('with sessions', () => {
    it('cancelAllUserTokens on A ends every session: access tokens, refresh tokens and a never-recorded token are refused on B', async () => {
      const victim = await a.signUp();
      const one = await signInPair(a, victim.username, victim.password);
      const two = await signInPair(b, victim.username, victim.password);
      // Real key, real sub and sid, fresh jti, never recorded: only the per-user cutoff can refuse it.
      const minted = a.app.issuer.issue({ id: victim.userId, username: victim.username }, { sessionId: one.sessionId }).token;
      for (const token of [one.accessToken, two.accessToken, minted]) expect((await b.graphql(ME, { token })).body.data.me.id).toBe(victim.userId);

      const answer = await a.graphql(CANCEL_ALL_USER, { token: adminToken, variables: { id: victim.userId } });
      expect(answer.body.data.cancelAllUserTokens).toBe(3);
      for (const token of [victim.token, one.accessToken, two.accessToken, minted]) expectRevoked(await b.graphql(ME, { token }));
      for (const pair of [one, two]) expectRefreshRefused(await b.graphql(REFRESH, { variables: { r: pair.refreshToken } }), 'REFRESH_TOKEN_INVALID');
      expect((await b.graphql(USER_SESSIONS, { token: adminToken, variables: { id: victim.userId } })).body).toEqual({ data: { userSessions: [] } });
    });

    it('userSessions lists that user\'s live sessions, newest first, to an admin only; none for an unknown id', async () => {
      const user = await a.signUp();
      const later = await signInPair(b, user.username, user.password);
      const answer = await a.graphql(USER_SESSIONS, { token: adminToken, variables: { id: user.userId } });
      const sessions = answer.body.data.userSessions;
      expect(sessions).toHaveLength(2);
      expect(sessions[0].id).toBe(later.sessionId);
      expect(sessions.map((s: { current: boolean }) => s.current)).toEqual([false, false]);
      for (const session of sessions) expect(Date.parse(session.expiresAt)).toBeGreaterThan(Date.now());
      expect((await b.graphql(USER_SESSIONS, { token: adminToken, variables: { id: 'no-such-user' } })).body).toEqual({ data: { userSessions: [] } });

      const refused = await b.graphql(USER_SESSIONS, { token: later.accessToken, variables: { id: user.userId } });
      expect(refused.body.data).toBeNull();
      expect(refused.body.errors[0]).toMatchObject({ path: ['userSessions'], extensions: { code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' } });
    });

    it('a disabled user cannot refresh (ACCOUNT_DISABLED) nor sign in; enabled again, the old refresh token stays ended and sign-in works', async () => {
      const user = await a.signUp();
      const pair = await signInPair(a, user.username, user.password);
      expect((await a.graphql(SET_DISABLED, { token: adminToken, variables: { id: user.userId, d: true } })).body.data.setUserDisabled).toBe(true);
      expectRefreshRefused(await b.graphql(REFRESH, { variables: { r: pair.refreshToken } }), 'ACCOUNT_DISABLED');
      expectRevoked(await b.graphql(ME, { token: pair.accessToken }));
      const signIn = await b.graphql(SIGN_IN_PAIR, { variables: { u: user.username, p: user.password } });
      expect(signIn.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'ACCOUNT_DISABLED' });

      await a.graphql(SET_DISABLED, { token: adminToken, variables: { id: user.userId, d: false } });
      expectRefreshRefused(await b.graphql(REFRESH, { variables: { r: pair.refreshToken } }), 'REFRESH_TOKEN_INVALID');
      const again = await signInPair(b, user.username, user.password);
      expect((await a.graphql(ME, { token: again.accessToken })).body.data.me.id).toBe(user.userId);
    });

    it('changePassword answers ACCOUNT_DISABLED to a disabled user, even holding a token that survived', async () => {
      const user = await a.signUp();
      await a.graphql(SET_DISABLED, { token: adminToken, variables: { id: user.userId, d: true } });
      // Minted after the disable (as another process sharing the key could): past the cutoff, so accepted.
      const survivor = a.app.issuer.issue({ id: user.userId, username: user.username }).token;
      expect((await b.graphql(ME, { token: survivor })).body.data.me.id).toBe(user.userId);
      const answer = await b.graphql('mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }', {
        token: survivor,
        variables: { c: user.password, n: 'another password 123' },
      });
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors[0]).toMatchObject({ path: ['changePassword'], extensions: { code: 'UNAUTHENTICATED', reason: 'ACCOUNT_DISABLED' } });
      // The password did not change.
      await a.graphql(SET_DISABLED, { token: adminToken, variables: { id: user.userId, d: false } });
      expect(await b.signIn(user.username, user.password)).toEqual(expect.any(String));
    });

    it('writes the scopes of now into each refreshed token', async () => {
      const user = await a.signUp();
      const pair = await signInPair(a, user.username, user.password);
      expect(decodePayload(pair.accessToken).scope).toBeUndefined();
      await createUserAdmin({ users: a.users, revocations: a.revocations }).grantScopes({ kind: 'cli' }, user.userId, ['reports:read']);
      const refreshed = await b.graphql(REFRESH, { variables: { r: pair.refreshToken } });
      expect(decodePayload(refreshed.body.data.refreshSession.accessToken).scope).toBe('reports:read');
      // Not tokens:admin: the session lives on.
      expect((await a.graphql(ME, { token: pair.accessToken })).body.data.me.id).toBe(user.userId);
    });
  });
});

describe('a sign-in racing with an operator (the account read again after the session starts)', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await startTestServer();
  });
  afterAll(() => api?.close());

  /** Makes the operator act right after signIn's first read of the account, before its re-read. */
  function actBetweenReadAndReRead(act: () => Promise<void>): () => void {
    const users = api.users;
    const findById = users.findById.bind(users);
    let done = false;
    users.findById = async (id) => {
      if (!done) {
        done = true;
        await act();
      }
      return findById(id);
    };
    return () => {
      users.findById = findById;
    };
  }

  it('disabled meanwhile: the new session is ended and the answer is ACCOUNT_DISABLED', async () => {
    const user = await api.signUp();
    const restore = actBetweenReadAndReRead(async () => {
      await api.users.setDisabled!(user.userId, true);
    });
    try {
      const answer = await api.graphql(SIGN_IN_PAIR, { variables: { u: user.username, p: user.password } });
      expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'ACCOUNT_DISABLED' });
    } finally {
      restore();
    }
    await api.users.setDisabled!(user.userId, false);
    // Only the sign-up's session is left: the raced one was ended.
    const token = await api.signIn(user.username, user.password);
    const sessions = await api.graphql('{ mySessions { id } }', { token });
    expect(sessions.body.data.mySessions).toHaveLength(2);
  });

  it('tokens:admin removed meanwhile: the session is ended and another started, whose token lacks it', async () => {
    const user = await api.signUp();
    const admin = createUserAdmin({ users: api.users, revocations: api.revocations });
    await admin.grantScopes({ kind: 'cli' }, user.userId, [ADMIN_SCOPE]);
    const restore = actBetweenReadAndReRead(async () => {
      await api.users.updateScopes!(user.userId, { remove: [ADMIN_SCOPE] });
    });
    let pair: Pair;
    try {
      pair = await signInPair(api, user.username, user.password);
    } finally {
      restore();
    }
    expect(decodePayload(pair.accessToken).scope).toBeUndefined();
    const sessions = await api.graphql('{ mySessions { id } }', { token: pair.accessToken });
    // The sign-up's session and the final one; the raced one was ended.
    const ids = sessions.body.data.mySessions.map((s: { id: string }) => s.id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(pair.sessionId);
  });
});

