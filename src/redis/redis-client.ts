import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisClient } from './redis-client-type.js';
import type { Config } from '../config/index.js';

/** A `host:port` of a cluster node or a sentinel. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** What the client tells the log: connection errors (at most one line per 10 s, with a count), outages and recoveries. */
export interface RedisClientLogger {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/**
 * Options of {@link createRedisClient}. Exactly one topology: `url` (one Redis),
 * `clusterNodes` (Redis Cluster) or `sentinels` with `sentinelName` (Sentinel).
 */
export interface RedisClientOptions {
  /** One Redis: `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url?: string | undefined;
  /** Redis Cluster: seed nodes; the client discovers the rest (CLUSTER SLOTS). */
  clusterNodes?: readonly RedisNodeAddress[] | undefined;
  /** Redis Sentinel: the sentinels to ask where the current primary is. */
  sentinels?: readonly RedisNodeAddress[] | undefined;
  /** The master name the sentinels monitor. Required with `sentinels`. */
  sentinelName?: string | undefined;
  /** Credentials of the data nodes (Cluster, Sentinel). With `url`, put them in the URL. */
  username?: string | undefined;
  password?: string | undefined;
  /** Credentials of the sentinels, if they require AUTH. */
  sentinelPassword?: string | undefined;
  /** A command not answered within this many ms fails (and the request gets 503). Default 500. */
  commandTimeoutMs?: number | undefined;
  logger?: RedisClientLogger | undefined;
  /**
   * Cluster only: one sharded pub/sub (SSUBSCRIBE) connection per master, re-subscribed
   * after a reconnection or a slot move. For the live events' subscriber (src/live/). Default false.
   */
  shardedSubscribers?: boolean | undefined;
}

/** The connection options of the configured topology (`config.redis`), for {@link createRedisClient}. */
export function redisConnectionOptions(r: Config['redis']): RedisClientOptions {
  return {
    url: r.url,
    clusterNodes: r.mode === 'cluster' ? r.clusterNodes : undefined,
    sentinels: r.mode === 'sentinel' ? r.sentinels : undefined,
    sentinelName: r.sentinelName,
    username: r.username,
    password: r.password,
    sentinelPassword: r.sentinelPassword,
    commandTimeoutMs: r.commandTimeoutMs,
  };
}

/** Reconnect forever, backing off to one attempt a second, so the API recovers by itself. */
const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, 1000);

/**
 * An ioredis client tuned to fail closed and fast: a request that needs Redis while it is
 * down is refused at once instead of queued, and reconnection goes on forever in the
 * background so the API recovers by itself.
 *
 * - `url`: one Redis.
 * - `clusterNodes`: an ioredis Cluster. Reads go to masters only: a replica may not have
 *   the latest revocation yet.
 * - `sentinels` + `sentinelName`: the primary that the sentinels name, followed across
 *   failovers (ioredis asks the sentinels again on every reconnect, and listens for
 *   +switch-master).
 */
export function createRedisClient(options: RedisClientOptions & { url: string }): Redis;
export function createRedisClient(options: RedisClientOptions): RedisClient;
export function createRedisClient(options: RedisClientOptions): RedisClient {
  const commandTimeout = options.commandTimeoutMs ?? 500;
  const topologies = [options.url, options.clusterNodes?.length, options.sentinels?.length].filter(Boolean).length;
  if (topologies !== 1) {
    throw new Error('createRedisClient: give exactly one of url, clusterNodes and sentinels');
  }
  const nodeOptions = {
    // A half-open socket (Redis host gone without a FIN) would otherwise hang commands forever.
    commandTimeout,
    // Retrying a command is the caller's business (the client retries the request).
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
  } satisfies RedisOptions;

  let client: RedisClient;
  if (options.url) {
    client = new Redis(options.url, {
      ...nodeOptions,
      // While disconnected, fail commands at once (-> 503) rather than queue them until a timeout.
      enableOfflineQueue: false,
      retryStrategy: reconnectDelay,
      // No auto-pipelining: it flushes on process.nextTick, after each socket's callback, so
      // under HTTP load it batched nothing and cost a Pipeline object per command (measured
      // back to back: 170–187 against 124–148 µs of API CPU per request). Lookups share
      // socket writes through RedisRevocationStore's coalescing instead.
      enableAutoPipelining: false,
    });
  } else if (options.clusterNodes?.length) {
    const clusterOptions: ClusterOptions = {
      redisOptions: nodeOptions,
      enableOfflineQueue: false,
      clusterRetryStrategy: reconnectDelay,
      // See the single-node client: measured slower, and it complicates retries on CLUSTERDOWN.
      enableAutoPipelining: false,
      // Never read a revocation from a replica that may lag behind its master.
      scaleReads: 'master',
      // A MOVED/ASK/CLUSTERDOWN is retried a few times while slots move, but within the
      // request's budget: the context builder gives up (503) after about a second anyway.
      maxRedirections: 6,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 1000,
      ...(options.shardedSubscribers ? { shardedSubscribers: true } : {}),
    };
    client = new Cluster(
      options.clusterNodes.map(({ host, port }) => ({ host, port })),
      clusterOptions,
    );
  } else {
    if (!options.sentinelName) throw new Error('createRedisClient: sentinels need sentinelName');
    client = new Redis({
      ...nodeOptions,
      sentinels: options.sentinels!.map(({ host, port }) => ({ host, port })),
      name: options.sentinelName,
      role: 'master',
      ...(options.sentinelPassword ? { sentinelPassword: options.sentinelPassword } : {}),
      // A sentinel that does not answer must not hold the reconnection up.
      sentinelCommandTimeout: 1000,
      sentinelRetryStrategy: reconnectDelay,
      // No failoverDetector: it drops the connection at each sentinel's +switch-master, even
      // when the client already follows the new primary, and each drop is a burst of 503s
      // (seen in the failover test). A killed primary closes the connection anyway, and a
      // demoted one is told by Sentinel to kill its clients (CLIENT KILL TYPE normal).
      // Belt and braces: a write refused as READONLY (a demoted primary) reconnects.
      reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 2 : false),
      enableOfflineQueue: false,
      retryStrategy: reconnectDelay,
      enableAutoPipelining: false,
    });
  }
  watchConnection(client, options.logger);
  return client;
}

/** Between two 'redis connection error' lines: a reconnect fails about twice a second while Redis is away. */
const CONNECTION_ERROR_LOG_INTERVAL_MS = 10_000;

/** Logs connection errors at most once per 10 s (with how many since), and each outage and recovery once. */
function watchConnection(client: RedisClient, logger: RedisClientLogger | undefined): void {
  let lastWarned = -Infinity;
  let suppressed = 0;
  let wasReady = false;
  let lostAt = 0;
  const onError = (error: Error) => {
    // Without a listener ioredis prints every failed reconnect; one line per 10 s, with a count, is enough.
    const now = Date.now();
    if (now - lastWarned < CONNECTION_ERROR_LOG_INTERVAL_MS) {
      suppressed += 1;
      return;
    }
    logger?.warn({ err: { message: error.message }, alsoFailedSinceLastLine: suppressed }, 'redis connection error');
    lastWarned = now;
    suppressed = 0;
  };
  client.on('error', onError);
  // A Cluster reports each node's errors apart; they say which node is down.
  if ((client as Cluster).isCluster) client.on('node error', onError);
  client.on('ready', () => {
    if (lostAt) logger?.info({ downForMs: Date.now() - lostAt }, 'redis connection restored');
    else logger?.info({}, 'redis ready');
    wasReady = true;
    lostAt = 0;
  });
  client.on('close', () => {
    if (!wasReady) return;
    wasReady = false;
    // quit() or disconnect(): closed on purpose (a shutdown), nothing was lost. ioredis resets
    // this flag only after emitting 'close'.
    if ((client as unknown as { manuallyClosing?: boolean }).manuallyClosing) return;
    lostAt = Date.now();
    logger?.warn({}, 'redis connection lost: requests with a token get 503 until it is back');
  });
}

/** What {@link checkPersistence} found. */
export type PersistenceReport =
  | { kind: 'aof'; nodes: number }
  | { kind: 'rdb-only'; nodes: number }
  | { kind: 'none'; detail: string }
  | { kind: 'unknown'; detail: string };

/**
 * Asks Redis (every master, on a Cluster) whether it persists its data: `CONFIG GET
 * appendonly` and `save`. A Redis with neither AOF nor RDB loses every revocation on a
 * restart, and revoked tokens become valid again. Managed Redis often refuses CONFIG:
 * then the answer is `unknown`, with the reason.
 */
export async function checkPersistence(client: RedisClient): Promise<PersistenceReport> {
  const nodes: Redis[] = (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  if (nodes.length === 0) return { kind: 'unknown', detail: 'no master node known yet' };
  let aof = 0;
  const bare: string[] = [];
  for (const node of nodes) {
    let appendonly: string | undefined;
    let save: string | undefined;
    try {
      appendonly = ((await node.config('GET', 'appendonly')) as string[])[1];
      save = ((await node.config('GET', 'save')) as string[])[1];
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const refused = /NOPERM|unknown command|not allowed|no permissions/i.test(message);
      return {
        kind: 'unknown',
        detail: refused ? `CONFIG GET was refused (${message})` : `CONFIG GET failed (${message})`,
      };
    }
    if (appendonly === 'yes') aof += 1;
    else if (!save) bare.push(`${node.options.host}:${node.options.port}`);
  }
  if (bare.length > 0) return { kind: 'none', detail: `appendonly no and save "" on ${bare.join(', ')}` };
  return aof === nodes.length ? { kind: 'aof', nodes: nodes.length } : { kind: 'rdb-only', nodes: nodes.length };
}

/**
 * Runs {@link checkPersistence} once, the first time the client is ready (Redis may be
 * down at start), and logs the outcome: a warning when revocations would not survive a
 * Redis restart, or when that could not be checked.
 */
export function warnIfNotPersistent(client: RedisClient, logger: RedisClientLogger): void {
  let done = false;
  const run = () => {
    if (done) return;
    checkPersistence(client).then(
      (report) => {
        // A connection that dropped during the check: try again at the next 'ready'.
        if (report.kind === 'unknown' && /failed/.test(report.detail)) return;
        done = true;
        client.off('ready', run);
        switch (report.kind) {
          case 'none':
            logger.warn(
              { persistence: report },
              'Redis keeps neither an AOF nor RDB snapshots: every revocation is lost if Redis restarts, and revoked tokens become valid again until they expire. Set appendonly yes.',
            );
            break;
          case 'unknown':
            logger.warn(
              { persistence: report },
              `Could not check Redis persistence: ${report.detail}. Make sure this Redis keeps an AOF (appendonly yes) or RDB snapshots, or revocations are lost on a Redis restart.`,
            );
            break;
          case 'rdb-only':
            logger.info(
              { persistence: report },
              'Redis persists by RDB snapshots only: revocations made since the last snapshot are lost if Redis crashes. Prefer appendonly yes.',
            );
            break;
          default:
            logger.info({ persistence: report }, 'Redis persistence: AOF on');
        }
      },
      () => {},
    );
  };
  client.on('ready', run);
  if (client.status === 'ready') run();
}
