/**
 * Against real redis-server processes:
 * - the start-up persistence check: AOF, RDB only, neither (a warning, once), CONFIG refused
 *   as on managed Redis (a warning saying so);
 * - replica acknowledgement (WAIT): a revocation no replica confirmed is an error, through
 *   the API too (503 AUTH_UNAVAILABLE), and a slow WAIT never delays the token lookups.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { checkPersistence, createRedisClient, warnIfNotPersistent } from '../../src/redis/redis-client.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { redisCommand, startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { startTestServer } from '../helpers/test-server.js';
import { within } from './api-process.js';

const started: RedisServerProcess[] = [];
const clients: { disconnect(): void }[] = [];
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await Promise.all(started.map((server) => server.cleanup()));
});

async function redisWith(options: Parameters<typeof startRedisServer>[0]) {
  const server = await startRedisServer(options);
  started.push(server);
  const client = createRedisClient({ url: server.url });
  clients.push(client);
  await within('client ready', 5000, async () => client.status === 'ready');
  return { server, client };
}

function captureLogger() {
  const lines: { level: 'warn' | 'info'; message: string; object: object }[] = [];
  return {
    lines,
    warn: (object: object, message: string) => lines.push({ level: 'warn', message, object }),
    info: (object: object, message: string) => lines.push({ level: 'info', message, object }),
  };
}

describe('persistence check at start', () => {
  it('neither AOF nor RDB: one warning, not repeated when the connection comes back', async () => {
    const { server, client } = await redisWith({ appendonly: false });
    expect(await checkPersistence(client)).toEqual({ kind: 'none', detail: `appendonly no and save "" on 127.0.0.1:${server.port}` });
    const logger = captureLogger();
    warnIfNotPersistent(client, logger);
    await within('the warning', 3000, async () => logger.lines.length > 0);
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message:
          'Redis keeps neither an AOF nor RDB snapshots: every revocation is lost if Redis restarts, and revoked tokens become valid again until they expire. Set appendonly yes.',
        object: { persistence: { kind: 'none', detail: `appendonly no and save "" on 127.0.0.1:${server.port}` } },
      },
    ]);
    await server.restart();
    await within('client ready again', 5000, async () => client.status === 'ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(logger.lines).toHaveLength(1);
  });

  it('AOF on: reported as such; RDB snapshots only: reported, with the advice to turn AOF on', async () => {
    const aof = await redisWith({ appendonly: true });
    expect(await checkPersistence(aof.client)).toEqual({ kind: 'aof', nodes: 1 });
    const rdb = await redisWith({ appendonly: false, args: ['--save', '3600 1'] });
    expect(await checkPersistence(rdb.client)).toEqual({ kind: 'rdb-only', nodes: 1 });
    const logger = captureLogger();
    warnIfNotPersistent(rdb.client, logger);
    await within('the note', 3000, async () => logger.lines.length > 0);
    expect(logger.lines[0]).toMatchObject({ level: 'info', message: expect.stringMatching(/^Redis persists by RDB snapshots only/) });
  });

  it('CONFIG refused (ACL, as on managed Redis): says it could not check, instead of guessing', async () => {
    const { client } = await redisWith({ appendonly: false, args: ['--user', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-config'] });
    const report = await checkPersistence(client);
    expect(report.kind).toBe('unknown');
    expect((report as { detail: string }).detail).toMatch(/^CONFIG GET was refused \(NOPERM/);
    const logger = captureLogger();
    warnIfNotPersistent(client, logger);
    await within('the warning', 3000, async () => logger.lines.length > 0);
    expect(logger.lines[0]!.level).toBe('warn');
    expect(logger.lines[0]!.message).toMatch(
      /^Could not check Redis persistence: CONFIG GET was refused \(NOPERM.*\)\. Make sure this Redis keeps an AOF \(appendonly yes\) or RDB snapshots, or revocations are lost on a Redis restart\.$/,
    );
  });
});

describe('replica acknowledgement (WAIT)', () => {
  const token = (jti: string) => ({ userId: 'ack-user', jti, expiresAt: Math.floor(Date.now() / 1000) + 300 });

  it('no replica: the revocation is an error naming the count, and lookups meanwhile are not held up by the WAIT', async () => {
    const { server, client } = await redisWith({ appendonly: false });
    const writer = createRedisClient({ url: server.url, commandTimeoutMs: 1500 });
    clients.push(writer);
    const store = new RedisRevocationStore({ client, writeClient: writer, keyPrefix: 'ack', replicasToAck: 1, replicaAckTimeoutMs: 800 });
    await within('writer ready', 5000, async () => writer.status === 'ready');

    const revoking = store.revoke(token('j1')).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lookupStarted = performance.now();
    await store.isRevoked(token('j2'));
    const lookupMs = performance.now() - lookupStarted;
    const error = await revoking;
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe('Token store unavailable during revoke (only 0/1 replicas acknowledged)');
    // Behind the WAIT it would have taken ~750 ms.
    expect(lookupMs).toBeLessThan(400);
  });

  it('with a replica: acknowledged once the replica has it', async () => {
    // No 5 s wait for more replicas before the first full sync.
    const { server, client } = await redisWith({ appendonly: false, args: ['--repl-diskless-sync-delay', '0'] });
    const replica = await startRedisServer({ appendonly: false, args: ['--replicaof', '127.0.0.1', String(server.port)] });
    started.push(replica);
    await within('replica in sync', 10_000, async () => /master_link_status:up/.test(String(await redisCommand(replica, 'INFO', ['replication']))));
    // Right after a fresh full sync the first WAIT can take a second (measured: ~950 ms):
    // the replica answers GETACK only once it has processed the stream. Warm up once.
    await within('replica acknowledging', 10_000, async () => {
      await client.set('ack2:warmup', '1', 'EX', 10);
      return (await client.wait(1, 2000)) === 1;
    });
    const store = new RedisRevocationStore({ client, keyPrefix: 'ack2', replicasToAck: 1 });
    await store.revoke(token('j3'));
    expect(await redisCommand(replica, 'ZSCORE', ['ack2:v1:{ack-user}:r', 'j3'])).not.toBeNull();
  });

  it('through the API: cancelToken that no replica confirmed is 503 AUTH_UNAVAILABLE, not true', async () => {
    const { server: redis, client } = await redisWith({ appendonly: false });
    const keyPrefix = 'ackapi';
    const api = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      revocations: new RedisRevocationStore({ client, keyPrefix, replicasToAck: 0 }),
    });
    try {
      const { token: accessToken } = await api.signUp('ack_api_user');
      await api.close();
      // The same Redis, now requiring a replica that does not exist.
      const strict = await startTestServer({
        redisUrl: redis.url,
        keyPrefix,
        revocations: new RedisRevocationStore({ client, keyPrefix, replicasToAck: 1, replicaAckTimeoutMs: 100 }),
      });
      try {
        const answer = await strict.graphql('mutation { cancelToken }', { token: accessToken });
        expect(answer.status).toBe(503);
        expect(answer.body.data).toBeNull();
        expect(answer.body.errors[0].extensions.code).toBe('AUTH_UNAVAILABLE');
      } finally {
        await strict.close();
      }
    } finally {
      await api.close().catch(() => {});
    }
  });
});
