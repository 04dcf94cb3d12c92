import type { PasswordHasher } from '../auth/password.js';
import type { RefreshLimiter, SignInLimiter } from '../auth/sign-in-limiter.js';
import type { SignUpLimiter } from '../auth/sign-up-limiter.js';
import type { Clock } from '../auth/token.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { RedisSafeguards } from '../safeguards/safeguards.js';
import type { UserStore } from '../users/user-store.js';
import type { LiveEventBus } from '../live/revocation-events.js';

/** What {@link createServer} needs. Stores and logger are passed in: tests and main build them. */
export interface ServerOptions {
  config: Config;
  revocations: RevocationStore;
  users: UserStore;
  logger: Logger;
  /** Default: scrypt with the default cost. Tests pass a cheap one. */
  passwords?: PasswordHasher;
  now?: Clock;
  /**
   * Prometheus metrics (src/metrics.ts): fed with every request's auth outcome and every
   * revocation. Served on a listener of their own (createMetricsListener), never on the API
   * port. Store latency is wired where the store is built (RedisRevocationStore's observeLatency).
   */
  metrics?: Metrics;
  /**
   * Put the in-process cache (CachedRevocationStore) in front of `revocations` for requests
   * and mutations: "revoked" answers are kept until the token expires, "not revoked" answers
   * for `config.revocationCache.notRevokedTtlMs` (default 0: never). Default true. Readiness
   * always asks `revocations` itself.
   */
  revocationCache?: boolean;
  /**
   * The ioredis client (single, Sentinel or Cluster) the sign-in limiter counts failures in,
   * shared by every instance. Unset: with Redis in the config the limiter opens its own
   * connection (closed by close()); without, counters in process memory.
   */
  redis?: unknown;
  /** Replaces the default sign-in limiter (config.signIn limits, on `redis` or in memory). */
  signInLimiter?: SignInLimiter;
  /** Replaces the default limiter of failed refreshes per address (config.sessions, on `redis` or in memory). */
  refreshLimiter?: RefreshLimiter;
  /** Replaces the default sign-up limiter (config.signUp limits, on `redis` or in memory). */
  signUpLimiter?: SignUpLimiter;
  /**
   * The Redis safeguards (src/safeguards/safeguards.ts, createRedisSafeguards): their /readyz
   * conditions, the clock of issued tokens (never ahead of Redis' clock, never before the
   * data-loss cutoff; applied to `now`) and their checks on session writes. Unset: none.
   */
  safeguards?: Pick<RedisSafeguards, 'readinessChecks' | 'issuerNow' | 'sessionGuards'>;
  /**
   * Where revocation events go and come from (src/live/): every revocation made through
   * this server is published on it, and the live sockets it names are closed. Give
   * createRedisEventBus when several instances share the store; default: an in-process bus
   * (one instance). Not closed by close().
   */
  events?: LiveEventBus;
  /**
   * Where sessions live: a RedisSessionStore on the same Redis and key prefix as
   * `revocations` (its markers are what the per-request check reads). Default: a
   * MemorySessionStore when `revocations` is a MemoryRevocationStore; required otherwise.
   */
  sessions?: SessionStore;
}
