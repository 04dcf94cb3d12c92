import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuthOutcome } from './context/context-builder.js';
import { LIVE_CLOSE_REASONS, type LiveCloseReason } from './live/socket-registry.js';

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Where the metrics are registered. Default: a new Registry (never prom-client's global one). */
  registry?: Registry;
  /** Prefix of every metric name. Default 'graphql_revoke_'. */
  prefix?: string;
  /** Also export Node process metrics (CPU, memory, event loop lag, GC). Default false. */
  processMetrics?: boolean;
  /** Read at each scrape: is the token store connected? Exported as `<prefix>token_store_up`. */
  storeUp?: () => boolean;
}

/** The API's Prometheus metrics, and the hooks that feed them. */
export interface Metrics {
  readonly registry: Registry;
  /** One GraphQL request's authentication outcome (the context builder's onOutcome). */
  recordAuthOutcome(outcome: AuthOutcome): void;
  /** A revocation acknowledged by the store: `one` (cancelToken) or `all` (cancelAllMyTokens). */
  recordRevocation(kind: 'one' | 'all', tokens: number): void;
  /** The latency of one token-store command (RedisRevocationStore's observeLatency). */
  observeStoreLatency(operation: string, seconds: number, ok: boolean): void;
  /** A live (WebSocket) socket opened. */
  recordLiveSocketOpened(): void;
  /** A live socket closed, and why (see LiveCloseReason). */
  recordLiveSocketClosed(reason: LiveCloseReason): void;
  /** Seconds from a revocation event's publication to the close of a socket it named. */
  observeLiveFanOutDelay(seconds: number): void;
  /** A revocation was written but its live event could not be published. */
  recordLiveEventPublishFailure(): void;
  /** The exposition text and its content type, for GET /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

const AUTH_OUTCOMES: readonly AuthOutcome[] = ['ok', 'missing', 'invalid', 'expired', 'revoked', 'unavailable'];

/**
 * Creates the metrics:
 * - `<prefix>requests_total{auth_outcome}`: GraphQL requests by authentication outcome
 *   (ok, missing, invalid, expired, revoked, unavailable);
 * - `<prefix>revocations_total{kind}`: acknowledged cancelToken (`one`) and cancelAllMyTokens (`all`) calls;
 * - `<prefix>revoked_tokens_total{kind}`: tokens they revoked;
 * - `<prefix>token_store_command_duration_seconds{operation,result}`: token-store command latency;
 * - `<prefix>token_store_up`: 1 while the token store is connected (when `storeUp` is given);
 * - `<prefix>live_sockets`: open WebSocket connections;
 * - `<prefix>live_sockets_closed_total{reason}`: closed sockets by reason (revoked, expired, refused,
 *   unavailable, capacity, shutdown, protocol, client);
 * - `<prefix>live_fanout_delay_seconds`: revocation event published → socket closed;
 * - `<prefix>live_event_publish_failures_total`: revocations whose live event could not be published.
 *
 * Every label value is created at zero, so a rate() over a series that never moved still works.
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'graphql_revoke_';
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix });

  const requests = new Counter({
    name: `${prefix}requests_total`,
    help: 'GraphQL requests by authentication outcome: ok, missing (anonymous), invalid, expired, revoked, unavailable (token store down: 503).',
    labelNames: ['auth_outcome'] as const,
    registers: [registry],
  });
  // One child per outcome, made once: recording an outcome on the request path is then an
  // increment, without hashing a label object each time. Created at zero (see above).
  const requestsByOutcome = new Map(AUTH_OUTCOMES.map((outcome) => [outcome, requests.labels({ auth_outcome: outcome })]));
  for (const child of requestsByOutcome.values()) child.inc(0);

  const revocations = new Counter({
    name: `${prefix}revocations_total`,
    help: 'Acknowledged revocations: one (cancelToken) or all (cancelAllMyTokens).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const revokedTokens = new Counter({
    name: `${prefix}revoked_tokens_total`,
    help: 'Tokens revoked by acknowledged revocations, by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  for (const kind of ['one', 'all'] as const) {
    revocations.inc({ kind }, 0);
    revokedTokens.inc({ kind }, 0);
  }

  const storeLatency = new Histogram({
    name: `${prefix}token_store_command_duration_seconds`,
    help: 'Latency of token-store (Redis) commands, by operation and result (ok, error).',
    labelNames: ['operation', 'result'] as const,
    // Loopback Redis answers in ~0.1 ms; the command timeout is 0.5 s by default.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });

  const latencyChildren = new Map<string, ReturnType<typeof storeLatency.labels>>();

  if (options.storeUp) {
    const storeUp = options.storeUp;
    new Gauge({
      name: `${prefix}token_store_up`,
      help: '1 while the token store (Redis) is connected, else 0: requests with a token get 503 meanwhile.',
      registers: [registry],
      collect() {
        this.set(storeUp() ? 1 : 0);
      },
    });
  }

  const liveSockets = new Gauge({ name: `${prefix}live_sockets`, help: 'Open WebSocket (graphql-transport-ws) connections.', registers: [registry] });
  const liveClosed = new Counter({
    name: `${prefix}live_sockets_closed_total`,
    help: 'Closed WebSocket connections by reason: revoked, expired, refused (at init), unavailable (store), capacity, shutdown, protocol, client.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const liveClosedByReason = new Map(LIVE_CLOSE_REASONS.map((reason) => [reason, liveClosed.labels({ reason })]));
  for (const child of liveClosedByReason.values()) child.inc(0);
  const fanOut = new Histogram({
    name: `${prefix}live_fanout_delay_seconds`,
    help: 'From a revocation event being published to a socket it names being closed (includes clock skew between hosts).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const publishFailures = new Counter({
    name: `${prefix}live_event_publish_failures_total`,
    help: 'Revocations written whose live event could not be published (their sockets close at the next re-check).',
    registers: [registry],
  });

  return {
    registry,
    recordLiveSocketOpened() {
      liveSockets.inc();
    },
    recordLiveSocketClosed(reason) {
      liveSockets.dec();
      (liveClosedByReason.get(reason) ?? liveClosed.labels({ reason })).inc();
    },
    observeLiveFanOutDelay(seconds) {
      fanOut.observe(seconds);
    },
    recordLiveEventPublishFailure() {
      publishFailures.inc();
    },
    recordAuthOutcome(outcome) {
      (requestsByOutcome.get(outcome) ?? requests.labels({ auth_outcome: outcome })).inc();
    },
    recordRevocation(kind, tokens) {
      revocations.inc({ kind });
      revokedTokens.inc({ kind }, tokens);
    },
    observeStoreLatency(operation, seconds, ok) {
      // One child per (operation, result), made at first use: a lookup observes without hashing labels.
      const key = `${operation}\0${ok}`;
      let child = latencyChildren.get(key);
      if (!child) {
        child = storeLatency.labels({ operation, result: ok ? 'ok' : 'error' });
        latencyChildren.set(key, child);
      }
      child.observe(seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
