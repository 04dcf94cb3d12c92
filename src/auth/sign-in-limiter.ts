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
 * slip under the limit; a successful sign-in is then not counted as a failure.
 *
 * Successful sign-ins are limited too (issue 18): each starts a session, and a session costs
 * Redis memory and ends another one at the cap, so one account or one address can't churn
 * sessions without bound. {@link SignInLimiter.admitSuccess} counts one after the right password.
 */
export interface SignInLimiter {
  /** Counts one attempt for this username and address; refuses when either is over its limit. */
  attempt(username: string, address: string): Promise<SignInPermit>;
  /** The attempt succeeded: it does not count, and the username's failures are forgotten. */
  succeeded(username: string, address: string): Promise<void>;
  /**
   * Counts one successful sign-in (the right password) for this username and address; refuses
   * when either is over its limit (SIGNIN_MAX_PER_USERNAME, SIGNIN_MAX_PER_ADDRESS). Optional for
   * a limiter of your own: without it, successes are not limited.
   */
  admitSuccess?(username: string, address: string): Promise<SignInPermit>;
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
  /** Successful sign-ins allowed per username in a success window. Default 30. */
  maxSuccessesPerUsername?: number;
  /** Successful sign-ins allowed per client address in a success window. Default 300. */
  maxSuccessesPerAddress?: number;
  /** The success window, in seconds, from the first success. Default 3600. */
  successWindowSeconds?: number;
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
/** A rate-limiter-flexible limiter: on Redis (shared by every instance) when given a client, else in process memory. */
export function createLimiter(redis: unknown, points: number, duration: number, keyPrefix: string): RateLimiterAbstract {
  return redis ? new RateLimiterRedis({ storeClient: redis, points, duration, keyPrefix }) : new RateLimiterMemory({ points, duration, keyPrefix });
}

/** Consumes one point: the remaining wait in seconds when over the limit, 0 otherwise. A store failure is StoreUnavailableError(operation). */
export async function consume(limiter: RateLimiterAbstract, key: string, operation: string): Promise<number> {
  try {
    await limiter.consume(key, 1);
    return 0;
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
    throw new StoreUnavailableError(operation, { cause: rejection });
  }
}

/** {@link consume} as a permit: allowed, or refused with the wait. */
export async function permit(limiter: RateLimiterAbstract, key: string, operation: string): Promise<SignInPermit> {
  const wait = await consume(limiter, key, operation);
  return wait === 0 ? { allowed: true } : { allowed: false, retryAfterSeconds: wait };
}

export function createSignInLimiter(options: SignInLimiterOptions = {}): SignInLimiter {
  const base = `${options.keyPrefix ?? 'gr'}:${SIGN_IN_LIMITER_KEY_VERSION}:signin`;
  const duration = options.windowSeconds ?? 900;
  const hashKey = options.hashKey ?? Buffer.from('graphql-revoke sign-in limiter');

  const build = (points: number, keyPrefix: string, window = duration) => createLimiter(options.redis, points, window, keyPrefix);
  const byUsername = build(options.maxFailuresPerUsername ?? 10, `${base}:u`);
  const byAddress = build(options.maxFailuresPerAddress ?? 100, `${base}:a`);
  const successWindow = options.successWindowSeconds ?? 3600;
  const successesByUsername = build(options.maxSuccessesPerUsername ?? 30, `${base}:su`, successWindow);
  const successesByAddress = build(options.maxSuccessesPerAddress ?? 300, `${base}:sa`, successWindow);

  const usernameKey = (username: string) => createHmac('sha256', hashKey).update(normalizeUsername(username)).digest('base64url').slice(0, 32);

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
    async admitSuccess(username, address) {
      const [userWait, addressWait] = await Promise.all([
        consume(successesByUsername, usernameKey(username), 'signInSuccessLimit'),
        consume(successesByAddress, addressBucket(address), 'signInSuccessLimit'),
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

/** What a refresh may do: go on, or wait. */
export type RefreshPermit = SignInPermit;

/**
 * Limits refreshSession per client address by its failures (issue 18): each call is counted
 * before the token is looked at, and a refresh that succeeds gives its point back, so only
 * failures (a made-up, replaced or expired token) add up. Over the limit every refresh from
 * the address is refused with 429 until the window passes, whatever the token.
 */
export interface RefreshLimiter {
  attempt(address: string): Promise<RefreshPermit>;
  succeeded(address: string): Promise<void>;
}

/** Options of {@link createRefreshLimiter}. */
export interface RefreshLimiterOptions {
  /** An ioredis client: counters shared by every instance. Unset: in-process counters. */
  redis?: unknown;
  /** Default 'gr'. */
  keyPrefix?: string;
  /** Failed refreshes allowed per client address in a window. Default 100. */
  maxFailuresPerAddress?: number;
  /** The window, in seconds, from the first failure. Default 900. */
  windowSeconds?: number;
}

/** Builds a {@link RefreshLimiter} (rate-limiter-flexible, as the sign-in limiter). */
export function createRefreshLimiter(options: RefreshLimiterOptions = {}): RefreshLimiter {
  const keyPrefix = `${options.keyPrefix ?? 'gr'}:${SIGN_IN_LIMITER_KEY_VERSION}:refresh:a`;
  const points = options.maxFailuresPerAddress ?? 100;
  const duration = options.windowSeconds ?? 900;
  const limiter = createLimiter(options.redis, points, duration, keyPrefix);
  return {
    attempt: (address) => permit(limiter, addressBucket(address), 'refreshLimit'),
    async succeeded(address) {
      try {
        await limiter.reward(addressBucket(address), 1);
      } catch (error) {
        throw new StoreUnavailableError('refreshLimitReward', { cause: error });
      }
    },
  };
}
