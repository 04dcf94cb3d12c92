/**
 * The runnable API (src/server/main.ts) as two processes on one Redis, seen from outside
 * with the graphql-ws client: a revocation through A closes the socket on B, B's metrics say
 * so, SIGTERM closes sockets with 1001, and a store outage refuses connection_init with 1013.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLive, type LiveConnection } from '../helpers/live.js';
import { startRedisCluster, type RedisClusterProcess } from '../helpers/redis-cluster.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { metricValue, startApiProcess, within, type ApiProcess } from './api-process.js';

async function closedWithin(connection: LiveConnection, ms: number) {
  const close = await Promise.race([connection.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
  if (!close) throw new Error(`socket still open after ${ms} ms`);
  return { code: close.code, reason: close.reason };
}

describe('the API processes over WebSocket', () => {
  let redis: RedisServerProcess;
  let a: ApiProcess;
  let b: ApiProcess;
  const figures: Record<string, number> = {};
  const ws = (api: ApiProcess) => api.url.replace(/^http/, 'ws');

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    const env = { REDIS_URL: redis.url, WS_KEEPALIVE_MS: '0' };
    [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
  }, 60_000);
  afterAll(async () => {
    console.info('[live-process] measured ms:', JSON.stringify(figures));
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.cleanup();
  });

  it('cancelToken through A closes the socket on B (subscribed to sessionEvents) with 4403 within a second, and B counts it', async () => {
    const alice = await a.signUp('live_proc_alice');
    const bob = await a.signUp('live_proc_bob');
    const target = openLive(ws(b), alice.token);
    const bystander = openLive(ws(b), bob.token);
    await Promise.all([target.connected, bystander.connected]);
    // An active subscription, proven by the CREATED event of a sign-in made through A.
    const events = target.subscribe('subscription { sessionEvents { kind session { current } } }');
    await a.signIn('live_proc_alice');
    expect(await events.first).toEqual({ data: { sessionEvents: { kind: 'CREATED', session: { current: false } } } });
    const answer = await a.graphql('mutation { cancelToken }', { token: alice.token });
    const answeredAt = performance.now();
    expect(answer.body).toEqual({ data: { cancelToken: true } });
    expect(await closedWithin(target, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    figures.answeredOnAtoCloseOnB = Math.round(target.close!.at - answeredAt);
    expect(bystander.close).toBeUndefined();
    const metrics = await b.metrics();
    expect(metricValue(metrics, 'graphql_revoke_live_sockets_closed_total{reason="revoked"}')).toBe(1);
    expect(metricValue(metrics, 'graphql_revoke_live_fanout_delay_seconds_count')).toBe(1);
    expect(metricValue(metrics, 'graphql_revoke_live_sockets')).toBe(1);
    await bystander.dispose();
  });

  it('applies production\'s GraphQL rules over the socket: no introspection', async () => {
    const socket = openLive(ws(b));
    await socket.connected;
    const run = socket.subscribe('{ __schema { queryType { name } } }');
    await run.ended;
    const errors = run.errors[0] as { message: string; extensions?: { code?: string } }[];
    expect(errors[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(errors[0]?.message).toMatch(/introspection/i);
    await socket.dispose();
  });

  it('closes sockets with 1001 on SIGTERM and exits 0', async () => {
    const carol = await b.signUp('live_proc_carol');
    const socket = openLive(ws(b), carol.token);
    await socket.connected;
    b.signal('SIGTERM');
    expect(await closedWithin(socket, 5000)).toEqual({ code: 1001, reason: 'Going away' });
    expect((await b.exited).code).toBe(0);
  });

  it('closes with 1013 at connection_init while Redis is down', async () => {
    const dave = await a.signUp('live_proc_dave');
    await redis.stop();
    const socket = openLive(ws(a), dave.token);
    expect(await closedWithin(socket, 5000)).toEqual({ code: 1013, reason: 'Try again later' });
  });
});

describe('the API processes over WebSocket on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  let a: ApiProcess;
  let b: ApiProcess;
  const ws = (api: ApiProcess) => api.url.replace(/^http/, 'ws');

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    const env = { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','), WS_KEEPALIVE_MS: '0' };
    [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
    await cluster?.stop();
  });

  it('cancelSession through A closes B\'s subscribed socket with 4403 (sharded pub/sub), another user\'s stays', async () => {
    const alice = await a.signUp('live_cluster_alice');
    const bob = await a.signUp('live_cluster_bob');
    const target = openLive(ws(b), alice.token);
    const bystander = openLive(ws(b), bob.token);
    await Promise.all([target.connected, bystander.connected]);
    const events = target.subscribe('subscription { sessionEvents { kind session { current } } }');
    // The CREATED event of a sign-in through A proves B's subscription and its sharded subscriber live.
    await within('a CREATED event through the cluster', 10_000, async () => {
      await a.signIn('live_cluster_alice');
      return events.results.length > 0;
    }, 500);
    const answer = await a.graphql('mutation { cancelSession }', { token: alice.token });
    expect(answer.body).toEqual({ data: { cancelSession: true } });
    expect(await closedWithin(target, 1500)).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(events.results.at(-1)).toEqual({ data: { sessionEvents: { kind: 'ENDED', session: { current: true } } } });
    expect(bystander.close).toBeUndefined();
    await bystander.dispose();
  });
});
