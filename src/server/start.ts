/**
 * The API process: configuration, stores, the server, the metrics listener, signals and a
 * graceful shutdown. main.ts calls {@link startApi}; it is a function so that a test, the
 * bench or another entry can start the same process logic without running a module for its
 * side effects. It owns the process: it exits on a configuration error, a port it cannot
 * bind, and at the end of a shutdown.
 */
import type { LoadedConfig } from '../config/config-types.js';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import type { RedisClient } from '../redis/redis-client-type.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { readRedisMemory } from '../safeguards/eviction-policy.js';
import { createServer, type AppServer } from './create-server.js';
import { createStores, type Stores } from './create-stores.js';
import { createMetricsListener, type MetricsListener } from './metrics-listener.js';

/** In-flight requests get this long to finish after SIGTERM; then their sockets are closed. */
const SHUTDOWN_GRACE_MS = 8_000;
/** Past this, the process exits whatever still hangs (orchestrators SIGKILL at 10 s or later). */
const SHUTDOWN_DEADLINE_MS = 9_500;

/** What a shutdown must reach: set as the start goes on. */
interface Running {
  server?: AppServer;
  metricsListener?: MetricsListener;
  stopping: boolean;
}

/** Starts the API as configured by `env` (default process.env); resolves once it listens (or is stopping). */
export async function startApi(env: Record<string, string | undefined> = process.env): Promise<void> {
  const { config, warnings } = loadConfigOrExit(env);
  // Readable lines on a terminal in development (LOG_FORMAT=auto), JSON lines otherwise.
  const logger = createLogger(config.logLevel, {
    pretty: config.logFormat === 'pretty' || (config.logFormat === 'auto' && !config.production && process.stdout.isTTY === true),
  });
  for (const warning of warnings) logger.warn(warning);

  let redisRef: RedisClient | undefined;
  const metrics = createMetrics({
    processMetrics: true,
    storeUp: () => (config.redis.mode === 'none' ? true : redisRef?.status === 'ready'),
    ...(config.redis.mode === 'none' ? {} : { redisMemory: () => (redisRef ? readRedisMemory(redisRef) : Promise.resolve([])) }),
    allowedEvictionPolicies: config.redis.allowEvictionPolicies,
  });
  const running: Running = { stopping: false };
  const stores = createStores(config, {
    logger,
    metrics,
    onUnsafeEvictionPolicy: () => void shutdown('unsafe Redis maxmemory-policy', 1),
  });
  const { redis, revocations, sessions, users, safeguards, events } = stores;
  redisRef = redis;
  const shutdown = shutdownOf(stores, logger, running);
  // Before anything listens: a SIGTERM during start-up is a clean stop too, never the default
  // "killed by signal" (seen when a test signalled right after the ready line).
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // Before listening: the clock measured, the data-loss markers read, the eviction policy checked
  // (a refusal stops the process here). Redis may be down: then tokens get 503 until it is back.
  safeguards?.start();
  await safeguards?.settled(2000);
  // The sign-in limiter counts on the same connection (else it would open one of its own).
  const server = await createServer({
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
  running.server = server;

  if (!running.stopping && config.metrics.port !== undefined) {
    // Metrics on their own listener (loopback by default): the API port does not serve them.
    const listener = createMetricsListener({ metrics, onError: (error) => logger.error({ err: error }, 'metrics could not be rendered') });
    running.metricsListener = listener;
    const { url } = await listenOrExit('metrics', config.metrics.host, config.metrics.port, () => listener.listen(config.metrics.port!, config.metrics.host));
    logger.info({ url }, `metrics at ${url}`);
  }
  if (!running.stopping) {
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
      announceReadyWhenStoreAnswers(revocations, logger, running, url, fields);
    }
  }
}

/** The configuration, or one clear line and exit 1: misconfiguration is found at start, not at the first request. */
function loadConfigOrExit(env: Record<string, string | undefined>): LoadedConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`graphql-revoke: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * The graceful shutdown: no new requests, those in flight get SHUTDOWN_GRACE_MS, then the
 * stores and their connections close; past SHUTDOWN_DEADLINE_MS the process exits anyway.
 */
function shutdownOf(stores: Stores, logger: Logger, running: Running): (signal: string, exitCode?: number) => Promise<void> {
  const { redis, writer, subscriber, revocations, events, safeguards } = stores;
  return async function shutdown(signal, exitCode = 0) {
    if (running.stopping) return;
    running.stopping = true;
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
      running.server?.httpServer.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    grace.unref();
    try {
      await Promise.all([running.server?.close(), running.metricsListener?.close()]);
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
  };
}

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

/**
 * After a start without the store: says "ready" once, the first time the store answers the
 * same lookup /readyz makes (polled each second, so a Redis started later is seen within ~1 s).
 * The timer is unref'd: it never holds a shutdown up.
 */
function announceReadyWhenStoreAnswers(store: RevocationStore, logger: Logger, running: Running, url: string, fields: object): void {
  const started = Date.now();
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    if (running.stopping) return clearInterval(timer);
    checking = true;
    store.ping().then(
      () => {
        clearInterval(timer);
        if (!running.stopping) logger.info({ ...fields, unavailableForMs: Date.now() - started }, `GraphQL API ready at ${url} (the store answers now)`);
      },
      () => undefined,
    ).finally(() => (checking = false));
  }, 1000);
  timer.unref();
}
