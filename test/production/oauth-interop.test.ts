/**
 * The introspection and revocation endpoints checked from outside with an OAuth client that no
 * one here wrote (oauth4webapi: introspectionRequest / processIntrospectionResponse,
 * revocationRequest / processRevocationResponse, ClientSecretBasic), against two API processes
 * (src/server/main.ts) on a redis-server of their own. A revocation through /oauth/revoke on A
 * is seen on B by GraphQL requests (401 TOKEN_REVOKED) and by live sockets (close 4403).
 */
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLive, type LiveConnection } from '../helpers/live.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { uniqueUsername } from '../helpers/test-server.js';
import { ME, metricValue, startApiProcess, type ApiProcess } from './api-process.js';

const GATEWAY_SECRET = 'Zq1x9VYt3m0Lr8c2Kp5W7d4n6s1Hb0Ge-gateway';
const REST_SECRET = 'rest-service-secret-0f4e8a2c6b1d9375/+=';
const SIGN_UP = 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken refreshToken session { id } user { id } } }';
const SESSION_EVENTS = 'subscription { sessionEvents { kind } }';

async function closedWithin(connection: LiveConnection, ms: number) {
  const close = await Promise.race([connection.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
  if (!close) throw new Error(`socket still open after ${ms} ms`);
  return { code: close.code, reason: close.reason };
}

describe('RFC 7662 / RFC 7009 endpoints driven by oauth4webapi across two API processes', () => {
  let redis: RedisServerProcess;
  let a: ApiProcess;
  let b: ApiProcess;
  let as: oauth.AuthorizationServer;
  const gateway: oauth.Client = { client_id: 'gateway' };
  const restService: oauth.Client = { client_id: 'rest-service' };
  const options = { [oauth.allowInsecureRequests]: true };
  const figures: Record<string, number> = {};
  const ws = (api: ApiProcess) => api.url.replace(/^http/, 'ws');

  async function introspect(token: string, client = gateway, secret = GATEWAY_SECRET) {
    const response = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(secret), token, options);
    return oauth.processIntrospectionResponse(as, client, response);
  }

  async function revoke(token: string, hint?: 'access_token' | 'refresh_token', client = gateway, secret = GATEWAY_SECRET) {
    const response = await oauth.revocationRequest(as, client, oauth.ClientSecretBasic(secret), token, {
      ...options,
      ...(hint ? { additionalParameters: { token_type_hint: hint } } : {}),
    });
    return oauth.processRevocationResponse(response);
  }

  async function signUp(api: ApiProcess) {
    const answer = await api.graphql(SIGN_UP, { variables: { u: uniqueUsername('oauth_p'), p: 'correct horse battery' } });
    const payload = answer.body?.data?.signUp;
    if (!payload) throw new Error(`signUp failed: ${answer.status} ${answer.text}`);
    return payload as { accessToken: string; refreshToken: string; session: { id: string }; user: { id: string } };
  }

  /** A socket on `api` with a live subscription, ready. */
  async function liveSocket(api: ApiProcess, token: string): Promise<LiveConnection> {
    const socket = openLive(ws(api), token);
    await socket.connected;
    socket.subscribe(SESSION_EVENTS);
    return socket;
  }

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    const env = { REDIS_URL: redis.url, WS_KEEPALIVE_MS: '0', OAUTH_CLIENTS: `gateway:${GATEWAY_SECRET},rest-service:${REST_SECRET}` };
    [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
    as = { issuer: 'graphql-revoke', introspection_endpoint: `${a.base}/oauth/introspect`, revocation_endpoint: `${a.base}/oauth/revoke` };
  }, 90_000);

  afterAll(async () => {
    console.info('[oauth-interop] measured ms:', JSON.stringify(figures));
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.cleanup();
  });

  it('introspects on A an access token and a refresh token issued on B: active, with their claims', async () => {
    const s = await signUp(b);
    const access = await introspect(s.accessToken);
    expect(access).toMatchObject({ active: true, sub: s.user.id, sid: s.session.id, token_type: 'Bearer', iss: 'graphql-revoke', aud: 'graphql-revoke' });
    expect(access.exp).toBeGreaterThan(Date.now() / 1000);
    expect(access.iat).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(access.jti).toEqual(expect.any(String));
    const refresh = await introspect(s.refreshToken);
    expect(refresh).toMatchObject({ active: true, sub: s.user.id, sid: s.session.id, token_use: 'refresh_token' });
    expect(JSON.stringify(refresh)).not.toContain(s.refreshToken.split('.')[3]);
    expect(await introspect('not-a-token')).toEqual({ active: false });
  });

  it('revokes an access token through A: B refuses it at its next GraphQL request (401 TOKEN_REVOKED) and closes its socket with 4403', async () => {
    const s = await signUp(a);
    const other = await signUp(a);
    const socket = await liveSocket(b, s.accessToken);
    const bystander = await liveSocket(b, other.accessToken);
    expect((await b.graphql(ME, { token: s.accessToken })).status).toBe(200);
    await revoke(s.accessToken, 'access_token');
    const answeredAt = performance.now();
    const me = await b.graphql(ME, { token: s.accessToken });
    expect(me.status).toBe(401);
    expect(me.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    expect(await closedWithin(socket, 5000)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.revokeOnAtoSocketClosedOnB = Math.round(socket.close!.at - answeredAt);
    expect(await introspect(s.accessToken)).toEqual({ active: false });
    // Nothing else was touched.
    expect(bystander.close).toBeUndefined();
    expect((await b.graphql(ME, { token: other.accessToken })).status).toBe(200);
    await bystander.dispose();
  });

  it('revokes a refresh token through A: its session ends, B refuses its access token and closes its socket with 4403', async () => {
    const s = await signUp(b);
    const socket = await liveSocket(b, s.accessToken);
    await revoke(s.refreshToken, 'refresh_token', restService, REST_SECRET);
    const answeredAt = performance.now();
    const me = await b.graphql(ME, { token: s.accessToken });
    expect(me.status).toBe(401);
    expect(me.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    expect(await closedWithin(socket, 5000)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.revokeRefreshOnAtoSocketClosedOnB = Math.round(socket.close!.at - answeredAt);
    expect(await introspect(s.refreshToken, restService, REST_SECRET)).toEqual({ active: false });
    expect(await introspect(s.accessToken)).toEqual({ active: false });
    // Unknown tokens: 200, which the client takes as done.
    await expect(revoke('never-issued')).resolves.toBeUndefined();
  });

  it('a wrong secret: the client sees the 401 Basic challenge and invalid_client', async () => {
    const s = await signUp(a);
    const error = await introspect(s.accessToken, gateway, `${GATEWAY_SECRET}-wrong`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const challenge = error as oauth.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause[0]).toMatchObject({ scheme: 'basic', parameters: { realm: 'graphql-revoke' } });
    const revokeError = await revoke(s.accessToken, undefined, restService, GATEWAY_SECRET).catch((e: unknown) => e);
    expect(revokeError).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    // And nothing was revoked.
    expect((await b.graphql(ME, { token: s.accessToken })).status).toBe(200);
  });

  it('A counts its requests by outcome and writes an audit line per revocation with the client id, never a token', async () => {
    const metrics = await a.metrics();
    const count = (endpoint: string, outcome: string) => metricValue(metrics, `graphql_revoke_oauth_requests_total{endpoint="${endpoint}",outcome="${outcome}"}`);
    expect(count('introspect', 'active')).toBe(2);
    expect(count('introspect', 'inactive')).toBe(4);
    expect(count('introspect', 'invalid_client')).toBe(1);
    expect(count('revoke', 'revoked_access_token')).toBe(1);
    expect(count('revoke', 'ended_session')).toBe(1);
    expect(count('revoke', 'ignored')).toBe(1);
    expect(count('revoke', 'invalid_client')).toBe(1);
    expect(count('revoke', 'unsupported_token_type')).toBe(0);
    const audits = a.logs().filter((l) => l.audit === true && l.action === 'oauthRevoke');
    expect(audits.map((l) => [(l.actor as { clientId: string }).clientId, l.outcome, l.msg])).toEqual([
      ['gateway', 'done', 'oauth: access token revoked'],
      ['rest-service', 'done', 'oauth: session ended'],
      ['gateway', 'ignored', 'oauth: nothing revoked'],
    ]);
    const output = a.output.join('\n');
    for (const secret of [GATEWAY_SECRET, REST_SECRET, 'never-issued']) expect(output).not.toContain(secret);
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
  });
});
