/**
 * The bounds of the live endpoint, their defaults, and their validation: a bad limit throws
 * at construction, not at the first socket.
 */

/** The bounds of the live endpoint; each has a default. */
export interface LiveLimits {
  /**
   * Open sockets per process (WS_MAX_CONNECTIONS); past it a new socket is closed with 1013.
   * Default 900: keep it under the HTTP server's connection cap minus a reserve for plain
   * requests (upgraded sockets count against it). */
  maxConnections?: number;
  /** Open sockets per client address (IPv6: per /64), WS_MAX_CONNECTIONS_PER_ADDRESS; past it close 1013. Default 50. */
  maxConnectionsPerAddress?: number;
  /** Sockets without a token, all addresses together (WS_MAX_ANONYMOUS_CONNECTIONS); past it close 1013 at connection_init. Default 450. */
  maxAnonymousConnections?: number;
  /** ms an anonymous socket may go without an operation before it is closed with 1000 (WS_ANONYMOUS_IDLE_MS). Default 30,000. */
  anonymousIdleMs?: number;
  /**
   * Operations a socket may start per second (WS_MAX_OPERATIONS_PER_SECOND): a token bucket
   * holding one second's worth. Above it the operation gets RATE_LIMITED; a socket refused
   * that many operations more without a pause is closed with 4429. Default 50.
   */
  maxOperationsPerSecond?: number;
  /** Operations running at once on one socket (WS_MAX_SUBSCRIPTIONS_PER_SOCKET); past it the operation gets an error. Default 20. */
  maxSubscriptionsPerSocket?: number;
  /** ms to wait for connection_init before closing with 4408 (graphql-ws). Default 3000. */
  connectionInitTimeoutMs?: number;
  /** ms between keep-alive pings; a socket that did not answer the previous one is terminated. 0: none. Default 12,000. */
  keepAliveMs?: number;
  /** ms between full re-checks of every socket against the store (WS_RECHECK_INTERVAL_SECONDS). 0: none. Default 60,000. */
  recheckIntervalMs?: number;
  /** Largest message accepted, bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
}

const DEFAULTS = {
  maxConnections: 900,
  maxConnectionsPerAddress: 50,
  maxAnonymousConnections: 450,
  anonymousIdleMs: 30_000,
  maxOperationsPerSecond: 50,
  maxSubscriptionsPerSocket: 20,
  connectionInitTimeoutMs: 3000,
  keepAliveMs: 12_000,
  recheckIntervalMs: 60_000,
  maxPayloadBytes: 1_048_576,
} satisfies Required<LiveLimits>;

/** The limits with their defaults; throws at once on a bad one (misconfiguration surfaces at construction). */
export function resolveLimits(given: LiveLimits): Required<LiveLimits> {
  const limits = { ...DEFAULTS, ...stripUndefined(given) };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`createLiveConnections: limits.${name} must be an integer >= 0, got ${value}`);
  }
  if (limits.maxSubscriptionsPerSocket < 1) throw new Error('createLiveConnections: limits.maxSubscriptionsPerSocket must be at least 1');
  for (const name of ['maxConnectionsPerAddress', 'anonymousIdleMs', 'maxOperationsPerSecond'] as const) {
    if (limits[name] < 1) throw new Error(`createLiveConnections: limits.${name} must be at least 1`);
  }
  return limits;
}

function stripUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;
}
