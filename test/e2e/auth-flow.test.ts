import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePayload, hmacToken, validClaims } from '../helpers/tokens.js';
import { rawPost } from '../helpers/raw-http.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, TEST_SECRET, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';

const ME = '{ me { id username } }';
const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken tokenType expiresAt user { id username } } }';
const SIGN_UP = 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken tokenType expiresAt user { id username } } }';

function expectRefused(answer: HttpAnswer, reason: string): void {
  expect(answer.status).toBe(401);
  expect(answer.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  expect(answer.body.data).toBeUndefined();
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason });
}

describe('the GraphQL API over HTTP, on Redis', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await startTestServer({ redisUrl: requireRedisUrl() });
  });
  afterAll(() => api.close());

  async function signIn(username: string, password: string): Promise<string> {
    const answer = await api.graphql(SIGN_IN, { variables: { u: username, p: password } });
    expect(answer.status).toBe(200);
    return answer.body.data.signIn.accessToken;
  }

  describe('anonymous requests', () => {
    it('resolve public fields and null @authenticated ones with TOKEN_MISSING at their path (HTTP 200)', async () => {
      const answer = await api.graphql('{ __typename me { id username } }');
      expect(answer.status).toBe(200);
      expect(answer.body.data).toEqual({ __typename: 'Query', me: null });
      expect(answer.body.errors).toHaveLength(1);
      expect(answer.body.errors[0]).toMatchObject({ path: ['me'], extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' } });
    });

    it('every GraphQL answer says Cache-Control: no-store (answered, refused 401, client mistake 400)', async () => {
      const answered = await api.graphql('{ __typename }');
      expect(answered.status).toBe(200);
      const refused = await api.graphql(ME, { token: 'not-a-token' });
      expect(refused.status).toBe(401);
      const mistaken = await api.graphql('{ nope }');
      expect(mistaken.status).toBe(400);
      for (const answer of [answered, refused, mistaken]) expect(answer.headers.get('cache-control')).toBe('no-store');
    });

    it('cannot run cancelToken or cancelAllMyTokens', async () => {
      const answer = await api.graphql('mutation { cancelAllMyTokens }');
      expect(answer.status).toBe(200);
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors[0]).toMatchObject({ path: ['cancelAllMyTokens'], extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' } });
    });
  });

  describe('signUp and signIn', () => {
    it('signUp returns a Bearer token, its expiry and the user; the token works at once', async () => {
      const username = uniqueUsername('Alice');
      const before = Date.now();
      const answer = await api.graphql(SIGN_UP, { variables: { u: username, p: 'password-1234' } });
      expect(answer.status).toBe(200);
      const payload = answer.body.data.signUp;
      expect(payload.tokenType).toBe('Bearer');
      expect(payload.user.username).toBe(username);
      expect(payload.user.id).toMatch(/^[0-9a-f-]{36}$/);
      const expiresAt = Date.parse(payload.expiresAt);
      expect(payload.expiresAt).toBe(new Date(expiresAt).toISOString());
      expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 900_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 900_000);
      const me = await api.graphql(ME, { token: payload.accessToken });
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ data: { me: payload.user } });
    });

    it('signIn returns a working token; usernames are case-insensitive', async () => {
      const user = await api.signUp(uniqueUsername('Bob'));
      const token = await signIn(user.username.toUpperCase(), user.password);
      const me = await api.graphql(ME, { token });
      expect(me.body.data.me).toEqual({ id: user.userId, username: user.username });
    });

    it('a wrong password and an unknown username get the very same error', async () => {
      const user = await api.signUp();
      const wrong = await api.graphql(SIGN_IN, { variables: { u: user.username, p: 'not-the-password' } });
      const unknown = await api.graphql(SIGN_IN, { variables: { u: uniqueUsername('ghost'), p: 'not-the-password' } });
      for (const answer of [wrong, unknown]) {
        expect(answer.status).toBe(200);
        expect(answer.body.data).toBeNull();
        expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' });
      }
      expect(wrong.body.errors[0].message).toBe(unknown.body.errors[0].message);
    });

    it('signUp refuses a taken username (any case), a bad username and a short password with BAD_USER_INPUT', async () => {
      const user = await api.signUp();
      const cases = [
        { u: user.username.toUpperCase(), p: 'password-1234', field: 'username' },
        { u: 'a', p: 'password-1234', field: 'username' },
        { u: 'has space', p: 'password-1234', field: 'username' },
        { u: 'x'.repeat(33), p: 'password-1234', field: 'username' },
        { u: uniqueUsername(), p: 'short', field: 'password' },
        { u: uniqueUsername(), p: '1234567', field: 'password' },
      ];
      for (const { u, p, field } of cases) {
        const answer = await api.graphql(SIGN_UP, { variables: { u, p } });
        expect(answer.status).toBe(200);
        expect(answer.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      }
    });
  });

  describe('cancelToken', () => {
    it('without an argument revokes this token: the next request with it is a 401 TOKEN_REVOKED; other tokens still work', async () => {
      const user = await api.signUp();
      const second = await signIn(user.username, user.password);
      const cancel = await api.graphql('mutation { cancelToken }', { token: user.token });
      expect(cancel.status).toBe(200);
      expect(cancel.body).toEqual({ data: { cancelToken: true } });
      expectRefused(await api.graphql(ME, { token: user.token }), 'TOKEN_REVOKED');
      expectRefused(await api.graphql('{ __typename }', { token: user.token }), 'TOKEN_REVOKED');
      expect((await api.graphql(ME, { token: second })).body.data.me.id).toBe(user.userId);
    });

    it('a request whose body was still arriving when its token was cancelled is refused: the check is made once the request is read', async () => {
      const user = await api.signUp();
      const body = JSON.stringify({ query: ME });
      const { hostname, port } = new URL(api.url);
      const socket = net.connect(Number(port), hostname);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
      // Headers and half of the body; the token is cancelled; then the rest of the body.
      socket.write(
        `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${user.token}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await api.graphql('mutation { cancelToken }', { token: user.token })).body).toEqual({ data: { cancelToken: true } });
      socket.end(body.slice(10));
      await ended;
      const answer = Buffer.concat(chunks).toString('utf8');
      expect(answer.split('\r\n', 1)[0]).toBe('HTTP/1.1 401 Unauthorized');
      expect(answer).toContain('"reason":"TOKEN_REVOKED"');
    });

    it('with a token of the caller revokes that token, not the caller\'s', async () => {
      const user = await api.signUp();
      const other = await signIn(user.username, user.password);
      const cancel = await api.graphql('mutation($t: String) { cancelToken(token: $t) }', { token: user.token, variables: { t: other } });
      expect(cancel.body).toEqual({ data: { cancelToken: true } });
      expectRefused(await api.graphql(ME, { token: other }), 'TOKEN_REVOKED');
      expect((await api.graphql(ME, { token: user.token })).status).toBe(200);
    });

    it('with somebody else\'s token is FORBIDDEN and revokes nothing', async () => {
      const alice = await api.signUp();
      const mallory = await api.signUp();
      const answer = await api.graphql('mutation($t: String) { cancelToken(token: $t) }', { token: mallory.token, variables: { t: alice.token } });
      expect(answer.status).toBe(200);
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors[0].extensions.code).toBe('FORBIDDEN');
      expect((await api.graphql(ME, { token: alice.token })).body.data.me.id).toBe(alice.userId);
    });

    it('with something that is not a valid token is BAD_USER_INPUT', async () => {
      const user = await api.signUp();
      const forged = hmacToken({ alg: 'HS256' }, validClaims(user.userId, Math.floor(Date.now() / 1000)), 'not-the-secret-0123456789abcdefghijk');
      for (const t of ['garbage', forged]) {
        const answer = await api.graphql('mutation($t: String) { cancelToken(token: $t) }', { token: user.token, variables: { t } });
        expect(answer.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });
      }
    });
  });

  describe('cancelAllMyTokens', () => {
    it('revokes every token of the caller, returns how many, and leaves other users alone', async () => {
      const user = await api.signUp();
      const others = [await signIn(user.username, user.password), await signIn(user.username, user.password)];
      const bystander = await api.signUp();
      const answer = await api.graphql('mutation { cancelAllMyTokens }', { token: user.token });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ data: { cancelAllMyTokens: 3 } });
      for (const token of [user.token, ...others]) expectRefused(await api.graphql(ME, { token }), 'TOKEN_REVOKED');
      expect((await api.graphql(ME, { token: bystander.token })).status).toBe(200);
    });

    it('a user who signs out everywhere and signs in again in the same second gets a working token', async () => {
      const user = await api.signUp();
      await api.graphql('mutation { cancelAllMyTokens }', { token: user.token });
      const fresh = await signIn(user.username, user.password);
      const me = await api.graphql(ME, { token: fresh });
      expect(me.status).toBe(200);
      expect(me.body.data.me.id).toBe(user.userId);
    });
  });

  describe('refused tokens and headers', () => {
    it('a token signed with another key, or tampered with, is a 401 TOKEN_INVALID', async () => {
      const user = await api.signUp();
      const nowS = Math.floor(Date.now() / 1000);
      const forged = hmacToken({ alg: 'HS256' }, validClaims(user.userId, nowS), 'attacker-secret-0123456789abcdefghij');
      const [h, p, s] = user.token.split('.');
      const payload = decodePayload(user.token);
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url')}.${s}`;
      for (const token of [forged, tampered, 'not-a-jwt', `${h}.${p}`]) expectRefused(await api.graphql(ME, { token }), 'TOKEN_INVALID');
      expect((await api.graphql(ME, { token: user.token })).status).toBe(200);
    });

    it('a token with a wrong issuer or audience is a 401 TOKEN_INVALID', async () => {
      const nowS = Math.floor(Date.now() / 1000);
      for (const overrides of [{ iss: 'someone-else' }, { aud: 'another-api' }]) {
        expectRefused(await api.graphql(ME, { token: hmacToken({ alg: 'HS256' }, validClaims('u', nowS, overrides), TEST_SECRET) }), 'TOKEN_INVALID');
      }
    });

    it('an expired token is a 401 TOKEN_EXPIRED', async () => {
      const nowS = Math.floor(Date.now() / 1000);
      const expired = hmacToken({ alg: 'HS256' }, validClaims('u', nowS - 2000, { exp: nowS - 60 }), TEST_SECRET);
      expectRefused(await api.graphql(ME, { token: expired }), 'TOKEN_EXPIRED');
    });

    it('a malformed Authorization header is a 401, never data', async () => {
      const user = await api.signUp();
      const body = JSON.stringify({ query: ME });
      for (const authorization of [`Basic ${user.token}`, 'Bearer', 'Bearer ', user.token, [`Bearer ${user.token}`, `Bearer ${user.token}`]]) {
        const answer = await rawPost(api.url, body, { authorization });
        expect(answer.status).toBe(401);
        const parsed = JSON.parse(answer.body);
        expect(parsed.data).toBeUndefined();
        expect(parsed.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_INVALID' });
        expect(answer.headers['www-authenticate']).toMatch(/^Bearer error="invalid_(request|token)"$/);
      }
    });
  });

  describe('bad requests', () => {
    it('answer 4xx with a GraphQL error body, never a 500', async () => {
      const cases: Array<{ body: string; contentType?: string }> = [
        { body: '{not json' },
        { body: '"a string"' },
        { body: '[]' },
        { body: JSON.stringify({ query: 42 }) },
        { body: JSON.stringify({ query: '{ me { ' }) },
        { body: JSON.stringify({ query: '{ nope }' }) },
        { body: JSON.stringify({ query: ME, variables: 'x' }) },
        { body: JSON.stringify({ query: SIGN_IN, variables: { u: 1, p: null } }) },
        { body: '' },
        { body: 'query { me { id } }', contentType: 'text/plain' },
      ];
      for (const { body, contentType } of cases) {
        const answer = await rawPost(api.url, body, { 'content-type': contentType ?? 'application/json', 'apollo-require-preflight': 'true' });
        expect(answer.status, body).toBeGreaterThanOrEqual(400);
        expect(answer.status, body).toBeLessThan(500);
      }
    });
  });
});

describe('several instances on one Redis', () => {
  it('a token cancelled on one instance is refused by the other on the very next request', async () => {
    const redisUrl = requireRedisUrl();
    const a = await startTestServer({ redisUrl, keyPrefix: `multi${process.pid}` });
    const b = await startTestServer({ redisUrl, keyPrefix: `multi${process.pid}` });
    try {
      const user = await a.signUp();
      expect((await b.graphql(ME, { token: user.token })).status).toBe(200);
      expect((await a.graphql('mutation { cancelToken }', { token: user.token })).body.data.cancelToken).toBe(true);
      expectRefused(await b.graphql(ME, { token: user.token }), 'TOKEN_REVOKED');
      const again = await b.graphql(SIGN_IN, { variables: { u: user.username, p: user.password } });
      const tokenB = again.body.data.signIn.accessToken;
      expect((await a.graphql('mutation { cancelAllMyTokens }', { token: tokenB })).body.data.cancelAllMyTokens).toBe(1);
      expectRefused(await b.graphql(ME, { token: tokenB }), 'TOKEN_REVOKED');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('in production', () => {
  it('no error body carries a stack trace', async () => {
    const api = await startTestServer({ redisUrl: requireRedisUrl(), env: { NODE_ENV: 'production' } });
    try {
      const user = await api.signUp();
      await api.graphql('mutation { cancelToken }', { token: user.token });
      const answers = [
        await api.graphql(ME),
        await api.graphql(ME, { token: user.token }),
        await api.graphql(ME, { token: 'garbage' }),
        await api.graphql('{ me { ' ),
        await api.graphql(SIGN_UP, { variables: { u: 'a', p: 'b' } }),
        await api.graphql(SIGN_IN, { variables: { u: user.username, p: 'wrong-password' } }),
      ];
      for (const answer of answers) {
        expect(answer.body.errors?.length).toBeGreaterThan(0);
        expect(answer.text).not.toMatch(/stacktrace|at [\w.]+ \(/);
      }
    } finally {
      await api.close();
    }
  });
});
