/**
 * POST /oauth/introspect (RFC 7662) and /oauth/revoke (RFC 7009) over real HTTP against the
 * real server (createServer) on Redis: every answer, status and header the RFCs fix
 * (RFC 6749 §5.2 for errors), the limits per client and per address, a failing store (503,
 * never an answer about the token), and logs that carry no token and no secret.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { StoreUnavailableError } from '../../src/errors.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';
import type { TokenRef } from '../../src/auth/token.js';
import { rawPost } from '../helpers/raw-http.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { hmacToken, validClaims } from '../helpers/tokens.js';
import { httpRequest, startTestServer, TEST_SECRET, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';

const GATEWAY_SECRET = 'gw-secret-7f3a9c1e5b2d8046-abcdefghijklmnop';
const REPORTS_SECRET = 'rp-secret:with:colons+plus/slash=0123456789';
const CLIENTS = `gateway:${GATEWAY_SECRET},reports:${REPORTS_SECRET}`;
const SIGN_UP =
  'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken refreshToken session { id } user { id } } }';
const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }';
const ME = '{ me { id } }';

/** client_secret_basic as RFC 6749 §2.3.1 writes it: each part form-urlencoded, then base64. */
function basic(id: string, secret: string): string {
  const form = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString('base64')}`;
}

function post(server: TestServer, path: string, form: Record<string, string> | URLSearchParams | undefined, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const body = form === undefined ? undefined : form instanceof URLSearchParams ? form : new URLSearchParams(form);
  return httpRequest(new URL(path, server.url).toString(), {
    method: 'POST',
    headers: { authorization: basic('gateway', GATEWAY_SECRET), ...headers },
    ...(body ? { body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
}

function expectError(answer: HttpAnswer, status: number, error: string): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.body.error).toBe(error);
  expect(answer.body.error_description).toEqual(expect.any(String));
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(answer.headers.get('pragma')).toBe('no-cache');
}

function expectInvalidClient(answer: HttpAnswer): void {
  expectError(answer, 401, 'invalid_client');
  expect(answer.headers.get('www-authenticate')).toBe('Basic realm="graphql-revoke", charset="UTF-8"');
}

function expectNoStore(answer: HttpAnswer): void {
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(answer.headers.get('pragma')).toBe('no-cache');
}

async function session(server: TestServer) {
  const answer = await server.graphql(SIGN_UP, { variables: { u: uniqueUsername('oauth'), p: 'correct horse battery' } });
  const payload = answer.body?.data?.signUp;
  if (!payload) throw new Error(`signUp failed: ${answer.status} ${answer.text}`);
  return payload as { accessToken: string; refreshToken: string; session: { id: string }; user: { id: string } };
}

/** Log lines, kept as written (JSON text) and parsed. */
function captureLogs() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('OAuth introspection and revocation endpoints (Redis)', () => {
  let server: TestServer;
  const logs = captureLogs();
  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl(), env: { OAUTH_CLIENTS: CLIENTS, MAX_BODY_BYTES: '4096', OAUTH_MAX_AUTH_FAILURES_PER_ADDRESS: '1000' }, logger: logs.logger });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('introspects an active access token with every claim it knows, and no-store headers', async () => {
    const s = await session(server);
    const answer = await post(server, '/oauth/introspect', { token: s.accessToken });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expectNoStore(answer);
    const claims = JSON.parse(Buffer.from(s.accessToken.split('.')[1]!, 'base64url').toString('utf8'));
    expect(answer.body).toEqual({
      active: true,
      sub: s.user.id,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      sid: s.session.id,
      username: claims.preferred_username,
      token_type: 'Bearer',
      token_use: 'access_token',
      iss: 'graphql-revoke',
      aud: 'graphql-revoke',
    });
  });

  it('answers exactly {"active": false} for a revoked, expired, malformed, unknown or foreign token', async () => {
    const s = await session(server);
    const cancelled = await server.graphql('mutation { cancelToken }', { token: s.accessToken });
    expect(cancelled.body.data.cancelToken).toBe(true);
    const now = Math.floor(Date.now() / 1000);
    const tokens = {
      revoked: s.accessToken,
      expired: hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(s.user.id, now - 3600, { exp: now - 1800 }), TEST_SECRET),
      otherIssuer: hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(s.user.id, now, {}, 'someone-else'), TEST_SECRET),
      otherKey: hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(s.user.id, now), 'another-secret-0123456789-abcdefghijklmnop'),
      malformed: 'not a token at all',
      refreshShapedUnknown: `${Buffer.from(s.user.id).toString('base64url')}.${'A'.repeat(22)}.${'B'.repeat(43)}`,
      huge: 'x'.repeat(3000),
    };
    for (const [name, token] of Object.entries(tokens)) {
      const answer = await post(server, '/oauth/introspect', { token });
      expect(answer.status, name).toBe(200);
      expect(answer.text, name).toBe('{"active":false}');
      expectNoStore(answer);
    }
  });

  it('introspects a refresh token: active while its session holds it, with no secret material; inactive once the session ended', async () => {
    const s = await session(server);
    const active = await post(server, '/oauth/introspect', { token: s.refreshToken, token_type_hint: 'refresh_token' });
    expect(active.status).toBe(200);
    expectNoStore(active);
    expect(active.body).toEqual({
      active: true,
      sub: s.user.id,
      sid: s.session.id,
      exp: expect.any(Number),
      username: expect.any(String),
      token_use: 'refresh_token',
      iss: 'graphql-revoke',
    });
    expect(active.body.exp).toBeGreaterThan(Date.now() / 1000);
    const secret = s.refreshToken.slice(s.refreshToken.lastIndexOf('.') + 1);
    expect(active.text).not.toContain(secret);
    // Introspecting is no use: the token still rotates, once.
    const rotated = (await server.graphql(REFRESH, { variables: { r: s.refreshToken } })).body.data.refreshSession;
    expect((await post(server, '/oauth/introspect', { token: rotated.refreshToken })).body.active).toBe(true);
    // The replaced one still refreshes within REFRESH_REUSE_GRACE_SECONDS (10 by default): active too.
    expect((await post(server, '/oauth/introspect', { token: s.refreshToken })).body.active).toBe(true);
    // The hint is only a hint: a refresh token hinted as an access token is found all the same.
    expect((await post(server, '/oauth/introspect', { token: rotated.refreshToken, token_type_hint: 'access_token' })).body.active).toBe(true);
    expect((await server.graphql('mutation { cancelSession }', { token: rotated.accessToken })).body.data.cancelSession).toBe(true);
    expect((await post(server, '/oauth/introspect', { token: rotated.refreshToken })).text).toBe('{"active":false}');
  });

  it('revokes an access token as cancelToken: 200 with no body, then GraphQL refuses it (401 TOKEN_REVOKED) and introspection says inactive', async () => {
    const s = await session(server);
    const answer = await post(server, '/oauth/revoke', { token: s.accessToken, token_type_hint: 'access_token' }, { authorization: basic('reports', REPORTS_SECRET) });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.text).toBe('');
    expectNoStore(answer);
    const me = await server.graphql(ME, { token: s.accessToken });
    expect(me.status).toBe(401);
    expect(me.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    expect((await post(server, '/oauth/introspect', { token: s.accessToken })).text).toBe('{"active":false}');
    // The session lives on: its refresh token still works.
    expect((await server.graphql(REFRESH, { variables: { r: s.refreshToken } })).body.data.refreshSession.accessToken).toEqual(expect.any(String));
  });

  it('revokes a refresh token by ending its session: every access token of it refused, the refresh token too', async () => {
    const s = await session(server);
    const answer = await post(server, '/oauth/revoke', { token: s.refreshToken });
    expect(answer.status, answer.text).toBe(200);
    const me = await server.graphql(ME, { token: s.accessToken });
    expect(me.status).toBe(401);
    expect(me.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    const refreshed = await server.graphql(REFRESH, { variables: { r: s.refreshToken } });
    expect(refreshed.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
    // Again: already invalid, still 200 (RFC 7009 §2.2).
    expect((await post(server, '/oauth/revoke', { token: s.refreshToken })).status).toBe(200);
  });

  it('answers 200 to unknown and invalid tokens, and unsupported_token_type only when the hint names a type this server never issues', async () => {
    for (const token of ['garbage', 'a.b.c', 'x'.repeat(2000)]) {
      const answer = await post(server, '/oauth/revoke', { token });
      expect(answer.status).toBe(200);
      expect(answer.text).toBe('');
    }
    expect((await post(server, '/oauth/revoke', { token: 'garbage', token_type_hint: 'refresh_token' })).status).toBe(200);
    const unsupported = await post(server, '/oauth/revoke', { token: 'garbage', token_type_hint: 'pct' });
    expectError(unsupported, 400, 'unsupported_token_type');
    // A token of ours is revoked whatever the hint says (RFC 7009 §2.1: the search extends to every supported type).
    const s = await session(server);
    expect((await post(server, '/oauth/revoke', { token: s.accessToken, token_type_hint: 'pct' })).status).toBe(200);
    expect((await server.graphql(ME, { token: s.accessToken })).status).toBe(401);
  });

  it('refuses client authentication with 401 invalid_client and WWW-Authenticate: Basic', async () => {
    const s = await session(server);
    const cases: Record<string, Record<string, string>> = {
      none: { authorization: '' },
      wrongSecret: { authorization: basic('gateway', `${GATEWAY_SECRET}x`) },
      unknownClient: { authorization: basic('nobody', GATEWAY_SECRET) },
      otherClientsSecret: { authorization: basic('gateway', REPORTS_SECRET) },
      bearer: { authorization: `Bearer ${s.accessToken}` },
      notBase64: { authorization: 'Basic ***' },
      noColon: { authorization: `Basic ${Buffer.from('gateway').toString('base64')}` },
      badPercent: { authorization: `Basic ${Buffer.from('gateway:%zz').toString('base64')}` },
    };
    for (const path of ['/oauth/introspect', '/oauth/revoke']) {
      for (const [name, headers] of Object.entries(cases)) {
        const answer = await post(server, path, { token: s.accessToken }, headers);
        expectInvalidClient(answer);
        expect(answer.text, name).not.toContain(s.accessToken);
      }
    }
    // Client authentication failed before anything was done: the token still works.
    expect((await server.graphql(ME, { token: s.accessToken })).status).toBe(200);
    // client_secret_post is not an accepted method: without Basic it is no authentication.
    const posted = await post(server, '/oauth/introspect', { token: s.accessToken, client_id: 'gateway', client_secret: GATEWAY_SECRET }, { authorization: '' });
    expectInvalidClient(posted);
  });

  it('accepts credentials form-urlencoded as RFC 6749 §2.3.1 says (a secret with ":", "+" and "/")', async () => {
    const s = await session(server);
    const answer = await post(server, '/oauth/introspect', { token: s.accessToken }, { authorization: basic('reports', REPORTS_SECRET) });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.active).toBe(true);
  });

  it('refuses malformed requests with 400 invalid_request (and 413 for a body over MAX_BODY_BYTES)', async () => {
    const s = await session(server);
    expectError(await post(server, '/oauth/introspect', {}), 400, 'invalid_request');
    expectError(await post(server, '/oauth/introspect', { token: '' }), 400, 'invalid_request');
    expectError(await post(server, '/oauth/revoke', undefined), 400, 'invalid_request');
    expectError(await post(server, '/oauth/introspect', new URLSearchParams([['token', s.accessToken], ['token', 'other']])), 400, 'invalid_request');
    expectError(await post(server, '/oauth/introspect', new URLSearchParams([['token', s.accessToken], ['token_type_hint', 'a'], ['token_type_hint', 'b']])), 400, 'invalid_request');
    // Two client authentication methods in one request.
    expectError(await post(server, '/oauth/revoke', { token: s.accessToken, client_secret: GATEWAY_SECRET }), 400, 'invalid_request');
    expectError(await post(server, '/oauth/revoke', { token: s.accessToken, client_id: 'reports' }), 400, 'invalid_request');
    // The same client id in the body is fine.
    expect((await post(server, '/oauth/introspect', { token: s.accessToken, client_id: 'gateway' })).body.active).toBe(true);
    // Not a form.
    const json = await httpRequest(new URL('/oauth/introspect', server.url).toString(), {
      method: 'POST',
      headers: { authorization: basic('gateway', GATEWAY_SECRET), 'content-type': 'application/json' },
      body: JSON.stringify({ token: s.accessToken }),
    });
    expectError(json, 400, 'invalid_request');
    // Two Authorization headers.
    const twice = await rawPost(new URL('/oauth/introspect', server.url).toString(), `token=${s.accessToken}`, {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: [basic('gateway', GATEWAY_SECRET), basic('reports', REPORTS_SECRET)],
    });
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body).error).toBe('invalid_request');
    const large = await post(server, '/oauth/introspect', { token: 'x'.repeat(5000) });
    expectError(large, 413, 'invalid_request');
    // None of it revoked anything.
    expect((await server.graphql(ME, { token: s.accessToken })).status).toBe(200);
  });

  it('answers 405 with Allow: POST to every other method', async () => {
    for (const path of ['/oauth/introspect', '/oauth/revoke']) {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD']) {
        const answer = await httpRequest(new URL(path, server.url).toString(), { method, headers: { authorization: basic('gateway', GATEWAY_SECRET) } });
        expect(answer.status, `${method} ${path}`).toBe(405);
        expect(answer.headers.get('allow')).toBe('POST');
        if (method !== 'HEAD') expect(answer.body.error).toBe('invalid_request');
      }
    }
  });

  it('logs an audit line with the client id for every revocation, and never a token or a secret', async () => {
    const s = await session(server);
    await post(server, '/oauth/introspect', { token: s.accessToken });
    await post(server, '/oauth/introspect', { token: s.refreshToken });
    await post(server, '/oauth/revoke', { token: 'unknown-token-value' }, { authorization: basic('reports', REPORTS_SECRET) });
    await post(server, '/oauth/revoke', { token: s.accessToken });
    await post(server, '/oauth/revoke', { token: s.refreshToken });
    await post(server, '/oauth/introspect', { token: s.accessToken }, { authorization: basic('gateway', `${GATEWAY_SECRET}-wrong`) });
    const audits = logs.parsed().filter((l) => l.audit === true && l.action === 'oauthRevoke');
    const accessLine = audits.find((l) => (l.target as { jti?: string } | undefined)?.jti !== undefined && (l.target as { userId: string }).userId === s.user.id);
    expect(accessLine).toMatchObject({ level: 30, actor: { kind: 'oauth-client', clientId: 'gateway' }, outcome: 'done', msg: 'oauth: access token revoked' });
    expect(audits.find((l) => (l.target as { sessionId?: string } | undefined)?.sessionId === s.session.id)).toMatchObject({
      actor: { kind: 'oauth-client', clientId: 'gateway' },
      outcome: 'done',
      msg: 'oauth: session ended',
    });
    expect(audits.some((l) => (l.actor as { clientId: string }).clientId === 'reports' && l.outcome === 'ignored')).toBe(true);
    const all = logs.lines.join('\n');
    for (const secret of [s.accessToken, s.refreshToken, s.refreshToken.split('.')[3]!, GATEWAY_SECRET, REPORTS_SECRET, basic('gateway', GATEWAY_SECRET).slice(6), 'unknown-token-value']) {
      expect(all).not.toContain(secret);
    }
  });
});

describe('OAuth endpoints off without clients', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({});
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 404 on both paths when OAUTH_CLIENTS is not set', async () => {
    for (const path of ['/oauth/introspect', '/oauth/revoke']) {
      const answer = await post(server, path, { token: 'anything' });
      expect(answer.status).toBe(404);
    }
  });
});

describe('OAuth endpoint limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { OAUTH_CLIENTS: CLIENTS, OAUTH_MAX_REQUESTS_PER_CLIENT: '2', OAUTH_MAX_REQUESTS_PER_ADDRESS: '1000', OAUTH_MAX_AUTH_FAILURES_PER_ADDRESS: '2' },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  function expectLimited(answer: HttpAnswer, maxSeconds: number): void {
    expectError(answer, 429, 'too_many_requests');
    const seconds = Number(answer.headers.get('retry-after'));
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(maxSeconds);
  }

  it('limits requests per client id (OAUTH_MAX_REQUESTS_PER_CLIENT a second): 429 with Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(server, '/oauth/introspect', { token: 'x' })));
    const ok = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status === 429);
    // 2 a second: even if the burst straddled a window, at most two windows' worth went through.
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(4);
    expect(ok.length + limited.length).toBe(10);
    for (const answer of limited) expectLimited(answer, 1);
    // Another client is counted apart: its first request goes through, unless this second has passed and its window too.
    const other = await post(server, '/oauth/introspect', { token: 'x' }, { authorization: basic('reports', REPORTS_SECRET) });
    expect(other.status).toBe(200);
  });

  it('limits failed client authentications per address (OAUTH_MAX_AUTH_FAILURES_PER_ADDRESS a minute): then even the right secret waits', async () => {
    for (let i = 0; i < 2; i++) expectInvalidClient(await post(server, '/oauth/revoke', { token: 'x' }, { authorization: basic('gateway', 'wrong-secret') }));
    expectLimited(await post(server, '/oauth/revoke', { token: 'x' }, { authorization: basic('gateway', 'wrong-secret') }), 60);
    expectLimited(await post(server, '/oauth/revoke', { token: 'x' }, { authorization: basic('reports', REPORTS_SECRET) }), 60);
  });
});

describe('OAuth endpoint limit per address', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { OAUTH_CLIENTS: CLIENTS, OAUTH_MAX_REQUESTS_PER_ADDRESS: '3' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('counts every request from an address before authentication (OAUTH_MAX_REQUESTS_PER_ADDRESS a second)', async () => {
    // Without credentials: 401 until the address is over its limit, then 429 (missing credentials are not counted as failures).
    const answers = await Promise.all(Array.from({ length: 12 }, () => post(server, '/oauth/introspect', { token: 'x' }, { authorization: '' })));
    const unauthorized = answers.filter((a) => a.status === 401);
    const limited = answers.filter((a) => a.status === 429);
    expect(unauthorized.length).toBeGreaterThanOrEqual(1);
    expect(unauthorized.length).toBeLessThanOrEqual(6);
    expect(unauthorized.length + limited.length).toBe(12);
    for (const answer of limited) {
      expect(answer.body.error).toBe('too_many_requests');
      expect(answer.headers.get('retry-after')).toBe('1');
    }
  });
});

/** A memory store whose reads and writes fail while `failing` is set, as a Redis outage does. */
class FlakyStore extends MemoryRevocationStore {
  failing = false;
  override async isRevoked(token: TokenRef): Promise<boolean> {
    if (this.failing) throw new StoreUnavailableError('isRevoked');
    return super.isRevoked(token);
  }
  override async revoke(token: TokenRef): Promise<void> {
    if (this.failing) throw new StoreUnavailableError('revoke');
    return super.revoke(token);
  }
}

describe('OAuth endpoints when the token store fails', () => {
  let server: TestServer;
  const store = new FlakyStore({ expiryGraceSeconds: 5, sweepIntervalMs: 0 });
  beforeAll(async () => {
    server = await startTestServer({ revocations: store, env: { OAUTH_CLIENTS: CLIENTS } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 503 temporarily_unavailable with Retry-After: never active, never inactive, never revoked', async () => {
    const { token } = await server.signUp();
    store.failing = true;
    try {
      const introspected = await post(server, '/oauth/introspect', { token });
      expectError(introspected, 503, 'temporarily_unavailable');
      expect(introspected.headers.get('retry-after')).toBe('1');
      expect(introspected.body.active).toBeUndefined();
      const revoked = await post(server, '/oauth/revoke', { token });
      expectError(revoked, 503, 'temporarily_unavailable');
      expect(revoked.headers.get('retry-after')).toBe('1');
    } finally {
      store.failing = false;
    }
    // Nothing was revoked.
    expect((await post(server, '/oauth/introspect', { token })).body.active).toBe(true);
  });
});
