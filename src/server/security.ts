import { createHash } from 'node:crypto';
import { createSignInLimiter, type SignInLimiter } from '../auth/sign-in-limiter.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createRedisClient, redisConnectionOptions } from '../revocation/redis-client.js';
import type { RedisClient } from '../revocation/redis-store.js';

/**
 * The key of the HMAC that turns usernames into limiter keys, derived from the signing key:
 * shared by every instance that shares the key, and unguessable without it.
 */
function limiterHashKey(config: Config): Buffer {
  const key = config.jwt.keys.signing.key;
  const material = key.type === 'secret' ? key.export() : key.export({ format: 'der', type: 'pkcs8' });
  return createHash('sha256').update('graphql-revoke sign-in limiter v1\0').update(material).digest();
}

/** A sign-in limiter and what to release when the server closes. */
export interface DefaultSignInLimiter {
  limiter: SignInLimiter;
  /** Quits the Redis client the limiter opened for itself, if it did. */
  close(): Promise<void>;
}

/**
 * The sign-in limiter of config.signIn: in Redis when there is one (shared by every
 * instance), else in memory. Given no client while the config names a Redis, it opens its
 * own connection (pass createServer's `redis` option to share the stores' client instead).
 */
export function createDefaultSignInLimiter(config: Config, redis: unknown, logger: Logger): DefaultSignInLimiter {
  const r = config.redis;
  let own: RedisClient | undefined;
  if (!redis && r.mode !== 'none') {
    own = createRedisClient({ ...redisConnectionOptions(r), logger });
  }
  const client = redis ?? own;
  const limiter = createSignInLimiter({
    ...(client ? { redis: client } : {}),
    keyPrefix: r.keyPrefix,
    maxFailuresPerUsername: config.signIn.maxFailuresPerUsername,
    maxFailuresPerAddress: config.signIn.maxFailuresPerAddress,
    windowSeconds: config.signIn.windowSeconds,
    hashKey: limiterHashKey(config),
  });
  return {
    limiter,
    async close() {
      await own?.quit().catch(() => own?.disconnect());
    },
  };
}
