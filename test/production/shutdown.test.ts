/**
 * SIGTERM: the API stops taking new connections, finishes the requests in flight, closes
 * Redis and exits 0 within 10 seconds, even with a client that never finishes its request
 * and a Redis that is gone.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { ME, startApiProcess, type ApiProcess } from './api-process.js';

/** A POST /graphql sent in two parts: the headers and half the body now, the rest on `finish()`. */
async function halfSentRequest(api: ApiProcess, token: string) {
  const body = JSON.stringify({ query: ME });
  const { port } = new URL(api.base);
  const socket: Socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let response = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`,
  );
  return {
    finish() {
      socket.write(body.slice(5));
    },
    /** Resolves with the raw response once the server closed the connection. */
    async response() {
      await closed;
      return response;
    },
    destroy: () => socket.destroy(),
  };
}

describe('SIGTERM', () => {
  let redis: RedisServerProcess;
  const apis: ApiProcess[] = [];
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: true });
  });

  afterAll(async () => {
    console.info('[shutdown] measured (ms):', JSON.stringify(figures));
    await Promise.all(apis.map((api) => api.kill()));
    await redis?.cleanup();
  });

  it('stops taking new connections, finishes the request in flight, closes Redis, exits 0', async () => {
    const api = await startApiProcess({ REDIS_URL: redis.url });
    apis.push(api);
    const { token } = await api.signUp('shutdown_user');
    // An idle kept-alive connection must not hold the shutdown up.
    expect((await api.graphql(ME, { token })).status).toBe(200);

    const inFlight = await halfSentRequest(api, token);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalledAt = performance.now();
    api.signal('SIGTERM');
    // Bounded wait for the log line that says the server stopped listening.
    for (let i = 0; i < 100 && !api.logs().some((l) => l.msg.startsWith('shutting down')); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await fetch(`${api.base}/healthz`).then(
      (r) => `answered ${r.status}`,
      (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
    );
    expect(refused).toBe('ECONNREFUSED');

    inFlight.finish();
    const raw = await inFlight.response();
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(raw.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(raw).toContain('"data":{"me":{"id":"');

    const { code, signal } = await api.exited;
    figures.sigtermToExitWithRequestInFlight = Math.round(performance.now() - signalledAt);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(figures.sigtermToExitWithRequestInFlight).toBeLessThan(10_000);
    const messages = api.logs().map((l) => l.msg);
    expect(messages).toContain('shutting down: no new requests; finishing those in flight');
    expect(messages.at(-1)).toBe('stopped');
  });

  it('exits 0 within 10 s even with a client that never finishes its request and Redis gone', async () => {
    const api = await startApiProcess({ REDIS_URL: redis.url });
    apis.push(api);
    const { token } = await api.signUp('shutdown_stuck');
    const stuck = await halfSentRequest(api, token);
    await redis.kill();
    const signalledAt = performance.now();
    api.signal('SIGTERM');
    const { code, signal } = await api.exited;
    figures.sigtermToExitWithStuckClient = Math.round(performance.now() - signalledAt);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(figures.sigtermToExitWithStuckClient).toBeLessThan(10_000);
    expect(api.logs().map((l) => l.msg)).toContain('requests still in flight after 8000 ms: closing their connections');
    stuck.destroy();
  }, 20_000);
});
