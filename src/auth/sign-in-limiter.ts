import { createHmac, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../errors.js';
import { normalizeUsername } from '../users/user-store.js';

/** What a sign-in attempt may do: go on, or wait `retryAfterSeconds`. */
export type SignInPermit = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * Limits sign-in failures per username and per client address. An attempt is counted
 * before the password is checked (an atomic increment), so concurrent guesses can't all
 * slip under the limit; a successful sign-in is then not counted.
 */
export interface SignInLimiter {
  /** Counts one attempt for this username and address; refuses when either is over its limit. */
  attempt(username: string, address: string): Promise<SignInPermit>;
  /** The attempt succeeded: it does not count, and the username's failures are forgotten. */
  succeeded(username: string, address: string): Promise<void>;
}

/** Options of {@link createSignInLimiter}. */
export interface SignInLimiterOptions {
  /** An ioredis client (single, Cluster or Sentinel): counters shared by every instance. Unset: in-process counters. */
  redis?: unknown;
  /** Prefix of the Redis keys (the config's key prefix). Default 'gr'. */
  keyPrefix?: string;
  /** Failures allowed per username in a window. Default 10. */
  maxFailuresPerUsername?: number;
  /** Failures allowed per client address in a window. Default 100. */
  maxFailuresPerAddress?: number;
  /** The window, in seconds, from the first failure. Default 900 (15 minutes). */
  windowSeconds?: number;
  /**
   * Key of the HMAC that turns a username into a Redis key, so that a password typed into the
   * username field never lands in Redis in clear. Default: a fixed key (a plain keyed hash).
   */
  hashKey?: KeyObject | Buffer;
}

/** The version of the limiter's key layout: bump when the meaning of a counter changes. */
export const SIGN_IN_LIMITER_KEY_VERSION = 'v1';

/**
 * The part of a client address that is limited: an IPv4 address as is (IPv4-mapped IPv6
 * too), an IPv6 address by its /64, since anyone holding one holds 2^64 addresses.
 */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = address.includes('::') ? 8 - left.length - right.length : 0;
  const groups = [...left, ...Array<string>(Math.max(missing, 0)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** Builds a {@link SignInLimiter}: rate-limiter-flexible's RateLimiterRedis, or RateLimiterMemory without Redis. */
export function createSignInLimiter(options: SignInLimiterOptions = {}): SignInLimiter {
  const base = `${options.keyPrefix ?? 'gr'}:${SIGN_IN_LIMITER_KEY_VERSION}:signin`;
  const duration = options.windowSeconds ?? 900;
  const hashKey = options.hashKey ?? Buffer.from('graphql-revoke sign-in limiter');

  function build(points: number, keyPrefix: string): RateLimiterAbstract {
    return options.redis
      ? new RateLimiterRedis({ storeClient: options.redis, points, duration, keyPrefix })
      : new RateLimiterMemory({ points, duration, keyPrefix });
  }
  const byUsername = build(options.maxFailuresPerUsername ?? 10, `${base}:u`);
  const byAddress = build(options.maxFailuresPerAddress ?? 100, `${base}:a`);

  const usernameKey = (username: string) => createHmac('sha256', hashKey).update(normalizeUsername(username)).digest('base64url').slice(0, 32);

  /** Consumes one point: the remaining wait in seconds when over the limit, 0 otherwise. */
  async function consume(limiter: RateLimiterAbstract, key: string, operation: string): Promise<number> {
    try {
      await limiter.consume(key, 1);
      return 0;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new StoreUnavailableError(operation, { cause: rejection });
    }
  }

  async function settle(call: () => Promise<unknown>, operation: string): Promise<void> {
    try {
      await call();
    } catch (error) {
      throw new StoreUnavailableError(operation, { cause: error });
    }
  }

  return {
    async attempt(username, address) {
      const [userWait, addressWait] = await Promise.all([
        consume(byUsername, usernameKey(username), 'signInLimit'),
        consume(byAddress, addressBucket(address), 'signInLimit'),
      ]);
      const wait = Math.max(userWait, addressWait);
      return wait === 0 ? { allowed: true } : { allowed: false, retryAfterSeconds: wait };
    },
    async succeeded(username, address) {
      await Promise.all([
        settle(() => byUsername.delete(usernameKey(username)), 'signInLimitReset'),
        settle(() => byAddress.reward(addressBucket(address), 1), 'signInLimitReward'),
      ]);
    },
  };
}
