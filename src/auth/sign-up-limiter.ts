import { addressBucket, createLimiter, permit, type SignInPermit } from './sign-in-limiter.js';

/**
 * Limits signUp attempts per client address: every attempt counts (a sign-up costs a full
 * password hash and writes keys that never expire), counted with one atomic increment before
 * anything costly happens. Rejected attempts do not extend the window.
 */
export interface SignUpLimiter {
  /** Counts one attempt from `address`; refuses when the address is over its limit. */
  attempt(address: string): Promise<SignInPermit>;
}

/** Options of {@link createSignUpLimiter}. */
export interface SignUpLimiterOptions {
  /** An ioredis client (single, Cluster or Sentinel): counters shared by every instance. Unset: in-process counters. */
  redis?: unknown;
  /** Prefix of the Redis keys (the config's key prefix). Default 'gr'. */
  keyPrefix?: string;
  /** Attempts allowed per client address (IPv6: per /64) in a window. Default 10. */
  maxPerAddress?: number;
  /** The window, in seconds, from the first attempt. Default 3600. */
  windowSeconds?: number;
}

/** The version of the limiter's key layout: bump when the meaning of a counter changes. */
export const SIGN_UP_LIMITER_KEY_VERSION = 'v1';

/** Builds a {@link SignUpLimiter}: rate-limiter-flexible's RateLimiterRedis, or RateLimiterMemory without Redis. */
export function createSignUpLimiter(options: SignUpLimiterOptions = {}): SignUpLimiter {
  const keyPrefix = `${options.keyPrefix ?? 'gr'}:${SIGN_UP_LIMITER_KEY_VERSION}:signup:a`;
  const points = options.maxPerAddress ?? 10;
  const duration = options.windowSeconds ?? 3600;
  const limiter = createLimiter(options.redis, points, duration, keyPrefix);
  return { attempt: (address) => permit(limiter, addressBucket(address), 'signUpLimit') };
}
