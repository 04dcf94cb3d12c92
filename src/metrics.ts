import { readdir } from 'node:fs/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuthOutcome } from './context/context-builder.js';
import { SESSION_EVENTS, type SessionEvent } from './metric-labels/session-events.js';
import { createLabelledHistogram, type HistogramSeries } from './metric-labels/labelled-histogram.js';
import { OAUTH_OUTCOMES, type OAuthEndpoint, type OAuthOutcome } from './metric-labels/oauth-outcomes.js';

/** Why the server closed a live socket (metrics label), or `client` when the other side (or the network) did. */
export type LiveCloseReason = 'revoked' | 'expired' | 'refused' | 'unavailable' | 'capacity' | 'idle' | 'rate' | 'shutdown' | 'protocol' | 'client';

/** Every {@link LiveCloseReason}, for metrics created at zero. */
export const LIVE_CLOSE_REASONS: readonly LiveCloseReason[] = ['revoked', 'expired', 'refused', 'unavailable', 'capacity', 'idle', 'rate', 'shutdown', 'protocol', 'client'];

/** How a renewConnection on a live socket ended (src/live/connection-renewal.ts): the metric's label. */
export type RenewalOutcome =
  | 'renewed'
  | 'invalid'
  | 'expired'
  | 'revoked'
  | 'user_mismatch'
  | 'session_mismatch'
  | 'unavailable'
  /** The socket's own token was past its exp: refused and the socket closed 4403. */
  | 'socket_expired';

/** Every {@link RenewalOutcome}, for metrics created at zero. */
export const RENEWAL_OUTCOMES: readonly RenewalOutcome[] = ['renewed', 'invalid', 'expired', 'revoked', 'user_mismatch', 'session_mismatch', 'unavailable', 'socket_expired'];

/**
 * prom-client's default metrics that walk every open handle on each scrape, synchronously on the
 * event loop: `process_open_fds` (a readdirSync of /proc/self/fd), `nodejs_active_handles`,
 * `nodejs_active_handles_total`, `nodejs_active_resources` and `nodejs_active_resources_total`
 * (an array of every handle or resource, then grouped). With 10,000 open WebSocket connections a
 * scrape took 26–42 ms against 2–5 ms without them (measured, issue 19; docs/benchmarks.md "Idle
 * sockets"), every request of the process waiting behind it. Not exported: `live_sockets` counts
 * the sockets, and `process_open_fds` is read again below, off the event loop.
 */
const PER_HANDLE_DEFAULT_METRICS = ['process_open_fds', 'nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total'];

/** Node process metrics: prom-client's defaults, without those that cost a scrape one step per open handle. */
function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of PER_HANDLE_DEFAULT_METRICS) registry.removeSingleMetric(`${prefix}${name}`);
  if (process.platform !== 'linux') return;
  // The same gauge, its directory read in libuv's thread pool rather than on the event loop.
  new Gauge({
    name: `${prefix}process_open_fds`,
    help: 'Number of open file descriptors.',
    registers: [registry],
    async collect() {
      try {
        // Minus the descriptor the read itself held open (as prom-client's own gauge counts).
        this.set((await readdir('/proc/self/fd')).length - 1);
      } catch {
        // Not readable here (a sandbox without /proc): the gauge keeps its last value.
      }
    },
  });
}

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
  /**
   * Read at each scrape: every Redis master's used memory and limit (INFO memory), exported
   * as `<prefix>redis_memory_used_bytes`, `<prefix>redis_memory_max_bytes` and
   * `<prefix>redis_memory_used_ratio` by node. A failed read exports nothing that scrape.
   */
  redisMemory?: () => Promise<readonly { node: string; usedBytes: number; maxBytes: number; policy?: string }[]>;
  /**
   * REDIS_ALLOW_EVICTION_POLICY: the policies accepted besides `noeviction`. With `redisMemory`,
   * `<prefix>redis_eviction_policy_refused{node}` is 1 for a master whose maxmemory-policy is
   * neither (Redis could evict revocations). Default: none.
   */
  allowedEvictionPolicies?: readonly string[];
}

/** The routes `<prefix>http_responses_total` tells apart (a bounded label). */
export type HttpRoute = 'graphql' | 'health' | 'other';

/** The API's Prometheus metrics, and the hooks that feed them. */
export interface Metrics {
  readonly registry: Registry;
  /** One GraphQL request's authentication outcome (the context builder's onOutcome). */
  recordAuthOutcome(outcome: AuthOutcome): void;
  /** A revocation acknowledged by the store: `one` (cancelToken) or `all` (cancelAllMyTokens). */
  recordRevocation(kind: 'one' | 'all', tokens: number): void;
  /** The latency of one token-store command (RedisRevocationStore's observeLatency). */
  observeStoreLatency(operation: string, seconds: number, ok: boolean): void;
  /** The last measured offset of Redis' clock from this host's, in seconds (clock-skew monitor). */
  recordClockSkew(seconds: number): void;
  /** A loss of Redis data behind revocations detected on `shard` (data-loss watcher). */
  recordDataLoss(shard: string): void;
  /** Tokens issued before this time (seconds since the epoch) are refused (data-loss cutoff). */
  recordTokenCutoff(seconds: number): void;
  /** A live (WebSocket) socket opened. */
  recordLiveSocketOpened(): void;
  /** A live socket closed, and why (see LiveCloseReason). */
  recordLiveSocketClosed(reason: LiveCloseReason): void;
  /** Seconds from a revocation event's publication to the close of a socket it named. */
  observeLiveFanOutDelay(seconds: number): void;
  /** A revocation was written but its live event could not be published. */
  recordLiveEventPublishFailure(): void;
  /** One request to /oauth/introspect or /oauth/revoke, by how it ended (src/oauth/outcomes.ts). */
  recordOAuthRequest(endpoint: OAuthEndpoint, outcome: OAuthOutcome): void;
  /** One HTTP response of the API, by route and status code (401, 503, ...). */
  recordHttpResponse(route: HttpRoute, status: number): void;
  /** A session event (see SESSION_EVENTS). */
  recordSessionEvent(event: SessionEvent): void;
  /** A renewConnection on a live socket, by outcome (renewed, or why it was refused). */
  recordLiveRenewal(outcome: RenewalOutcome): void;
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
 * - `<prefix>clock_skew_seconds`: Redis' clock minus this host's, as last measured;
 * - `<prefix>redis_data_loss_total{shard}`: losses of the Redis data behind revocations detected here;
 * - `<prefix>token_cutoff_seconds`: tokens issued before this time are refused (0: none);
 * - `<prefix>redis_memory_used_bytes{node}`, `..._max_bytes{node}`, `..._used_ratio{node}` (when `redisMemory` is given).
 * - `<prefix>live_sockets`: open WebSocket connections;
 * - `<prefix>live_sockets_closed_total{reason}`: closed sockets by reason (revoked, expired, refused,
 *   unavailable, capacity, shutdown, protocol, client);
 * - `<prefix>live_fanout_delay_seconds`: revocation event published → socket closed;
 * - `<prefix>live_event_publish_failures_total`: revocations whose live event could not be published;
 * - `<prefix>oauth_requests_total{endpoint,outcome}`: token introspection and revocation requests
 *   by endpoint (introspect, revoke) and outcome (src/oauth/outcomes.ts).
 * - `<prefix>redis_eviction_policy_refused{node}` (with `redisMemory`): 1 for a master with an unsafe policy;
 * - `<prefix>http_responses_total{route,status}`: HTTP responses by route and status code;
 * - `<prefix>session_events_total{event}`: sessions started, refreshed, refused a refresh, ended.
 * - `<prefix>live_renewals_total{outcome}`: renewConnection calls on live sockets, by outcome.
 *
 * Every label value is created at zero, so a rate() over a series that never moved still works.
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'graphql_revoke_';
  if (options.processMetrics) collectProcessMetrics(registry, prefix);

  // Counted in plain numbers on the request path and handed to prom-client when it collects
  // (a child's inc() hashes its label object on every call: an allocation per request).
  const outcomeCounts = new Map<AuthOutcome, number>(AUTH_OUTCOMES.map((outcome) => [outcome, 0]));
  const outcomeReported = new Map<AuthOutcome, number>();
  const requests = new Counter({
    name: `${prefix}requests_total`,
    help: 'GraphQL requests by authentication outcome: ok, missing (anonymous), invalid, expired, revoked, unavailable (token store down: 503).',
    labelNames: ['auth_outcome'] as const,
    registers: [registry],
    collect() {
      for (const [outcome, count] of outcomeCounts) {
        const delta = count - (outcomeReported.get(outcome) ?? 0);
        if (delta > 0) this.inc({ auth_outcome: outcome }, delta);
        outcomeReported.set(outcome, count);
      }
    },
  });
  // Created at zero (see above).
  for (const outcome of AUTH_OUTCOMES) requests.inc({ auth_outcome: outcome }, 0);

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

  // Observed once per authenticated request: a histogram whose observe allocates nothing
  // (labelled-histogram.ts; prom-client's re-hashes the labels on every call).
  const storeLatency = createLabelledHistogram({
    name: `${prefix}token_store_command_duration_seconds`,
    help: 'Latency of token-store (Redis) commands, by operation and result (ok, error).',
    // Loopback Redis answers in ~0.1 ms; the command timeout is 0.5 s by default.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registry,
  });

  const latencyChildren = new Map<string, HistogramSeries>();

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

  const clockSkew = new Gauge({
    name: `${prefix}clock_skew_seconds`,
    help: "Redis' clock minus this host's, in seconds, as last measured. Beyond MAX_CLOCK_SKEW (either way) the instance refuses tokens (503).",
    registers: [registry],
  });
  const dataLoss = new Counter({
    name: `${prefix}redis_data_loss_total`,
    help: 'Losses of the Redis data behind revocations detected by this instance (FLUSHALL, restart without persistence, failover that lost writes), by shard.',
    labelNames: ['shard'] as const,
    registers: [registry],
  });
  const tokenCutoff = new Gauge({
    name: `${prefix}token_cutoff_seconds`,
    help: 'Tokens issued before this time (seconds since the epoch) are refused because Redis lost revocations; 0 while none was lost.',
    registers: [registry],
  });
  if (options.redisMemory) {
    const read = options.redisMemory;
    // One INFO memory per master per scrape, shared by the three gauges.
    let pending: Promise<readonly { node: string; usedBytes: number; maxBytes: number; policy?: string }[] | undefined> | undefined;
    const reports = () => {
      pending ??= read()
        .catch(() => undefined)
        .finally(() => setTimeout(() => (pending = undefined), 100).unref());
      return pending;
    };
    const gauge = (name: string, help: string, value: (report: { usedBytes: number; maxBytes: number; policy?: string }) => number) =>
      new Gauge({
        name: `${prefix}${name}`,
        help,
        labelNames: ['node'] as const,
        registers: [registry],
        async collect() {
          this.reset();
          for (const report of (await reports()) ?? []) this.set({ node: report.node }, value(report));
        },
      });
    const allowed = new Set(['noeviction', ...(options.allowedEvictionPolicies ?? [])]);
    gauge(
      'redis_eviction_policy_refused',
      "1 for a Redis master whose maxmemory-policy is neither noeviction nor allowed by REDIS_ALLOW_EVICTION_POLICY (it could evict revocations: production refuses to start, /readyz fails), else 0.",
      (r) => ('policy' in r && typeof r.policy === 'string' && !allowed.has(r.policy) ? 1 : 0),
    );
    gauge('redis_memory_used_bytes', 'Memory used by each Redis master (INFO memory used_memory).', (r) => r.usedBytes);
    gauge('redis_memory_max_bytes', "Each Redis master's maxmemory (0: no limit).", (r) => r.maxBytes);
    gauge('redis_memory_used_ratio', 'used_memory / maxmemory of each Redis master (0 when there is no limit). With noeviction, writes (sign-ins, revocations) fail with 503 at 1.', (r) =>
      r.maxBytes > 0 ? r.usedBytes / r.maxBytes : 0,
    );
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
  const renewals = new Counter({
    name: `${prefix}live_renewals_total`,
    help: 'renewConnection calls on live sockets by outcome: renewed, invalid, expired, revoked, user_mismatch, session_mismatch, unavailable, socket_expired (the socket was closed 4403).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const renewalsByOutcome = new Map(RENEWAL_OUTCOMES.map((outcome) => [outcome, renewals.labels({ outcome })]));
  for (const child of renewalsByOutcome.values()) child.inc(0);
  const publishFailures = new Counter({
    name: `${prefix}live_event_publish_failures_total`,
    help: 'Revocations written whose live event could not be published (their sockets close at the next re-check).',
    registers: [registry],
  });

  const oauthRequests = new Counter({
    name: `${prefix}oauth_requests_total`,
    help: 'Token introspection (introspect) and revocation (revoke) requests by outcome: active, inactive, revoked_access_token, ended_session, ignored, unsupported_token_type, invalid_client, invalid_request, rate_limited, unavailable, method_not_allowed.',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [registry],
  });
  const oauthChildren = new Map<string, ReturnType<typeof oauthRequests.labels>>();
  for (const [endpoint, outcomes] of Object.entries(OAUTH_OUTCOMES)) {
    for (const outcome of outcomes) {
      const child = oauthRequests.labels({ endpoint, outcome });
      child.inc(0);
      oauthChildren.set(`${endpoint}\0${outcome}`, child);
    }
  }


  const httpResponses = new Counter({
    name: `${prefix}http_responses_total`,
    help: 'HTTP responses of the API by route (graphql, health, other) and status code: 401 (token refused), 503 (token store unavailable), 429, ...',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  // Created at zero for the codes an alert divides by, so a rate() exists before the first one.
  for (const status of ['200', '401', '503']) httpResponses.inc({ route: 'graphql', status }, 0);
  const httpChildren = new Map<string, ReturnType<typeof httpResponses.labels>>();

  const sessionEvents = new Counter({
    name: `${prefix}session_events_total`,
    help: 'Session events: started (signIn, signUp), refreshed, refresh_refused (reused, invalid, expired or disabled), ended (one per cancelSession or end-all call).',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const sessionEventChildren = new Map(SESSION_EVENTS.map((event) => [event, sessionEvents.labels({ event })]));
  for (const child of sessionEventChildren.values()) child.inc(0);

  return {
    registry,
    recordOAuthRequest(endpoint, outcome) {
      (oauthChildren.get(`${endpoint}\0${outcome}`) ?? oauthRequests.labels({ endpoint, outcome })).inc();
    },
    recordHttpResponse(route, status) {
      const key = `${route} ${status}`;
      let child = httpChildren.get(key);
      if (!child) {
        child = httpResponses.labels({ route, status: String(status) });
        httpChildren.set(key, child);
      }
      child.inc();
    },
    recordSessionEvent(event) {
      sessionEventChildren.get(event)?.inc();
    },
    recordClockSkew(seconds) {
      clockSkew.set(seconds);
    },
    recordDataLoss(shard) {
      dataLoss.inc({ shard });
    },
    recordTokenCutoff(seconds) {
      tokenCutoff.set(seconds);
    },
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
    recordLiveRenewal(outcome) {
      (renewalsByOutcome.get(outcome) ?? renewals.labels({ outcome })).inc();
    },
    recordAuthOutcome(outcome) {
      outcomeCounts.set(outcome, (outcomeCounts.get(outcome) ?? 0) + 1);
    },
    recordRevocation(kind, tokens) {
      revocations.inc({ kind });
      revokedTokens.inc({ kind }, tokens);
    },
    observeStoreLatency(operation, seconds, ok) {
      // One series per (operation, result), made at first use: no label object per lookup.
      const key = ok ? operation : `${operation}\0error`;
      let series = latencyChildren.get(key);
      if (!series) {
        series = storeLatency.series({ operation, result: ok ? 'ok' : 'error' });
        latencyChildren.set(key, series);
      }
      series.observe(seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
