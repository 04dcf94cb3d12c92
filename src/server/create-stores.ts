/**
 * The one store set-up: the Redis connections, the revocation, session and user stores, the
 * Redis safeguards and the live events' bus, built from the configuration. main.ts (through
 * start.ts), the operator's command line (createRedisStores) and the test server all build
 * their stores here, so the options each store gets from the configuration (key prefix, the
 * grace rule, replica acknowledgements, session lifetimes) are written once: they had drifted
 * when each caller wrote its own, and a store that forgets a revocation too early lets a
 * revoked token back in.
 */
import type { Clock } from '../auth/token.js';
import type { Config, OperatorConfig } from '../config/config-types.js';
import { storeExpiryGraceSeconds } from '../config/derived.js';
import { createMemoryEventBus, createRedisEventBus, type LiveEventBus } from '../live/revocation-events.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createRedisClient, redisConnectionOptions, warnIfNotPersistent, type RedisClientLogger } from '../redis/redis-client.js';
import type { RedisClient } from '../redis/redis-client-type.js';
import type { ObserveLatency } from '../redis/redis-writes.js';
import { MemoryRevocationStore } from '../revocation/memory-store.js';
import { RedisRevocationStore } from '../revocation/redis-store.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { createRedisSafeguards, type RedisSafeguards } from '../safeguards/safeguards.js';
import { RedisSessionStore } from '../sessions/redis-session-store.js';
import { lifetimesFromConfig, type SessionStore } from '../sessions/session-store.js';
import { MemoryUserStore } from '../users/memory-user-store.js';
import { RedisUserStore } from '../users/redis-user-store.js';
import type { UserStore } from '../users/user-store.js';

/** The stores a server runs on, and the connections under them (to close at shutdown). */
export interface Stores {
  redis: RedisClient | undefined;
  /** The connection for revocation writes and their WAIT, when replicas must acknowledge. */
  writer: RedisClient | undefined;
  revocations: RevocationStore;
  /** Unset with the embedded store: createServer puts sessions beside it. */
  sessions: SessionStore | undefined;
  users: UserStore;
  /** Eviction policy, clock skew, data loss (issue 10): with Redis only, and unless turned off. */
  safeguards: RedisSafeguards | undefined;
  /** The live events' listening connection (src/live/), apart: a subscribed connection can send nothing else. */
  subscriber: RedisClient | undefined;
  events: LiveEventBus;
}

/** Options of {@link createStores}. */
export interface CreateStoresOptions {
  logger: Logger;
  /** Store latency and the safeguards' figures go here. */
  metrics?: Metrics | undefined;
  /** The clock of the in-memory store and of the safeguards. Default the system clock. */
  now?: Clock | undefined;
  /** Build the Redis safeguards (main always does; a test server only when it tests them). Default true. */
  safeguards?: boolean;
  /** Called when the safeguards find an evicting maxmemory-policy that production refuses (main: shut down). */
  onUnsafeEvictionPolicy?: () => void;
  /**
   * Log the Redis connections' trouble (one shared line per 10 s) and whether Redis persists
   * its data (main). Default true; a test server that asserts on its log lines turns it off.
   */
  logConnections?: boolean;
  /** The in-memory store's sweep of expired entries, in ms (0: none, as in tests). Default its own (60 s). */
  memorySweepIntervalMs?: number;
}

/** The three Redis stores of {@link createRedisStores}. */
export interface RedisStores {
  revocations: RedisRevocationStore;
  sessions: RedisSessionStore;
  users: RedisUserStore;
}

/** Options of {@link createRedisStores}: the connections, and the hooks of a server. */
export interface RedisStoresOptions {
  client: RedisClient;
  /** Writes and their WAIT on a connection of their own. Default `client`. */
  writer?: RedisClient | undefined;
  observeLatency?: ObserveLatency | undefined;
  /** The safeguards' afterWrite (data-loss detection). */
  afterWrite?: ((key: string) => Promise<void>) | undefined;
  /** Lookup coalescing (see RedisRevocationStoreOptions). Default on; off for one-shot callers (the command line). */
  coalesceLookups?: boolean;
}

/**
 * The revocation, session and user stores on the given Redis connections, with what each
 * takes from the configuration written once: key prefix, replica acknowledgements, the grace
 * rule (entries outlive exp by the clock tolerance and MAX_CLOCK_SKEW) and the session lifetimes.
 * Takes the operator's configuration too (the command line acts on the server's store as the server would).
 */
export function createRedisStores(config: OperatorConfig, options: RedisStoresOptions): RedisStores {
  const r = config.redis;
  const shared = {
    client: options.client,
    ...(options.writer ? { writeClient: options.writer } : {}),
    keyPrefix: r.keyPrefix,
    replicasToAck: r.minReplicasToAck,
    replicaAckTimeoutMs: r.replicaAckTimeoutMs,
    ...(options.observeLatency ? { observeLatency: options.observeLatency } : {}),
    ...(options.afterWrite ? { afterWrite: options.afterWrite } : {}),
  };
  return {
    revocations: new RedisRevocationStore({
      ...shared,
      expiryGraceSeconds: storeExpiryGraceSeconds(config.jwt),
      ...(options.coalesceLookups === false ? { coalesceLookups: false } : {}),
    }),
    sessions: new RedisSessionStore({ ...shared, ...lifetimesFromConfig(config) }),
    users: new RedisUserStore(options.client, { keyPrefix: r.keyPrefix }),
  };
}

const CONNECTION_ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Wraps the loggers given to the Redis clients so that their 'redis connection error' lines
 * (each client already keeps to one per 10 s, with the count it held back) come out at most
 * once per 10 s for the whole process, with every failure held back since the last line
 * counted in `alsoFailedSinceLastLine`. Other lines pass through.
 */
function sharedConnectionErrorLog(): (logger: Logger) => RedisClientLogger {
  let lastLine = -Infinity;
  let heldBack = 0;
  return (logger) => ({
    info: (object, message) => logger.info(object, message),
    warn: (object, message) => {
      if (message !== 'redis connection error') return logger.warn(object, message);
      const own = (object as { alsoFailedSinceLastLine?: number }).alsoFailedSinceLastLine ?? 0;
      const now = Date.now();
      if (now - lastLine < CONNECTION_ERROR_LOG_INTERVAL_MS) {
        heldBack += 1 + own;
        return;
      }
      logger.warn({ ...object, alsoFailedSinceLastLine: heldBack + own }, message);
      lastLine = now;
      heldBack = 0;
    },
  });
}

/**
 * Every store of a server, from `config.redis`: Redis (single, Cluster or Sentinel) with its
 * safeguards and pub/sub events, or the in-memory stores when no Redis is configured. Does
 * not wait for Redis: the API starts with Redis down (liveness 200, readiness 503, requests
 * with a token 503) and the clients keep reconnecting in the background. The safeguards are
 * built, not started: the caller starts them before it listens.
 */
export function createStores(config: Config, options: CreateStoresOptions): Stores {
  const { redis: r } = config;
  const { logger, metrics, now } = options;
  if (r.mode === 'none') {
    return {
      redis: undefined,
      writer: undefined,
      // One process, one clock: the tolerance alone (MAX_CLOCK_SKEW is about instances sharing Redis).
      revocations: new MemoryRevocationStore({
        expiryGraceSeconds: config.jwt.clockToleranceSeconds,
        ...(now ? { now } : {}),
        ...(options.memorySweepIntervalMs !== undefined ? { sweepIntervalMs: options.memorySweepIntervalMs } : {}),
      }),
      sessions: undefined,
      users: new MemoryUserStore(),
      safeguards: undefined,
      subscriber: undefined,
      events: createMemoryEventBus(),
    };
  }
  const logConnections = options.logConnections ?? true;
  const connection = redisConnectionOptions(r);
  // Both connections (lookups, live events) fail together while Redis is away: one shared
  // 'redis connection error' line per 10 s for the process, not one per connection.
  const connectionLog = sharedConnectionErrorLog();
  const redis = createRedisClient({ ...connection, ...(logConnections ? { logger: connectionLog(logger) } : {}) });
  // WAIT holds its connection until the replicas answer (up to replicaAckTimeoutMs): on the
  // lookups' connection it would delay every request behind it, so writes get their own,
  // with a timeout that lets Redis's own answer to WAIT ("n replicas") arrive first.
  const writer =
    r.minReplicasToAck > 0
      ? createRedisClient({ ...connection, commandTimeoutMs: r.commandTimeoutMs + r.replicaAckTimeoutMs })
      : undefined;
  if (logConnections) warnIfNotPersistent(redis, logger);
  const safeguards =
    options.safeguards === false
      ? undefined
      : createRedisSafeguards({
          client: redis,
          config,
          logger,
          ...(metrics ? { metrics } : {}),
          ...(now ? { now } : {}),
          // Production refuses an evicting policy (REDIS_ALLOW_EVICTION_POLICY lifts it): Redis
          // would evict revocations first. Found at start, or at the first connection if Redis was down.
          ...(options.onUnsafeEvictionPolicy ? { onUnsafeEvictionPolicy: options.onUnsafeEvictionPolicy } : {}),
        });
  const subscriber = createRedisClient({
    ...connection,
    ...(logConnections ? { logger: connectionLog(logger.child({ connection: 'live-events' })) } : {}),
    shardedSubscribers: r.mode === 'cluster',
  });
  const stores = createRedisStores(config, {
    client: redis,
    writer,
    observeLatency: metrics?.observeStoreLatency,
    afterWrite: safeguards?.afterWrite,
  });
  return {
    subscriber,
    events: createRedisEventBus({ publisher: redis, subscriber, keyPrefix: r.keyPrefix, logger }),
    redis,
    writer,
    revocations: safeguards ? safeguards.wrap(stores.revocations) : stores.revocations,
    sessions: stores.sessions,
    users: stores.users,
    safeguards,
  };
}
