import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link createRedisClient}. */
export interface RedisClientOptions {
  url: string;
  /** A command not answered within this many ms fails (and the request gets 503). Default 500. */
  commandTimeoutMs?: number;
  /** Told of connection errors (at most one per second) and of reconnections. */
  logger?: { warn(object: object, message: string): void; info(object: object, message: string): void };
}

/**
 * An ioredis client tuned to fail closed and fast: a request that needs Redis while it is
 * down is refused at once instead of queued, and reconnection goes on forever in the
 * background so the API recovers by itself.
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  const redisOptions: RedisOptions = {
    // A half-open socket (Redis host gone without a FIN) would otherwise hang commands forever.
    commandTimeout: options.commandTimeoutMs ?? 500,
    // While disconnected, fail commands at once (-> 503) rather than queue them until a timeout.
    enableOfflineQueue: false,
    // Retrying a command is the caller's business (the client retries the request).
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    // Reconnect forever, backing off to one attempt per second.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    // Concurrent requests' ZSCOREs go out in one write: fewer syscalls under load.
    enableAutoPipelining: true,
  };
  const client = new Redis(options.url, redisOptions);
  let lastWarned = 0;
  client.on('error', (error: Error) => {
    // Without a listener ioredis prints every failed reconnect; one line a second is enough.
    const now = Date.now();
    if (now - lastWarned > 1000) {
      lastWarned = now;
      options.logger?.warn({ err: { message: error.message } }, 'redis connection error');
    }
  });
  client.on('ready', () => options.logger?.info({}, 'redis ready'));
  return client;
}
