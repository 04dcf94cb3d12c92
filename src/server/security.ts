import { createHash } from 'node:crypto';
import { createSignInLimiter, type SignInLimiter } from '../auth/sign-in-limiter.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/** The JWK Set served at GET /.well-known/jwks.json: the public keys (none for HS256). */
export function jwksResponseBody(config: Config): { keys: readonly object[] } {
  return { keys: config.jwt.keys.jwks.keys };
}

/**
 * The key of the HMAC that turns usernames into limiter keys, derived from the signing key:
 * shared by every instance that shares the key, and unguessable without it.
 */
function limiterHashKey(config: Config): Buffer {
  const key = config.jwt.keys.signing.key;
  const material = key.type === 'secret' ? key.export() : key.export({ format: 'der', type: 'pkcs8' });
  return createHash('sha256').update('graphql-revoke sign-in limiter v1\0').update(material).digest();
}

/** The sign-in limiter of config.signIn: in Redis when a client is given, else in memory. */
export function createDefaultSignInLimiter(config: Config, redis: unknown, logger: Logger): SignInLimiter {
  if (!redis && config.redis.mode !== 'none') {
    logger.warn(
      {},
      'sign-in limiter: createServer got no Redis client (option "redis"): failures are counted per process, not shared by instances',
    );
  }
  return createSignInLimiter({
    ...(redis ? { redis } : {}),
    keyPrefix: config.redis.keyPrefix,
    maxFailuresPerUsername: config.signIn.maxFailuresPerUsername,
    maxFailuresPerAddress: config.signIn.maxFailuresPerAddress,
    windowSeconds: config.signIn.windowSeconds,
    hashKey: limiterHashKey(config),
  });
}
