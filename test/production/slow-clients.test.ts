/**
 * Slow clients (the real process): sockets that trickle their headers, or send headers and
 * one byte of a declared 1 MB body, are closed once HTTP_HEADERS_TIMEOUT_MS or
 * HTTP_REQUEST_TIMEOUT_MS has passed; above HTTP_MAX_CONNECTIONS new connections are closed
 * at once, and a connection already open still gets /healthz and an authenticated query
 * answered promptly.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { uniqueUsername } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { ME, startApiProcess, type ApiProcess } from './api-process.js';

const MAX_CONNECTIONS = 40;
const HEADERS_TIMEOUT_MS = 1500;
const REQUEST_TIMEOUT_MS = 3000;
const SLOW_SOCKETS = 70;

/** One slow socket: when it opened, when the server closed it, and what it got. */
interface Slow {
  socket: Socket;
  kind: 'headers' | 'body';
  openedAt: number;
  closedAt?: number;
  received: string;
}

function openSlow(port: number, kind: Slow['kind']): Promise<Slow> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const slow: Slow = { socket, kind, openedAt: 0, received: '' };
    let trickle: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      slow.openedAt = performance.now();
      if (kind === 'headers') {
        socket.write('POST /graphql HTTP/1.1\r\nHost: api\r\n');
        // One header line every 200 ms, never the blank line that ends them.
        trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
      } else {
        socket.write('POST /graphql HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{');
      }
      resolve(slow);
    });
    socket.on('data', (chunk: Buffer) => (slow.received += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(trickle);
      slow.closedAt = performance.now();
    });
  });
}

/** GET or POST on one kept-alive connection (an agent with a single socket). */
function onOpenConnection(agent: Agent, port: number, path: string, body?: string, token?: string): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent,
        method: body ? 'POST' : 'GET',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - started }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('slow clients and the connection cap', () => {
  let redis: RedisServerProcess;
  let api: ApiProcess;
  let port: number;
  let token: string;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const slow: Slow[] = [];

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    api = await startApiProcess({
      REDIS_URL: redis.url,
      HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '30000',
    });
    port = Number(new URL(api.base).port);
    ({ token } = await api.signUp(uniqueUsername('slow')));
  });
  afterAll(async () => {
    for (const s of slow) s.socket.destroy();
    agent.destroy();
    await api?.kill();
    await redis?.cleanup();
  });

  it('refuses connections above the cap at once, answers an open connection promptly meanwhile, and closes the slow ones on time', async () => {
    const meBody = JSON.stringify({ query: ME });
    // An ordinary request on the open connection, before any slow client: the reference.
    const ordinary: number[] = [];
    for (let i = 0; i < 5; i++) {
      const health = await onOpenConnection(agent, port, '/healthz');
      const me = await onOpenConnection(agent, port, '/graphql', meBody, token);
      expect(health.status).toBe(200);
      expect(me.status).toBe(200);
      ordinary.push(health.ms, me.ms);
    }
    const reference = [...ordinary].sort((a, b) => a - b)[5] as number;
    const prompt = Math.max(10 * reference, reference + 250);

    for (let i = 0; i < SLOW_SOCKETS; i++) slow.push(await openSlow(port, i % 2 ? 'body' : 'headers'));
    await new Promise((resolve) => setTimeout(resolve, 300));

    // The connection opened before the flood is served as before.
    const health = await onOpenConnection(agent, port, '/healthz');
    expect(health.status).toBe(200);
    expect(health.ms, `reference ${reference.toFixed(1)} ms`).toBeLessThan(prompt);
    const me = await onOpenConnection(agent, port, '/graphql', meBody, token);
    expect(me.status).toBe(200);
    expect(JSON.parse(me.text).data.me.id).toEqual(expect.any(String));
    expect(me.ms, `reference ${reference.toFixed(1)} ms`).toBeLessThan(prompt);

    await waitFor('every slow socket closed by the server', REQUEST_TIMEOUT_MS + 3000, async () => (slow.every((s) => s.closedAt !== undefined) ? true : undefined), () => `${slow.filter((s) => s.closedAt === undefined).length} still open`, 100);
    // Above the cap the server closed a new connection as soon as it accepted it, without a byte.
    const refused = slow.filter((s) => s.received === '');
    const held = slow.filter((s) => s.received !== '');
    expect(held.length).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(refused.length).toBeGreaterThanOrEqual(SLOW_SOCKETS - MAX_CONNECTIONS);
    for (const s of refused) expect(s.closedAt! - s.openedAt).toBeLessThan(HEADERS_TIMEOUT_MS / 2);
    // The others got a 408 on time: headers by the headers timeout, bodies by the request
    // timeout (Node checks them every 375 ms here).
    for (const s of held) {
      const limit = s.kind === 'headers' ? HEADERS_TIMEOUT_MS : REQUEST_TIMEOUT_MS;
      const heldMs = s.closedAt! - s.openedAt;
      expect(s.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(heldMs, s.kind).toBeGreaterThanOrEqual(limit - 100);
      expect(heldMs, s.kind).toBeLessThan(limit + 1500);
    }
    // Then new connections are accepted again.
    expect((await api.get('/healthz')).status).toBe(200);
  });
});
