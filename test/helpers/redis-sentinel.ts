/**
 * A real Redis Sentinel setup for tests: one primary, one replica, three
 * sentinels with quorum 2, all on free loopback ports.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LOOPBACK_HOST,
  parseInfo,
  redisCommand,
  startRedisProcess,
  startRedisServer,
  type RedisAddress,
  type RedisServerProcess,
} from './redis-server.js';
import { waitFor } from './wait-for.js';

const SENTINEL_COUNT = 3;
const QUORUM = 2;
const DOWN_AFTER_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 5_000;
const SYNC_TIMEOUT_MS = 20_000;
// A failover whose leader election fails is retried after 2 * failover-timeout,
// so a default below ~12 s would make an unlucky election look like a bug.
const DEFAULT_FAILOVER_WAIT_MS = 25_000;
// Redis 7 holds a diskless full sync back 5 s by default, hoping more
// replicas join; there is only ever one here (the replica is given it too,
// for after it is promoted).
const NO_SYNC_DELAY = ['--repl-diskless-sync-delay', '0'];

/** Options of {@link startRedisSentinelSetup}. */
export interface StartRedisSentinelOptions {
  /** The monitored master's name; default `mymaster`. */
  name?: string;
}

/** A running primary + replica + three sentinels. */
export interface RedisSentinelSetup {
  /** The master name the sentinels monitor, for ioredis `{ sentinels, name }`. */
  name: string;
  /** The sentinels' addresses. */
  sentinels: RedisAddress[];
  /** The sentinel processes, to stop or kill one. */
  sentinelProcesses: RedisServerProcess[];
  /** The primary at start (appendonly yes). */
  primary: RedisServerProcess;
  /** The replica at start (appendonly yes); the primary after a failover. */
  replica: RedisServerProcess;
  /** SIGKILLs the primary, to make the sentinels fail over. */
  killPrimary(): Promise<void>;
  /**
   * Polls `SENTINEL get-master-addr-by-name` on every sentinel until one
   * reports the replica's address, and returns it. Default timeout 25 s.
   */
  waitForFailover(timeoutMs?: number): Promise<RedisAddress>;
  /** Stops the sentinels, then the servers, and removes every directory. */
  stop(): Promise<void>;
}

/**
 * Starts a primary, a replica of it, and three sentinels that monitor it
 * (down-after 1 s, failover-timeout 5 s), and resolves once the replica is in
 * sync and every sentinel knows the replica and the two other sentinels.
 */
export async function startRedisSentinelSetup(options: StartRedisSentinelOptions = {}): Promise<RedisSentinelSetup> {
  const name = options.name ?? 'mymaster';
  let primary: RedisServerProcess | undefined;
  let replica: RedisServerProcess | undefined;
  const sentinelProcesses: RedisServerProcess[] = [];
  const stopAll = async (): Promise<void> => {
    // Sentinels first: a sentinel that outlives the servers could start a
    // failover in the middle of the teardown.
    await Promise.all(sentinelProcesses.map((sentinel) => sentinel.cleanup()));
    await Promise.all([replica?.cleanup(), primary?.cleanup()]);
  };

  try {
    primary = await startRedisServer({ appendonly: true, args: NO_SYNC_DELAY });
    replica = await startRedisServer({
      appendonly: true,
      args: [...NO_SYNC_DELAY, '--replicaof', LOOPBACK_HOST, String(primary.port)],
    });
    await waitForReplicaInSync(replica);

    const primaryPort = primary.port;
    const sentinelStarts = await Promise.allSettled(
      Array.from({ length: SENTINEL_COUNT }, () => startSentinel(name, primaryPort)),
    );
    for (const result of sentinelStarts) if (result.status === 'fulfilled') sentinelProcesses.push(result.value);
    const failure = sentinelStarts.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;

    const sentinels = sentinelProcesses.map((sentinel) => ({ host: sentinel.host, port: sentinel.port }));
    const replicaPort = replica.port;
    await Promise.all(sentinels.map((sentinel) => waitForSentinelDiscovery(sentinel, name, replicaPort)));

    const primaryProcess = primary;
    return {
      name,
      sentinels,
      sentinelProcesses,
      primary: primaryProcess,
      replica,
      killPrimary: () => primaryProcess.kill(),
      waitForFailover: (timeoutMs = DEFAULT_FAILOVER_WAIT_MS) => waitForMasterAt(sentinels, name, replicaPort, timeoutMs),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function startSentinel(name: string, primaryPort: number): Promise<RedisServerProcess> {
  // Sentinel rewrites its own config file with what it learns (peers,
  // replicas, epochs): write it once per port, so a restart() keeps that state.
  let writtenForPort: number | undefined;
  return startRedisProcess({
    label: 'redis-sentinel',
    buildArgs: async ({ port, dir, logFile }) => {
      const configFile = join(dir, 'sentinel.conf');
      if (writtenForPort !== port) {
        const config = [
          `port ${port}`,
          `bind ${LOOPBACK_HOST}`,
          'protected-mode no',
          'daemonize no',
          `dir "${dir}"`,
          `logfile "${logFile}"`,
          `sentinel monitor ${name} ${LOOPBACK_HOST} ${primaryPort} ${QUORUM}`,
          `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n');
        await writeFile(configFile, config);
        writtenForPort = port;
      }
      return [configFile, '--sentinel'];
    },
  });
}

async function waitForReplicaInSync(replica: RedisServerProcess): Promise<void> {
  let last = '';
  await waitFor(
    `replica ${replica.url} to be in sync`,
    SYNC_TIMEOUT_MS,
    async () => {
      last = String(await redisCommand(replica, 'INFO', ['replication']));
      return parseInfo(last).get('master_link_status') === 'up' ? true : undefined;
    },
    () => `last INFO replication:\n${last}`,
  );
}

async function waitForSentinelDiscovery(sentinel: RedisAddress, name: string, replicaPort: number): Promise<void> {
  let last = '';
  await waitFor(
    `sentinel ${sentinel.host}:${sentinel.port} to know the replica and ${SENTINEL_COUNT - 1} other sentinels`,
    SYNC_TIMEOUT_MS,
    async () => {
      const replicas = toRecords(await redisCommand(sentinel, 'SENTINEL', ['REPLICAS', name]));
      const peers = toRecords(await redisCommand(sentinel, 'SENTINEL', ['SENTINELS', name]));
      last = `replicas: ${JSON.stringify(replicas)}\nsentinels: ${JSON.stringify(peers)}`;
      // A replica flagged s_down or disconnected would not be chosen for a
      // failover, so "listed" is not enough: it must be seen healthy.
      const replicaHealthy = replicas.some(
        (record) => record.get('port') === String(replicaPort) && record.get('flags') === 'slave',
      );
      const peersHealthy =
        peers.length === SENTINEL_COUNT - 1 && peers.every((record) => record.get('flags') === 'sentinel');
      return replicaHealthy && peersHealthy ? true : undefined;
    },
    () => last,
  );
}

async function waitForMasterAt(
  sentinels: RedisAddress[],
  name: string,
  expectedPort: number,
  timeoutMs: number,
): Promise<RedisAddress> {
  let last = '';
  return waitFor(
    `sentinels to fail ${name} over to port ${expectedPort}`,
    timeoutMs,
    async () => {
      const answers = await Promise.allSettled(
        sentinels.map((sentinel) => redisCommand(sentinel, 'SENTINEL', ['get-master-addr-by-name', name], 1_000)),
      );
      last = answers
        .map((answer, i) => `${sentinels[i]?.port}: ${answer.status === 'fulfilled' ? JSON.stringify(answer.value) : String(answer.reason)}`)
        .join('\n');
      for (const answer of answers) {
        if (answer.status !== 'fulfilled' || !Array.isArray(answer.value)) continue;
        const [host, port] = answer.value as unknown[];
        if (Number(port) === expectedPort) return { host: String(host), port: expectedPort };
      }
      return undefined;
    },
    () => `last get-master-addr-by-name answers:\n${last}`,
  );
}

// SENTINEL REPLICAS / SENTINELS answer with one flat [field, value, ...] array per entry.
function toRecords(reply: unknown): Map<string, string>[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((entry) => {
    const record = new Map<string, string>();
    const fields = Array.isArray(entry) ? entry : [];
    for (let i = 0; i + 1 < fields.length; i += 2) record.set(String(fields[i]), String(fields[i + 1]));
    return record;
  });
}
