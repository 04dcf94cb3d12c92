/**
 * Measures how far this process's clock is from Redis' (TIME), at start and periodically.
 *
 * Why it matters: the scripts prune and expire by Redis' clock, and keep each entry until
 * exp + clock tolerance + MAX_CLOCK_SKEW (Redis time). An instance whose clock is behind
 * Redis' by s accepts a token until Redis time exp + tolerance + s, so the entries cover
 * every instance within MAX_CLOCK_SKEW of Redis. Beyond it, nothing covers that instance:
 * it refuses tokens (503 AUTH_UNAVAILABLE, like a store outage) until its clock is back.
 * Beyond the clock tolerance alone it keeps serving, with a warning.
 *
 * The offset is Redis' time minus the midpoint of the round trip (error at most half the
 * round trip, well under a millisecond on a LAN). On a Cluster every master is measured and
 * the largest offset kept. Until the first measurement the skew is unknown, which counts as
 * beyond the limit (fail closed).
 */
import type { Cluster, Redis } from 'ioredis';
import { systemClock, type Clock } from '../auth/token.js';
import type { RedisClient } from '../redis/redis-client-type.js';

/** Where the monitor logs. */
export interface ClockSkewLogger {
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/** Options of {@link createClockSkewMonitor}. */
export interface ClockSkewMonitorOptions {
  client: RedisClient;
  /** This process's clock (injected in tests to shift it). Default Date.now. */
  now?: Clock;
  /** Warn beyond this many seconds (the verifier's clock tolerance). */
  toleranceSeconds: number;
  /** Refuse tokens beyond this many seconds (MAX_CLOCK_SKEW). */
  maxSkewSeconds: number;
  /** Milliseconds between measurements. Default 10000. */
  intervalMs?: number;
  logger?: ClockSkewLogger;
  /** Told of every measurement: Redis' time minus this process's, in seconds. */
  onMeasure?: (skewSeconds: number) => void;
}

/** The monitor. */
export interface ClockSkewMonitor {
  /** Redis' time minus this process's, in ms, as last measured; undefined before the first. */
  readonly skewMs: number | undefined;
  /** True while the last measurement is beyond MAX_CLOCK_SKEW, or none was made yet. */
  readonly refusing: boolean;
  /** Resolves after the first successful measurement. */
  readonly firstMeasure: Promise<void>;
  /** Measures now; never rejects (a failed measurement keeps the last one). */
  measure(): Promise<void>;
  start(): void;
  stop(): void;
}

type State = 'ok' | 'warn' | 'refuse';

/** Builds the monitor. Nothing runs until `start()`. */
export function createClockSkewMonitor(options: ClockSkewMonitorOptions): ClockSkewMonitor {
  const { client, logger } = options;
  const now = options.now ?? systemClock;
  const intervalMs = options.intervalMs ?? 10_000;
  let skewMs: number | undefined;
  let state: State | undefined;
  let timer: NodeJS.Timeout | undefined;
  let markFirst: () => void = () => {};
  const firstMeasure = new Promise<void>((resolve) => {
    markFirst = resolve;
  });

  async function offsetOf(node: Redis): Promise<number> {
    const before = now();
    const [seconds, micros] = await node.time();
    const after = now();
    return Number(seconds) * 1000 + Number(micros) / 1000 - (before + after) / 2;
  }

  async function measure(): Promise<void> {
    const nodes: Redis[] = (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
    const offsets = await Promise.all(nodes.map((node) => offsetOf(node).catch(() => undefined)));
    const known = offsets.filter((offset): offset is number => offset !== undefined);
    if (known.length === 0) return;
    const worst = known.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a));
    skewMs = worst;
    options.onMeasure?.(worst / 1000);
    const abs = Math.abs(worst) / 1000;
    const next: State = abs > options.maxSkewSeconds ? 'refuse' : abs > options.toleranceSeconds ? 'warn' : 'ok';
    const detail = {
      skewSeconds: Math.round(worst) / 1000,
      clockToleranceSeconds: options.toleranceSeconds,
      maxClockSkewSeconds: options.maxSkewSeconds,
    };
    if (next === 'refuse') {
      // Every measurement while refusing: the operator must see it until it is fixed.
      logger?.error(detail, "this host's clock is further from Redis' than MAX_CLOCK_SKEW: refusing tokens (503) until it is corrected (check NTP)");
    } else if (next === 'warn') {
      if (state !== 'warn') logger?.warn(detail, "this host's clock is further from Redis' than the clock tolerance (JWT_CLOCK_TOLERANCE): check NTP");
    } else if (state === 'refuse' || state === 'warn') {
      logger?.info(detail, "this host's clock agrees with Redis' again");
    }
    state = next;
    markFirst();
  }

  const monitor: ClockSkewMonitor = {
    get skewMs() {
      return skewMs;
    },
    get refusing() {
      return state === undefined || state === 'refuse';
    },
    firstMeasure,
    measure: () => measure().catch(() => {}),
    start() {
      if (timer) return;
      void monitor.measure();
      timer = setInterval(() => void monitor.measure(), intervalMs);
      timer.unref();
      // A failover or reconnect may land on a Redis with another clock.
      client.on('ready', onReady);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      client.off('ready', onReady);
    },
  };
  const onReady = () => void monitor.measure();
  return monitor;
}
