/**
 * The API's own WebSocket endpoint (createServer, /graphql, graphql-transport-ws): two
 * instances on one Redis, revocations through the HTTP mutations of instance A, sockets on
 * instance B, with the graphql-ws client over real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPE, createUserAdmin } from '../../src/admin/user-admin.js';
import { openLive, type LiveConnection } from '../helpers/live.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

const ME = '{ me { id } }';

async function closedWithin(connection: LiveConnection, ms: number) {
  const close = await Promise.race([connection.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
  if (!close) throw new Error(`socket still open after ${ms} ms`);
  return { code: close.code, reason: close.reason };
}

/** Runs one operation on the socket and returns its single result. */
async function once(connection: LiveConnection, query: string): Promise<{ data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const run = connection.subscribe(query);
  await run.ended;
  return (run.results[0] ?? { errors: run.errors }) as never;
}

describe('the API over WebSocket, two instances on one Redis', () => {
  let a: TestServer;
  let b: TestServer;
  let keyPrefix: string;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    keyPrefix = `liveapi${process.pid}x${Date.now().toString(36)}`;
    [a, b] = await Promise.all([startTestServer({ redisUrl, keyPrefix }), startTestServer({ redisUrl, keyPrefix })]);
    await waitFor('live event subscriptions', 10_000, async () => (a.events?.live && b.events?.live ? true : undefined));
  });
  afterAll(async () => {
    console.info('[live-api] measured ms:', JSON.stringify(figures));
    await a?.close();
    await b?.close();
  });

  it('authenticates connection_init like an HTTP request: me over the socket is the token\'s user', async () => {
    const { token, userId } = await a.signUp();
    const socket = openLive(b.wsUrl, token);
    await socket.connected;
    expect(await once(socket, ME)).toEqual({ data: { me: { id: userId } } });
    await socket.dispose();
  });

  it('answers an anonymous socket\'s @authenticated field exactly as HTTP does', async () => {
    const socket = openLive(b.wsUrl);
    await socket.connected;
    const overSocket = await once(socket, ME);
    const overHttp = (await b.graphql(ME)).body;
    expect(overSocket).toEqual(overHttp);
    expect(overSocket.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    await socket.dispose();
  });

  it('refuses sessionEvents to an anonymous socket with UNAUTHENTICATED / TOKEN_MISSING, and serves nothing on WS_MAX_CONNECTIONS=0', async () => {
    const socket = openLive(b.wsUrl);
    await socket.connected;
    const answer = await once(socket, 'subscription { sessionEvents { kind } }');
    expect(answer.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    expect(socket.close).toBeUndefined();
    await socket.dispose();
    const off = await startTestServer({ env: { WS_MAX_CONNECTIONS: '0' } });
    try {
      expect(off.app.live).toBeUndefined();
      const refused = openLive(off.wsUrl);
      expect((await closedWithin(refused, 2000)).code).toBe(1006);
    } finally {
      await off.close();
    }
  });

  it('cancelToken on A closes the socket on B with 4403 within a second; another user\'s socket stays open', async () => {
    const alice = await a.signUp();
    const bob = await a.signUp();
    const target = openLive(b.wsUrl, alice.token);
    const bystander = openLive(b.wsUrl, bob.token);
    await Promise.all([target.connected, bystander.connected]);
    const started = performance.now();
    const answer = await a.graphql('mutation { cancelToken }', { token: alice.token });
    const answeredAt = performance.now();
    expect(answer.body).toEqual({ data: { cancelToken: true } });
    expect(await closedWithin(target, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.cancelTokenSentOnAtoCloseOnB = Math.round(target.close!.at - started);
    figures.cancelTokenAnsweredOnAtoCloseOnB = Math.round(target.close!.at - answeredAt);
    expect(bystander.close).toBeUndefined();
    expect(await once(bystander, ME)).toEqual({ data: { me: { id: bob.userId } } });
    await bystander.dispose();
  });

  it('an instance with WebSocket off (WS_MAX_CONNECTIONS=0) still closes, through Redis, the sockets its revocations cover on B', async () => {
    // docs/production.md "Many live sockets beside heavy HTTP traffic": HTTP-only instances beside live ones.
    const httpOnly = await startTestServer({ redisUrl: requireRedisUrl(), keyPrefix, env: { WS_MAX_CONNECTIONS: '0' } });
    try {
      expect(httpOnly.app.live).toBeUndefined();
      const alice = await httpOnly.signUp();
      const target = openLive(b.wsUrl, alice.token);
      await target.connected;
      expect(await httpOnly.graphql('mutation { cancelToken }', { token: alice.token })).toMatchObject({ body: { data: { cancelToken: true } } });
      expect(await closedWithin(target, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    } finally {
      await httpOnly.close();
    }
  });

  it('cancelAllMyTokens on A closes every socket of the user on A and B', async () => {
    const carol = await a.signUp();
    const second = await b.signIn(carol.username, carol.password);
    const onB = openLive(b.wsUrl, carol.token);
    const onA = openLive(a.wsUrl, second);
    await Promise.all([onB.connected, onA.connected]);
    const started = performance.now();
    expect((await a.graphql('mutation { cancelAllMyTokens }', { token: second })).body.data.cancelAllMyTokens).toBe(2);
    expect(await closedWithin(onB, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(await closedWithin(onA, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.cancelAllOnAtoCloseOnB = Math.round(onB.close!.at - started);
  });

  it('an admin revocation (cancelAllUserTokens) and a disabled account on A close the user\'s sockets on B with 4403', async () => {
    const root = await a.signUp();
    await createUserAdmin({ users: a.users, revocations: a.revocations }).grantScopes({ kind: 'cli' }, root.userId, [ADMIN_SCOPE]);
    const adminToken = await a.signIn(root.username, root.password);
    const [dave, erin] = [await a.signUp(), await a.signUp()];
    const daveSocket = openLive(b.wsUrl, dave.token);
    const erinSocket = openLive(b.wsUrl, erin.token);
    const bystander = openLive(b.wsUrl, adminToken);
    await Promise.all([daveSocket.connected, erinSocket.connected, bystander.connected]);

    const revoke = await a.graphql('mutation($id: ID!) { cancelAllUserTokens(userId: $id) }', { token: adminToken, variables: { id: dave.userId } });
    expect(revoke.body.data.cancelAllUserTokens).toBeGreaterThanOrEqual(1);
    expect(await closedWithin(daveSocket, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });

    const disable = await a.graphql('mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true) }', { token: adminToken, variables: { id: erin.userId } });
    expect(disable.body).toEqual({ data: { setUserDisabled: true } });
    expect(await closedWithin(erinSocket, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });

    expect(bystander.close).toBeUndefined();
    await bystander.dispose();
  });

  it('refuses a revoked token at connection_init with 4403', async () => {
    const dave = await a.signUp();
    await a.graphql('mutation { cancelToken }', { token: dave.token });
    const refused = openLive(b.wsUrl, dave.token);
    expect(await closedWithin(refused, 2000)).toEqual({ code: 4403, reason: 'Forbidden' });
  });
});

/** A fresh session: its access token, refresh token and id (signIn through `server`). */
async function signInSession(server: TestServer, username: string, password: string) {
  const answer = await server.graphql(
    'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken session { id } } }',
    { variables: { u: username, p: password } },
  );
  const payload = answer.body?.data?.signIn;
  if (!payload) throw new Error(`signIn failed: ${answer.status} ${answer.text}`);
  return { token: payload.accessToken as string, refreshToken: payload.refreshToken as string, sessionId: payload.session.id as string };
}

const SESSION_EVENTS = 'subscription { sessionEvents { kind session { id current } } }';

describe('sessions and live sockets, two instances on one Redis', () => {
  let a: TestServer;
  let b: TestServer;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = `livesess${process.pid}x${Date.now().toString(36)}`;
    // No reuse grace: presenting a replaced refresh token ends its session at once.
    const env = { REFRESH_REUSE_GRACE_SECONDS: '0' };
    [a, b] = await Promise.all([startTestServer({ redisUrl, keyPrefix, env }), startTestServer({ redisUrl, keyPrefix, env })]);
    await waitFor('live event subscriptions', 10_000, async () => (a.events?.live && b.events?.live ? true : undefined));
  });
  afterAll(async () => {
    console.info('[live-api sessions] measured ms:', JSON.stringify(figures));
    await a?.close();
    await b?.close();
  });

  /**
   * A socket on B opened with a token of `session`, subscribed to sessionEvents; proven
   * active by the CREATED event of a sign-in made through A.
   */
  async function watching(user: { username: string; password: string }, session: { token: string }) {
    const socket = openLive(b.wsUrl, session.token);
    await socket.connected;
    const events = socket.subscribe(SESSION_EVENTS);
    const probe = await signInSession(a, user.username, user.password);
    expect(await events.first).toEqual({ data: { sessionEvents: { kind: 'CREATED', session: { id: probe.sessionId, current: false } } } });
    return { socket, events, probe };
  }

  it('sessionEvents: a session created and ended through A reaches the subscriber on B', async () => {
    const user = await a.signUp();
    const mine = await signInSession(a, user.username, user.password);
    const { socket, events, probe } = await watching(user, mine);
    expect((await a.graphql('mutation($id: ID) { cancelSession(id: $id) }', { token: mine.token, variables: { id: probe.sessionId } })).body).toEqual({
      data: { cancelSession: true },
    });
    await waitFor('the ENDED event', 1500, async () => (events.results.length >= 2 ? true : undefined));
    expect(events.results[1]).toEqual({ data: { sessionEvents: { kind: 'ENDED', session: { id: probe.sessionId, current: false } } } });
    // Another session's end closes nothing here.
    expect(socket.close).toBeUndefined();
    await socket.dispose();
  });

  it('cancelSession through A closes B\'s socket of that session with 4403 within a second, after telling it ENDED; another user\'s socket stays', async () => {
    const user = await a.signUp();
    const other = await a.signUp();
    const mine = await signInSession(a, user.username, user.password);
    const { socket, events } = await watching(user, mine);
    const bystander = openLive(b.wsUrl, other.token);
    await bystander.connected;
    const answer = await a.graphql('mutation { cancelSession }', { token: mine.token });
    const answeredAt = performance.now();
    expect(answer.body).toEqual({ data: { cancelSession: true } });
    expect(await closedWithin(socket, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.cancelSessionAnsweredOnAtoCloseOnB = Math.round(socket.close!.at - answeredAt);
    expect(events.results.at(-1)).toEqual({ data: { sessionEvents: { kind: 'ENDED', session: { id: mine.sessionId, current: true } } } });
    expect(bystander.close).toBeUndefined();
    await bystander.dispose();
  });

  it('cancelAllMyTokens(exceptCurrentSession: true) through A closes B\'s sockets of the other sessions only', async () => {
    const user = await a.signUp();
    const kept = await signInSession(a, user.username, user.password);
    const other = await signInSession(a, user.username, user.password);
    const keptSocket = openLive(b.wsUrl, kept.token);
    const { socket } = await watching(user, other);
    await keptSocket.connected;
    const answer = await a.graphql('mutation { cancelAllMyTokens(exceptCurrentSession: true) }', { token: kept.token });
    const answeredAt = performance.now();
    expect(answer.body.errors).toBeUndefined();
    expect(await closedWithin(socket, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.cancelAllExceptCurrentAnsweredToCloseOnB = Math.round(socket.close!.at - answeredAt);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(keptSocket.close).toBeUndefined();
    await keptSocket.dispose();
  });

  it('changePassword through A closes B\'s sockets of the other sessions; the current session\'s socket stays', async () => {
    const user = await a.signUp();
    const current = await signInSession(a, user.username, user.password);
    const other = await signInSession(a, user.username, user.password);
    const currentSocket = openLive(b.wsUrl, current.token);
    const { socket } = await watching(user, other);
    await currentSocket.connected;
    const answer = await a.graphql('mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }', {
      token: current.token,
      variables: { c: user.password, n: 'a brand new passphrase' },
    });
    const answeredAt = performance.now();
    expect(answer.body.errors).toBeUndefined();
    expect(await closedWithin(socket, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.changePasswordAnsweredToCloseOnB = Math.round(socket.close!.at - answeredAt);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(currentSocket.close).toBeUndefined();
    await currentSocket.dispose();
  });

  it('reuse detection through A (a replaced refresh token presented again) closes B\'s socket of that session', async () => {
    const user = await a.signUp();
    const mine = await signInSession(a, user.username, user.password);
    const rotated = await a.graphql('mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }', { variables: { r: mine.refreshToken } });
    const { socket } = await watching(user, { token: rotated.body.data.refreshSession.accessToken as string });
    const reused = await a.graphql('mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }', { variables: { r: mine.refreshToken } });
    const answeredAt = performance.now();
    expect(reused.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_REUSED' });
    expect(await closedWithin(socket, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.reuseDetectedToCloseOnB = Math.round(socket.close!.at - answeredAt);
  });
});

describe('the API\'s WebSocket endpoint alone (embedded store)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { WS_MAX_CONNECTIONS: '3', WS_MAX_ANONYMOUS_CONNECTIONS: '3' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('closes the sockets of a token cancelled on the same instance (in-process events)', async () => {
    const erin = await server.signUp();
    const socket = openLive(server.wsUrl, erin.token);
    await socket.connected;
    await server.graphql('mutation { cancelToken }', { token: erin.token });
    expect(await closedWithin(socket, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    await waitFor('the server to drop the socket', 1000, async () => (server.app.live?.size === 0 ? true : undefined));
  });

  it('refuses a 4th socket with 1013 under WS_MAX_CONNECTIONS=3', async () => {
    const sockets = [openLive(server.wsUrl), openLive(server.wsUrl), openLive(server.wsUrl)];
    await Promise.all(sockets.map((s) => s.connected));
    const fourth = openLive(server.wsUrl);
    expect(await closedWithin(fourth, 2000)).toEqual({ code: 1013, reason: 'Too many connections, try again later' });
    await Promise.all(sockets.map((s) => s.dispose()));
  });

  it('serves WebSocket only on /graphql', async () => {
    const elsewhere = openLive(server.wsUrl.replace('/graphql', '/elsewhere'));
    // The upgrade is answered 404: the client never opens (abnormal closure).
    expect((await closedWithin(elsewhere, 2000)).code).toBe(1006);
  });
});
