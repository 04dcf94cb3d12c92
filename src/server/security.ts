import { createHash, type KeyObject } from 'node:crypto';
import { createRefreshLimiter, createSignInLimiter, type RefreshLimiter, type SignInLimiter } from '../auth/sign-in-limiter.js';
import { createSignUpLimiter, type SignUpLimiter } from '../auth/sign-up-limiter.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { createRedisClient, redisConnectionOptions } from '../redis/redis-client.js';
import type { RedisClient } from '../redis/redis-client-type.js';

/**
 * The key of the HMAC that turns usernames into limiter keys, derived from the signing key:
 * shared by every instance that shares the key, and unguessable without it.
 */
function limiterHashKey(config: Config): Buffer {
  const key = config.jwt.keys.signing.key;
  const material = key.type === 'secret' ? key.export() : key.export({ format: 'der', type: 'pkcs8' });
  return createHash('sha256').update('graphql-revoke sign-in limiter v1\0').update(material).digest();
}

function keyMaterial(key: KeyObject): Buffer {
  return key.type === 'secret' ? key.export() : key.export({ format: 'der', type: 'pkcs8' });
}

/**
 * The MAC keys of refresh tokens (src/sessions/refresh-token.ts), derived from the JWT keys:
 * the signing key's first (it signs), then each retired HS256 secret (JWT_PREVIOUS_SECRETS), so
 * a key rotation keeps the refresh tokens of the previous key working. Without the signing key
 * a refresh token can't be forged, as an access token can't.
 */
export function refreshTokenKeys(config: Pick<Config, 'jwt'>): Buffer[] {
  const derive = (material: Buffer) => createHash('sha256').update('graphql-revoke refresh token key v2\0').update(material).digest();
  const keys = [derive(keyMaterial(config.jwt.keys.signing.key))];
  for (const v of config.jwt.keys.verification) {
    if (v.key.type === 'secret' && !v.key.equals(config.jwt.keys.signing.key)) keys.push(derive(v.key.export()));
  }
  return keys;
}

/** A sign-in limiter and what to release when the server closes. */
export interface DefaultSignInLimiter {
  limiter: SignInLimiter;
  /** Failed refreshSession calls per address (config.sessions), on the same counters' client. */
  refreshLimiter: RefreshLimiter;
  /** Quits the Redis client the limiter opened for itself, if it did. */
  close(): Promise<void>;
}

/**
 * The sign-in limiter of config.signIn: in Redis when there is one (shared by every
 * instance), else in memory. Given no client while the config names a Redis, it opens its
 * own connection (pass createServer's `redis` option to share the stores' client instead).
 */
export function createDefaultSignInLimiter(config: Config, redis: unknown, logger: Logger): DefaultSignInLimiter {
  // Always built, even when createServer was given a sign-in limiter of its own: the refresh limiter comes from here.
  const r = config.redis;
  const { client, own } = limiterClient(config, redis, logger);
  const limiter = createSignInLimiter({
    ...(client ? { redis: client } : {}),
    keyPrefix: r.keyPrefix,
    maxFailuresPerUsername: config.signIn.maxFailuresPerUsername,
    maxFailuresPerAddress: config.signIn.maxFailuresPerAddress,
    windowSeconds: config.signIn.windowSeconds,
    maxSuccessesPerUsername: config.signIn.maxSuccessesPerUsername,
    maxSuccessesPerAddress: config.signIn.maxSuccessesPerAddress,
    successWindowSeconds: config.signIn.successWindowSeconds,
    hashKey: limiterHashKey(config),
  });
  const refreshLimiter = createRefreshLimiter({
    ...(client ? { redis: client } : {}),
    keyPrefix: r.keyPrefix,
    maxFailuresPerAddress: config.sessions.maxRefreshFailuresPerAddress,
    windowSeconds: config.sessions.refreshFailureWindowSeconds,
  });
  return {
    limiter,
    refreshLimiter,
    async close() {
      await own?.quit().catch(() => own?.disconnect());
    },
  };
}

/** The client a default limiter counts in: the one given, else one of its own when the config names a Redis. */
function limiterClient(config: Config, redis: unknown, logger: Logger): { client: unknown; own: RedisClient | undefined } {
  const own = !redis && config.redis.mode !== 'none' ? createRedisClient({ ...redisConnectionOptions(config.redis), logger }) : undefined;
  return { client: redis ?? own, own };
}

/** A sign-up limiter and what to release when the server closes. */
export interface DefaultSignUpLimiter {
  limiter: SignUpLimiter;
  /** Quits the Redis client the limiter opened for itself, if it did. */
  close(): Promise<void>;
}

/** The sign-up limiter of config.signUp, on `redis` (or a connection of its own) like the sign-in limiter's. */
export function createDefaultSignUpLimiter(config: Config, redis: unknown, logger: Logger): DefaultSignUpLimiter {
  const { client, own } = limiterClient(config, redis, logger);
  const limiter = createSignUpLimiter({
    ...(client ? { redis: client } : {}),
    keyPrefix: config.redis.keyPrefix,
    maxPerAddress: config.signUp.maxPerAddress,
    windowSeconds: config.signUp.windowSeconds,
  });
  return {
    limiter,
    async close() {
      await own?.quit().catch(() => own?.disconnect());
    },
  };
}
