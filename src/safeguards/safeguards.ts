/**
 * The three safeguards of a Redis-backed revocation store (issue 10), built together from
 * the config: the eviction-policy guard, the clock-skew monitor and the data-loss watcher,
 * and the store decorator that applies them. main.ts wires them; a library user can too.
 */
import type { Clock } from '../auth/token.js';
import type { Config } from '../config/index.js';
import { StoreUnavailableError } from '../errors.js';
import { createClockSkewMonitor, type ClockSkewMonitor } from './clock-skew.js';
import { createDataLossWatcher, type DataLossWatcher } from './data-loss-watcher.js';
import { createEvictionPolicyGuard, type EvictionPolicyGuard } from './eviction-policy.js';
import type { RedisClient } from '../redis/redis-client-type.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { SafeguardedRevocationStore } from '../revocation/safeguarded-store.js';

/** Where the safeguards log. */
export interface SafeguardsLogger {
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/** What the session manager needs of the safeguards (createSessionManager's beforeIssue and issuedAtFloorMs). */
export interface SessionGuards {
  beforeIssue(): void;
  issuedAtFloorMs(): number;
}

/**
 * The three gauges and counters the safeguards feed. Named here, not imported from the metrics
 * module: the safeguards sit below the pipeline, and a host may feed its own metrics.
 */
export interface SafeguardMetrics {
  recordDataLoss(shard: string): void;
  recordTokenCutoff(seconds: number): void;
  recordClockSkew(seconds: number): void;
}

/** Options of {@link createRedisSafeguards}. */
export interface RedisSafeguardsOptions {
  client: RedisClient;
  config: Config;
  logger?: SafeguardsLogger;
  /** Where the watchers' measures go (the API's Metrics has these three); unset: nowhere. */
  metrics?: SafeguardMetrics;
  /** This process's clock. Default Date.now. */
  now?: Clock;
  /** Called in production when Redis' eviction policy is unsafe (main exits). */
  onUnsafeEvictionPolicy?: (message: string) => void;
}

/** The safeguards, not yet started. */
export interface RedisSafeguards {
  readonly watcher: DataLossWatcher;
  readonly clock: ClockSkewMonitor;
  readonly eviction: EvictionPolicyGuard;
  /** Give it to RedisRevocationStore as `afterWrite`. */
  afterWrite(key: string): Promise<void>;
  /** The store as served: the cutoff and the clock checked before `inner`'s one command. */
  wrap(inner: RevocationStore): RevocationStore;
  /** /readyz conditions (createServer's `safeguards`). */
  readonly readinessChecks: readonly (() => Promise<string | undefined>)[];
  /**
   * The clock of issued tokens (createServer's `safeguards`): `now`, but never ahead of Redis' clock (as last measured)
   * and never before the data-loss cutoff. So a token issued before a loss has an iat below
   * the cutoff (recorded in Redis' time) whatever this host's clock, and a token issued after
   * it is not refused by it. Never ahead of this host's clock either, except by up to the 1 s
   * of the cutoff's rounding (within any clock tolerance >= 1).
   */
  issuerNow(now: Clock): Clock;
  /** Why tokens are refused right now, or undefined. */
  unavailable(): string | undefined;
  /**
   * The session manager's checks (createServer's `safeguards`): no session write that hands
   * out a token while tokens are refused (StoreUnavailableError: 503), and no token stamped
   * before the data-loss cutoff (session tokens carry Redis' time, which may be just before it).
   */
  readonly sessionGuards: SessionGuards;
  start(): void;
  /** Resolves once the first clock measurement and marker check are done, or after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void>;
  stop(): void;
}

/** Builds the safeguards from `config` (redis.dataLoss, jwt.maxClockSkewSeconds, redis.allowEvictionPolicies). */
export function createRedisSafeguards(options: RedisSafeguardsOptions): RedisSafeguards {
  const { client, config, logger, metrics } = options;
  const watcher = createDataLossWatcher({
    client,
    keyPrefix: config.redis.keyPrefix,
    mode: config.redis.dataLoss,
    intervalMs: config.redis.dataLossCheckIntervalMs,
    ...(logger ? { logger } : {}),
    ...(metrics ? { onLoss: (shard: string) => metrics.recordDataLoss(shard), onCutoff: (seconds: number) => metrics.recordTokenCutoff(seconds) } : {}),
  });
  const clock = createClockSkewMonitor({
    client,
    ...(options.now ? { now: options.now } : {}),
    toleranceSeconds: config.jwt.clockToleranceSeconds,
    maxSkewSeconds: config.jwt.maxClockSkewSeconds,
    intervalMs: config.jwt.clockSkewCheckIntervalMs,
    ...(logger ? { logger } : {}),
    ...(metrics ? { onMeasure: (seconds: number) => metrics.recordClockSkew(seconds) } : {}),
  });
  const eviction = createEvictionPolicyGuard({
    client,
    allowed: config.redis.allowEvictionPolicies,
    production: config.production,
    ...(logger ? { logger } : {}),
    ...(options.onUnsafeEvictionPolicy ? { onRefuse: options.onUnsafeEvictionPolicy } : {}),
  });
  const refuseOldTokens = config.redis.dataLoss === 'refuse-old-tokens';

  function unavailable(): string | undefined {
    if (clock.refusing) {
      return clock.skewMs === undefined
        ? "Redis has not answered this host's clock measurement yet"
        : `this host's clock is ${(clock.skewMs / 1000).toFixed(1)} s from Redis' (MAX_CLOCK_SKEW=${config.jwt.maxClockSkewSeconds})`;
    }
    if (refuseOldTokens && !watcher.ready) return 'the data-loss markers were not read since Redis (re)connected';
    return undefined;
  }

  return {
    watcher,
    clock,
    eviction,
    afterWrite: (key) => watcher.acknowledgeWrite(key),
    wrap: (inner) => new SafeguardedRevocationStore({ inner, cutoffSeconds: () => watcher.cutoffSeconds, unavailable }),
    readinessChecks: [async () => unavailable(), () => eviction.readiness()],
    issuerNow: (now) => () => {
      const local = now();
      return Math.max(Math.min(local, local + (clock.skewMs ?? 0)), watcher.cutoffSeconds * 1000);
    },
    unavailable,
    sessionGuards: {
      beforeIssue() {
        const reason = unavailable();
        if (reason !== undefined) throw new StoreUnavailableError(`session write refused: ${reason}`);
      },
      issuedAtFloorMs: () => watcher.cutoffSeconds * 1000,
    },
    start() {
      clock.start();
      watcher.start();
    },
    async settled(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([clock.firstMeasure, watcher.firstCheck, eviction.firstCheck]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
    stop() {
      clock.stop();
      watcher.stop();
      eviction.stop();
    },
  };
}
