/**
 * The API's own WebSocket endpoint (createServer, /graphql, graphql-transport-ws): two
 * instances on one Redis, revocations through the HTTP mutations of instance A, sockets on
 * instance B, with the graphql-ws client over real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    const keyPrefix = `liveapi${process.pid}x${Date.now().toString(36)}`;
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

  it('refuses a revoked token at connection_init with 4403', async () => {
    const dave = await a.signUp();
    await a.graphql('mutation { cancelToken }', { token: dave.token });
    const refused = openLive(b.wsUrl, dave.token);
    expect(await closedWithin(refused, 2000)).toEqual({ code: 4403, reason: 'Forbidden' });
  });
});

describe('the API\'s WebSocket endpoint alone (embedded store)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { WS_MAX_CONNECTIONS: '3' } });
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
    expect((await closedWithin(fourth, 2000)).code).toBe(1013);
    await Promise.all(sockets.map((s) => s.dispose()));
  });

  it('serves WebSocket only on /graphql', async () => {
    const elsewhere = openLive(server.wsUrl.replace('/graphql', '/elsewhere'));
    // The upgrade is answered 404: the client never opens (abnormal closure).
    expect((await closedWithin(elsewhere, 2000)).code).toBe(1006);
  });
});
