import { loadConfig, type Config, type LoadedConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { createMemoryEventBus, createRedisEventBus, type LiveEventBus } from '../live/revocation-events.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { MemoryRevocationStore } from '../revocation/memory-store.js';
import { createRedisClient, redisConnectionOptions, warnIfNotPersistent, type RedisClientLogger } from '../redis/redis-client.js';
import { RedisRevocationStore } from '../revocation/redis-store.js';
import type { RedisClient } from '../redis/redis-client-type.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { readRedisMemory } from '../safeguards/eviction-policy.js';
import { createRedisSafeguards, type RedisSafeguards } from '../safeguards/safeguards.js';
import { RedisSessionStore } from '../sessions/redis-session-store.js';
import { lifetimesFromConfig, type SessionStore } from '../sessions/session-store.js';
import { MemoryUserStore } from '../users/memory-user-store.js';
import { RedisUserStore } from '../users/redis-user-store.js';
import type { UserStore } from '../users/user-store.js';
import { createServer, type AppServer } from './create-server.js';
import { createMetricsListener, type MetricsListener } from './metrics-listener.js';

/** In-flight requests get this long to finish after SIGTERM; then their sockets are closed. */
const SHUTDOWN_GRACE_MS = 8_000;
/** Past this, the process exits whatever still hangs (orchestrators SIGKILL at 10 s or later). */
const SHUTDOWN_DEADLINE_MS = 9_500;

let loaded: LoadedConfig;
try {
  loaded = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    // One clear line and a non-zero exit: misconfiguration is found at start, not at the first request.
    process.stderr.write(`graphql-revoke: configuration error: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
const { config, warnings } = loaded;
// Readable lines on a terminal in development (LOG_FORMAT=auto), JSON lines otherwise.
const logger = createLogger(config.logLevel, {
  pretty: config.logFormat === 'pretty' || (config.logFormat === 'auto' && !config.production && process.stdout.isTTY === true),
});
for (const warning of warnings) logger.warn(warning);

interface Stores {
  redis: RedisClient | undefined;
  /** The connection for revocation writes and their WAIT, when replicas must acknowledge. */
  writer: RedisClient | undefined;
  revocations: RevocationStore;
  /** Unset with the embedded store: createServer puts sessions beside it. */
  sessions: SessionStore | undefined;
  users: UserStore;
  /** Eviction policy, clock skew, data loss (issue 10): with Redis only. */
  safeguards: RedisSafeguards | undefined;
  /** The live events' listening connection (src/live/), apart: a subscribed connection can send nothing else. */
  subscriber: RedisClient | undefined;
  events: LiveEventBus;
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

function createStores(config: Config, logger: Logger, metrics: Metrics): Stores {
  const { redis: r } = config;
  if (r.mode === 'none') {
    return {
      redis: undefined,
      writer: undefined,
      revocations: new MemoryRevocationStore({ expiryGraceSeconds: config.jwt.clockToleranceSeconds }),
      sessions: undefined,
      users: new MemoryUserStore(),
      safeguards: undefined,
      subscriber: undefined,
      events: createMemoryEventBus(),
    };
  }
  // No await on the connection: the API starts with Redis down (liveness 200, readiness
  // 503, requests with a token 503) and the client keeps reconnecting in the background.
  const connection = redisConnectionOptions(r);
  // Both connections (lookups, live events) fail together while Redis is away: one shared
  // 'redis connection error' line per 10 s for the process, not one per connection.
  const connectionLog = sharedConnectionErrorLog();
  const redis = createRedisClient({ ...connection, logger: connectionLog(logger) });
  // WAIT holds its connection until the replicas answer (up to replicaAckTimeoutMs): on the
  // lookups' connection it would delay every request behind it, so writes get their own,
  // with a timeout that lets Redis's own answer to WAIT ("n replicas") arrive first.
  const writer =
    r.minReplicasToAck > 0
      ? createRedisClient({ ...connection, commandTimeoutMs: r.commandTimeoutMs + r.replicaAckTimeoutMs })
      : undefined;
  warnIfNotPersistent(redis, logger);
  const safeguards = createRedisSafeguards({
    client: redis,
    config,
    logger,
    metrics,
    // Production refuses an evicting policy (REDIS_ALLOW_EVICTION_POLICY lifts it): Redis
    // would evict revocations first. Found at start, or at the first connection if Redis was down.
    onUnsafeEvictionPolicy: () => void shutdown('unsafe Redis maxmemory-policy', 1),
  });
  const subscriber = createRedisClient({ ...connection, logger: connectionLog(logger.child({ connection: 'live-events' })), shardedSubscribers: r.mode === 'cluster' });
  return {
    subscriber,
    events: createRedisEventBus({ publisher: redis, subscriber, keyPrefix: r.keyPrefix, logger }),
    redis,
    writer,
    revocations: safeguards.wrap(
      new RedisRevocationStore({
        client: redis,
        ...(writer ? { writeClient: writer } : {}),
        keyPrefix: r.keyPrefix,
        // Entries outlive exp by the clock tolerance and the largest skew an instance may have.
        expiryGraceSeconds: config.jwt.clockToleranceSeconds + config.jwt.maxClockSkewSeconds,
        replicasToAck: r.minReplicasToAck,
        replicaAckTimeoutMs: r.replicaAckTimeoutMs,
        observeLatency: metrics.observeStoreLatency,
        afterWrite: safeguards.afterWrite,
      }),
    ),
    sessions: new RedisSessionStore({
      client: redis,
      ...(writer ? { writeClient: writer } : {}),
      keyPrefix: r.keyPrefix,
      replicasToAck: r.minReplicasToAck,
      replicaAckTimeoutMs: r.replicaAckTimeoutMs,
      observeLatency: metrics.observeStoreLatency,
      afterWrite: safeguards.afterWrite,
      ...lifetimesFromConfig(config),
    }),
    users: new RedisUserStore(redis, { keyPrefix: r.keyPrefix }),
    safeguards,
  };
}

let redisRef: RedisClient | undefined;
const metrics = createMetrics({
  processMetrics: true,
  storeUp: () => (config.redis.mode === 'none' ? true : redisRef?.status === 'ready'),
  ...(config.redis.mode === 'none' ? {} : { redisMemory: () => (redisRef ? readRedisMemory(redisRef) : Promise.resolve([])) }),
  allowedEvictionPolicies: config.redis.allowEvictionPolicies,
});
const { redis, writer, revocations, sessions, users, safeguards, subscriber, events } = createStores(config, logger, metrics);
redisRef = redis;

let server: AppServer | undefined;
let metricsListener: MetricsListener | undefined;
let stopping = false;
async function shutdown(signal: string, exitCode = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  safeguards?.stop();
  const started = Date.now();
  logger.info({ signal }, 'shutting down: no new requests; finishing those in flight');
  setTimeout(() => {
    logger.error({}, `shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; exiting`);
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  // A client that keeps a request open (a slow body) must not hold the shutdown forever.
  const grace = setTimeout(() => {
    logger.warn({}, `requests still in flight after ${SHUTDOWN_GRACE_MS} ms: closing their connections`);
    server?.httpServer.closeAllConnections();
  }, SHUTDOWN_GRACE_MS);
  grace.unref();
  try {
    await Promise.all([server?.close(), metricsListener?.close()]);
    clearTimeout(grace);
    await revocations.close();
    await events.close();
    // QUIT lets Redis answer what was sent; a Redis that is down gets a plain disconnect.
    await Promise.all(
      [redis, writer, subscriber].map(async (client) => {
        if (!client) return;
        if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
        else client.disconnect();
      }),
    );
    logger.info({ tookMs: Date.now() - started }, 'stopped');
    process.exit(exitCode);
  } catch (error) {
    logger.error({ err: error }, 'error during shutdown');
    process.exit(1);
  }
}
// Before anything listens: a SIGTERM during start-up is a clean stop too, never the default
// "killed by signal" (seen when a test signalled right after the ready line).
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

// Before listening: the clock measured, the data-loss markers read, the eviction policy checked
// (a refusal stops the process here). Redis may be down: then tokens get 503 until it is back.
safeguards?.start();
await safeguards?.settled(2000);
// The sign-in limiter counts on the same connection (else it would open one of its own).
server = await createServer({
  config,
  revocations,
  users,
  logger,
  metrics,
  events,
  ...(sessions ? { sessions } : {}),
  ...(redis ? { redis } : {}),
  ...(safeguards ? { safeguards } : {}),
});
/** A port that cannot be bound ends the start with one line and exit 1, not a raw stack. */
async function listenOrExit<T>(what: string, host: string, port: number, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : 'the address is not on this host';
      process.stderr.write(`graphql-revoke: cannot listen for ${what} on ${host}:${port}: ${why} (${code})\n`);
      process.exit(1);
    }
    throw error;
  }
}

if (!stopping && config.metrics.port !== undefined) {
  // Metrics on their own listener (loopback by default): the API port does not serve them.
  metricsListener = createMetricsListener({ metrics, onError: (error) => logger.error({ err: error }, 'metrics could not be rendered') });
  const listener = metricsListener;
  const { url } = await listenOrExit('metrics', config.metrics.host, config.metrics.port, () => listener.listen(config.metrics.port!, config.metrics.host));
  logger.info({ url }, `metrics at ${url}`);
}
if (!stopping) {
  const { url } = await listenOrExit('the API', config.host, config.port, () => server.listen(config.port, config.host));
  const fields = {
    url,
    store: config.redis.mode === 'none' ? 'memory' : `redis-${config.redis.mode}`,
    minReplicasToAck: config.redis.minReplicasToAck,
  };
  // "ready" only when the store answers: with Redis away at start, /readyz says 503 and so does the log.
  const storeAnswers = await Promise.race([
    revocations.ping().then(() => true, () => false),
    new Promise<boolean>((resolve) => setTimeout(resolve, 2000, false).unref()),
  ]);
  if (storeAnswers) logger.info(fields, `GraphQL API ready at ${url}`);
  else {
    logger.warn(fields, `GraphQL API listening at ${url}; store unavailable: /readyz answers 503 and requests with a token 503 until it is back`);
    announceReadyWhenStoreAnswers(url, fields);
  }
}

/**
 * After a start without the store: says "ready" once, the first time the store answers the
 * same lookup /readyz makes (polled each second, so a Redis started later is seen within ~1 s).
 * The timer is unref'd: it never holds a shutdown up.
 */
function announceReadyWhenStoreAnswers(url: string, fields: object): void {
  const started = Date.now();
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    if (stopping) return clearInterval(timer);
    checking = true;
    revocations.ping().then(
      () => {
        clearInterval(timer);
        if (!stopping) logger.info({ ...fields, unavailableForMs: Date.now() - started }, `GraphQL API ready at ${url} (the store answers now)`);
      },
      () => undefined,
    ).finally(() => (checking = false));
  }, 1000);
  timer.unref();
}
