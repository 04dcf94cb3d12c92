/**
 * renewConnection over the wire: a socket renews its token in-band and its subscriptions go
 * on; every refusal leaves the socket on its old token; from then on the socket is judged by
 * the new token (its revocation, its exp); a renewal after the socket's token expired closes
 * it. Sockets on instance B, revocations through instance A's HTTP API, one Redis; the graphql-ws
 * client over real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { openLive, type LiveConnection } from '../helpers/live.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/test-server.js';
import { decodePayload, hmacToken, validClaims } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait-for.js';

const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken session { id } } }';
const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }';
const RENEW = 'mutation($t: String!) { renewConnection(accessToken: $t) }';
const EVENTS = 'subscription { sessionEvents { kind session { id } } }';

type Result = { data?: Record<string, unknown> | null; errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[] };

/** Runs one operation on the socket and returns its single result. */
async function once(connection: LiveConnection, query: string, variables?: Record<string, unknown>): Promise<Result> {
  const run = connection.subscribe(query, variables);
  await run.ended;
  return (run.results[0] ?? { errors: run.errors }) as Result;
}

async function closedWithin(connection: LiveConnection, ms: number) {
  const close = await Promise.race([connection.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
  if (!close) throw new Error(`socket still open after ${ms} ms`);
  return { code: close.code, reason: close.reason };
}

interface Pair {
  accessToken: string;
  refreshToken: string;
  session: { id: string };
}

async function signIn(api: TestServer, user: { username: string; password: string }): Promise<Pair> {
  const answer = await api.graphql(SIGN_IN, { variables: { u: user.username, p: user.password } });
  if (!answer.body?.data?.signIn) throw new Error(`signIn failed: ${answer.text}`);
  return answer.body.data.signIn as Pair;
}

async function refresh(api: TestServer, refreshToken: string): Promise<{ accessToken: string; refreshToken: string }> {
  const answer = await api.graphql(REFRESH, { variables: { r: refreshToken } });
  if (!answer.body?.data?.refreshSession) throw new Error(`refresh failed: ${answer.text}`);
  return answer.body.data.refreshSession;
}

function refusal(reason: string) {
  return { data: null, errors: [expect.objectContaining({ path: ['renewConnection'], extensions: { code: 'UNAUTHENTICATED', reason } })] };
}

describe('renewConnection: in-band renewal of a live socket (two instances on one Redis)', () => {
  let a: TestServer;
  let b: TestServer;
  let metrics: Metrics;
  const figures: Record<string, number> = {};

  async function renewals(outcome: string): Promise<number> {
    const { body } = await metrics.render();
    const line = body.split('\n').find((l) => l.startsWith(`graphql_revoke_live_renewals_total{outcome="${outcome}"}`));
    return Number(line?.split(' ')[1] ?? NaN);
  }

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = `renew${process.pid}x${Date.now().toString(36)}`;
    metrics = createMetrics();
    [a, b] = await Promise.all([startTestServer({ redisUrl, keyPrefix }), startTestServer({ redisUrl, keyPrefix, metrics })]);
    await waitFor('live event subscriptions', 10_000, async () => (a.events?.live && b.events?.live ? true : undefined));
  });
  afterAll(async () => {
    console.info('[live-renewal] measured ms:', JSON.stringify(figures));
    await a?.close();
    await b?.close();
  });

  it('renews without closing: the subscription keeps delivering; the old token\'s revocation no longer closes the socket, the new one\'s does (4403)', async () => {
    const user = await a.signUp();
    const first = await signIn(a, user);
    const socket = openLive(b.wsUrl, first.accessToken);
    await socket.connected;
    const events = socket.subscribe(EVENTS);
    // The subscription is live once an event comes through.
    await signIn(a, user);
    await waitFor('the first CREATED event', 5000, async () => (events.results.length >= 1 ? true : undefined));

    const next = await refresh(a, first.refreshToken);
    const before = await renewals('renewed');
    expect(await once(socket, RENEW, { t: next.accessToken })).toEqual({ data: { renewConnection: true } });
    expect(await renewals('renewed')).toBe(before + 1);

    // The old token revoked: the socket is not judged by it any more.
    expect((await a.graphql('mutation($t: String) { cancelToken(token: $t) }', { variables: { t: first.accessToken }, token: next.accessToken })).body).toEqual({
      data: { cancelToken: true },
    });
    await signIn(a, user);
    await waitFor('the CREATED event after the renewal', 5000, async () => (events.results.length >= 2 ? true : undefined));
    expect(socket.close).toBeUndefined();
    expect(events.completed).toBe(false);
    // Later operations on the socket are checked with the new token.
    expect(await once(socket, '{ me { id } }')).toEqual({ data: { me: { id: user.userId } } });

    // The new token revoked: closed 4403, within a second.
    const started = performance.now();
    await a.graphql('mutation { cancelToken }', { token: next.accessToken });
    expect(await closedWithin(socket, 1000)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.closeAfterNewTokenRevoked = Math.round((socket.close?.at ?? 0) - started);
    expect(events.results).toHaveLength(2);
  });

  it('refuses, with the reason, a token that is invalid, expired, revoked, another user\'s or another session\'s; the socket keeps its token and stays open', async () => {
    const user = await a.signUp();
    const pair = await signIn(a, user);
    const socket = openLive(b.wsUrl, pair.accessToken);
    await socket.connected;
    const sid = decodePayload(pair.accessToken).sid;
    const counts = Object.fromEntries(await Promise.all(['invalid', 'expired', 'revoked', 'user_mismatch', 'session_mismatch'].map(async (o) => [o, await renewals(o)])));

    expect(await once(socket, RENEW, { t: 'not-a-token' })).toEqual(refusal('TOKEN_INVALID'));
    const forged = hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(user.userId, Math.floor(Date.now() / 1000), { sid }), 'another secret, 32 bytes or more, ok');
    expect(await once(socket, RENEW, { t: forged })).toEqual(refusal('TOKEN_INVALID'));
    const nowS = Math.floor(Date.now() / 1000);
    const expired = hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(user.userId, nowS - 1000, { exp: nowS - 100, sid }), TEST_SECRET);
    expect(await once(socket, RENEW, { t: expired })).toEqual(refusal('TOKEN_EXPIRED'));
    const revoked = await refresh(a, pair.refreshToken);
    await a.graphql('mutation { cancelToken }', { token: revoked.accessToken });
    expect(await once(socket, RENEW, { t: revoked.accessToken })).toEqual(refusal('TOKEN_REVOKED'));
    const other = await a.signUp();
    expect(await once(socket, RENEW, { t: other.token })).toEqual(refusal('USER_MISMATCH'));
    const otherDevice = await signIn(a, user);
    expect(await once(socket, RENEW, { t: otherDevice.accessToken })).toEqual(refusal('SESSION_MISMATCH'));

    expect(socket.close).toBeUndefined();
    expect(await once(socket, '{ me { id } }')).toEqual({ data: { me: { id: user.userId } } });
    for (const [outcome, n] of Object.entries({ invalid: 2, expired: 1, revoked: 1, user_mismatch: 1, session_mismatch: 1 })) {
      expect(await renewals(outcome)).toBe((counts[outcome] as number) + n);
    }
    // Still the old token's socket: its session ended from the other device closes it (4403) within a second.
    const started = performance.now();
    await a.graphql('mutation($id: ID) { cancelSession(id: $id) }', { variables: { id: pair.session.id }, token: otherDevice.accessToken });
    expect(await closedWithin(socket, 1000)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.closeAfterCancelSession = Math.round((socket.close?.at ?? 0) - started);
  });

  it('has no meaning over HTTP (BAD_REQUEST / WEBSOCKET_REQUIRED) and needs an authenticated socket (TOKEN_MISSING)', async () => {
    const user = await a.signUp();
    const overHttp = await a.graphql(RENEW, { variables: { t: user.token }, token: user.token });
    expect(overHttp.status).toBe(200);
    expect(overHttp.body.data).toBeNull();
    expect(overHttp.body.errors[0]).toMatchObject({ path: ['renewConnection'], extensions: { code: 'BAD_REQUEST', reason: 'WEBSOCKET_REQUIRED' } });
    expect(overHttp.body.errors[0].message).toMatch(/WebSocket/);

    const anonymous = openLive(b.wsUrl);
    await anonymous.connected;
    const answer = await once(anonymous, RENEW, { t: user.token });
    expect(answer.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    expect(anonymous.close).toBeUndefined();
    await anonymous.dispose();
  });
});

describe('renewConnection and time', () => {
  it('after a renewal the socket closes at the NEW token\'s exp (4403), not the old one\'s', async () => {
    const api = await startTestServer({ env: { ACCESS_TOKEN_TTL: '4', JWT_CLOCK_TOLERANCE: '0' } });
    try {
      const user = await api.signUp();
      const pair = await signIn(api, user);
      const socket = openLive(api.wsUrl, pair.accessToken);
      await socket.connected;
      const events = socket.subscribe(EVENTS);
      // Two seconds later (by iat's seconds): the new token's exp is at least 2 s after the old
      // one's, which is still about 2 s away.
      const oldIat = decodePayload(pair.accessToken).iat as number;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, (oldIat + 2) * 1000 + 50 - Date.now())));
      const next = await refresh(api, pair.refreshToken);
      const oldExp = decodePayload(pair.accessToken).exp as number;
      const newExp = decodePayload(next.accessToken).exp as number;
      expect(newExp).toBeGreaterThanOrEqual(oldExp + 2);
      expect(await once(socket, RENEW, { t: next.accessToken })).toEqual({ data: { renewConnection: true } });
      const close = await socket.closed;
      const closedAt = Date.now();
      expect({ code: close.code, reason: close.reason }).toEqual({ code: 4403, reason: 'Forbidden' });
      // Past the old exp by at least a second, and within a second of the new one.
      expect(closedAt).toBeGreaterThanOrEqual(newExp * 1000);
      expect(closedAt).toBeLessThan(newExp * 1000 + 1000);
      expect(events.errors).toHaveLength(0);
    } finally {
      await api.close();
    }
  });

  it('refuses a renewal sent after the socket\'s own token expired, and closes the socket with 4403', async () => {
    let t = Date.now();
    const own = createMetrics();
    const api = await startTestServer({ now: () => t, metrics: own, env: { ACCESS_TOKEN_TTL: '60', JWT_CLOCK_TOLERANCE: '5' } });
    try {
      const user = await api.signUp();
      const pair = await signIn(api, user);
      const socket = openLive(api.wsUrl, pair.accessToken);
      await socket.connected;
      const exp = decodePayload(pair.accessToken).exp as number;
      // Past exp, within the tolerance: the socket's expiry timer has not closed it yet.
      t = exp * 1000 + 2000;
      const next = await refresh(api, pair.refreshToken);
      socket.subscribe(RENEW, { t: next.accessToken });
      expect(await closedWithin(socket, 2000)).toEqual({ code: 4403, reason: 'Forbidden' });
      const { body } = await own.render();
      expect(body).toContain('graphql_revoke_live_renewals_total{outcome="socket_expired"} 1');
      // Counted when the server sees the close, a moment after the client.
      await waitFor('the expired close counted', 5000, async () =>
        (await own.render()).body.includes('graphql_revoke_live_sockets_closed_total{reason="expired"} 1') ? true : undefined,
      );
    } finally {
      await api.close();
    }
  });
});
