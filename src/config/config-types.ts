/**
 * The configuration's types: the one typed, frozen object the loader (load-config.ts) builds
 * from the environment, and what the operator's command line reads of it. Types only, so that
 * every floor can name them without pulling in the loader.
 */
import type { KeyObject } from 'node:crypto';
import type { JwtAlgorithm, JwtKeys } from './jwt-keys.js';
import type { CorsPolicy } from './cors-policy.js';

/** What to do when a Redis data loss is detected: REDIS_DATA_LOSS. */
export type DataLossMode = 'refuse-old-tokens' | 'ignore';

/** The whole configuration of the API, parsed once from the environment and frozen. */
export interface Config {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  /**
   * LOG_FORMAT: `json` (one JSON object a line), `pretty` (readable lines: time, level,
   * message, fields), or `auto` (default): pretty on a terminal outside production, else JSON.
   */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  readonly redis: {
    /**
     * Which Redis topology: `single` (REDIS_URL), `cluster` (REDIS_CLUSTER_NODES),
     * `sentinel` (REDIS_SENTINELS + REDIS_SENTINEL_NAME), or `none`: the embedded
     * in-process store (development only).
     */
    readonly mode: RedisMode;
    /** Unset: the embedded in-process store (development only). */
    readonly url: string | undefined;
    /** REDIS_CLUSTER_NODES: seed nodes of a Redis Cluster (`host:port,host:port,...`). */
    readonly clusterNodes: readonly HostPort[];
    /** REDIS_SENTINELS: the sentinels (`host:port,...`); REDIS_SENTINEL_NAME: the monitored master. */
    readonly sentinels: readonly HostPort[];
    readonly sentinelName: string | undefined;
    /** REDIS_USERNAME / REDIS_PASSWORD: credentials for Cluster and Sentinel-managed nodes (single Redis: in REDIS_URL). */
    readonly username: string | undefined;
    readonly password: string | undefined;
    /** REDIS_SENTINEL_PASSWORD: for sentinels that require AUTH. */
    readonly sentinelPassword: string | undefined;
    /**
     * REDIS_MIN_REPLICAS_TO_ACK: a write (revocation, issued token) is acknowledged only once this
     * many replicas have it (Redis WAIT); fewer in time is an error to the caller. Default 1 with
     * Sentinel (a failover must not lose a revocation), 0 otherwise.
     */
    readonly minReplicasToAck: number;
    /** REDIS_REPLICA_ACK_TIMEOUT_MS: how long WAIT waits for the replicas. Default 500. */
    readonly replicaAckTimeoutMs: number;
    /** Milliseconds after which a Redis command fails (a half-open socket must not hang a request). */
    readonly commandTimeoutMs: number;
    readonly keyPrefix: string;
    /**
     * REDIS_ALLOW_EVICTION_POLICY: maxmemory-policy values accepted besides `noeviction`
     * (comma-separated), each with a warning at every start. Default none: in production the
     * API refuses to start on any other policy (Redis would evict revocations).
     */
    readonly allowEvictionPolicies: readonly string[];
    /**
     * REDIS_DATA_LOSS: what to do when Redis is found to have lost the data behind
     * revocations. `refuse-old-tokens` (default): every token issued before the loss is
     * refused until it expires, by every instance. `ignore`: log and count it only.
     */
    readonly dataLoss: DataLossMode;
    /** REDIS_DATA_LOSS_CHECK_MS: how often the data markers are read. Default 1000. */
    readonly dataLossCheckIntervalMs: number;
  };
  readonly jwt: {
    /** JWT_ALGORITHM: HS256 (default, JWT_SECRET), RS256, ES256 or EdDSA (JWT_PRIVATE_KEY, JWT_PUBLIC_KEY). */
    readonly algorithm: JwtAlgorithm;
    /**
     * Signing key, verification keys (current, then JWT_PREVIOUS_SECRETS or
     * JWT_PREVIOUS_PUBLIC_KEYS) and the JWKS, built once as KeyObjects: jsonwebtoken
     * verifies ~40x faster with a KeyObject than with a string.
     */
    readonly keys: JwtKeys;
    /** True when no JWT_SECRET was given and a random one was generated. */
    readonly generatedSecret: boolean;
    readonly issuer: string;
    readonly audience: string;
    readonly ttlSeconds: number;
    readonly clockToleranceSeconds: number;
    /**
     * MAX_CLOCK_SKEW: seconds this host's clock may be from Redis' before the instance refuses
     * tokens (503). Revocations are kept that much longer than exp + clock tolerance. Default 10.
     */
    readonly maxClockSkewSeconds: number;
    /** CLOCK_SKEW_CHECK_MS: how often the skew against Redis is measured. Default 10000. */
    readonly clockSkewCheckIntervalMs: number;
    /** JWT_VERIFY_CACHE_SIZE: verified tokens remembered by the verifier (0: none). Default 10,000. */
    readonly verifyCacheSize: number;
  };
  readonly http: {
    /** Largest accepted request body, in bytes. */
    readonly maxBodyBytes: number;
    /**
     * TRUST_PROXY: how many reverse proxies in front of the API append to X-Forwarded-For.
     * 0 (default): X-Forwarded-For is ignored and the client address is the socket's.
     */
    readonly trustProxyHops: number;
    /** HTTP server limits (src/server/http-limits.ts, docs/security.md). */
    readonly limits: HttpLimits;
  };
  /** CORS_ORIGINS: which other origins' browser apps may call the API (src/server/cors.ts). Default none. */
  readonly cors: CorsPolicy;
  /** Limits on GraphQL documents and requests (see docs/security.md). */
  readonly graphql: {
    /** GRAPHQL_MAX_DEPTH, default 10. */
    readonly maxDepth: number;
    /** GRAPHQL_MAX_ALIASES, default 15. */
    readonly maxAliases: number;
    /** GRAPHQL_MAX_TOKENS: lexer tokens per document, default 1000. */
    readonly maxTokens: number;
    /** GRAPHQL_MAX_COST, default 5000 (graphql-armor's cost model). */
    readonly maxCost: number;
    /** GRAPHQL_MAX_DIRECTIVES, default 50. */
    readonly maxDirectives: number;
    /** GRAPHQL_ALLOW_BATCHING: accept a JSON array of operations in one POST. Default false. */
    readonly allowBatchedRequests: boolean;
    /** GRAPHQL_INTROSPECTION: default on in development, off in production. */
    readonly introspection: boolean;
    /** "Did you mean ...?" suggestions in validation errors: hidden in production. */
    readonly hideSuggestions: boolean;
    /** GRAPHQL_MAX_DOCUMENT_BYTES: largest query document (UTF-8 bytes, comments included), checked before parsing. Default 32768. */
    readonly maxDocumentBytes: number;
    /** GRAPHQL_DOCUMENT_CACHE_BYTES: what Apollo's parsed-document cache may keep, source text and tokens counted. Default 16 MiB. */
    readonly documentCacheBytes: number;
  };
  /** The in-process cache in front of the token store (src/revocation/cached-store.ts). */
  readonly revocationCache: {
    /**
     * REVOCATION_CACHE_TTL_MS: how long a "not revoked" answer is reused. Default 0: never,
     * every request with a token asks the store. Above 0 it opens a window: a token revoked
     * on another instance is still accepted here for up to this long ("revoked" answers are
     * always cached until the token expires: that is safe).
     */
    readonly notRevokedTtlMs: number;
    /** REVOCATION_CACHE_MAX_ENTRIES: answers kept per cache (revoked, not revoked). Default 10000. */
    readonly maxEntries: number;
  };
  /** Our operator mutations (schema/admin.graphql, docs/operators.md). */
  readonly admin: {
    /**
     * ADMIN_FRESH_AUTH_MAX_AGE: seconds. When set, cancelAllUserTokens and setUserDisabled also
     * need a password check (auth_time) at most this old, as if they carried
     * `@requiresFreshAuth(maxAge: N)`. Default unset: off.
     */
    readonly freshAuthMaxAgeSeconds: number | undefined;
  };
  /** GraphQL over WebSocket at /graphql (src/live/, docs/live.md). */
  readonly live: {
    /**
     * WS_MAX_CONNECTIONS: open sockets per process; past it a new one is closed with 1013. 0 turns
     * WebSocket off. Default HTTP_MAX_CONNECTIONS - HTTP_RESERVED_CONNECTIONS (900); a value above
     * that is refused at start: upgraded sockets count against HTTP_MAX_CONNECTIONS.
     */
    readonly maxConnections: number;
    /** WS_MAX_CONNECTIONS_PER_ADDRESS: open sockets per client address (IPv6: per /64; TRUST_PROXY honoured); past it close 1013. Default 50. */
    readonly maxConnectionsPerAddress: number;
    /** WS_MAX_ANONYMOUS_CONNECTIONS: sockets without a token, all addresses together; past it close 1013. Default half of WS_MAX_CONNECTIONS. */
    readonly maxAnonymousConnections: number;
    /** WS_ANONYMOUS_IDLE_MS: an anonymous socket with no operation for this long is closed (1000). Default 30000. */
    readonly anonymousIdleMs: number;
    /** WS_MAX_OPERATIONS_PER_SECOND: operations a socket may start per second (token bucket, burst of one second); above it RATE_LIMITED, and close 4429 for a socket that keeps going. Default 50. */
    readonly maxOperationsPerSecond: number;
    /** WS_MAX_SUBSCRIPTIONS_PER_SOCKET: operations running at once on one socket. Default 20. */
    readonly maxSubscriptionsPerSocket: number;
    /** WS_CONNECTION_INIT_TIMEOUT_MS: time allowed for connection_init (then close 4408). Default 3000. */
    readonly connectionInitTimeoutMs: number;
    /** WS_KEEPALIVE_MS: ping interval; a socket silent for two of them is dropped. 0: no pings. Default 12000. */
    readonly keepAliveMs: number;
    /** WS_RECHECK_INTERVAL_SECONDS: every socket re-checked against the store this often (a safety net under the events). 0: never. Default 60. */
    readonly recheckIntervalSeconds: number;
  };
  /** Sessions and refresh tokens (src/sessions/). */
  readonly sessions: {
    /** REFRESH_TOKEN_TTL: seconds a session lives at most (absolute). Default 2592000 (30 days). */
    readonly refreshTokenTtlSeconds: number;
    /** SESSION_IDLE_TTL: seconds a session lives without a refresh. Default 604800 (7 days). */
    readonly idleTtlSeconds: number;
    /** REFRESH_REUSE_GRACE_SECONDS: the replaced refresh token still works this long (0: off). Default 10. */
    readonly reuseGraceSeconds: number;
    /** SESSIONS_MAX_PER_USER: live sessions per user. Default 50. */
    readonly maxPerUser: number;
    /** SESSIONS_LIMIT_POLICY: evict-oldest (default: the least recently used session ends) or refuse-new (SESSION_LIMIT_REACHED). */
    readonly limitPolicy: 'evict-oldest' | 'refuse-new';
    /** REFRESH_MAX_FAILURES_PER_ADDRESS: failed refreshSession calls per client address in a window (then 429). Default 100. */
    readonly maxRefreshFailuresPerAddress: number;
    /** REFRESH_FAILURE_WINDOW: seconds, default 900. */
    readonly refreshFailureWindowSeconds: number;
  };
  /** Sign-in brute-force limits: failures counted in a fixed window, in Redis when there is one. */
  readonly signIn: {
    /** SIGNIN_MAX_FAILURES_PER_USERNAME, default 10. */
    readonly maxFailuresPerUsername: number;
    /** SIGNIN_MAX_FAILURES_PER_ADDRESS, default 100. */
    readonly maxFailuresPerAddress: number;
    /** SIGNIN_FAILURE_WINDOW: seconds, default 900 (15 minutes). */
    readonly windowSeconds: number;
    /** SIGNIN_MAX_PER_USERNAME: successful sign-ins per username in SIGNIN_SUCCESS_WINDOW. Default 30. */
    readonly maxSuccessesPerUsername: number;
    /** SIGNIN_MAX_PER_ADDRESS: successful sign-ins per client address in SIGNIN_SUCCESS_WINDOW. Default 300. */
    readonly maxSuccessesPerAddress: number;
    /** SIGNIN_SUCCESS_WINDOW: seconds, default 3600. */
    readonly successWindowSeconds: number;
  };
  /** signUp limit per client address (every attempt counts), in Redis when there is one. */
  readonly signUp: {
    /** SIGNUP_MAX_PER_ADDRESS, default 10. */
    readonly maxPerAddress: number;
    /** SIGNUP_WINDOW: seconds, default 3600. */
    readonly windowSeconds: number;
  };
  /**
   * Token introspection (RFC 7662) and revocation (RFC 7009) for other services:
   * POST /oauth/introspect and /oauth/revoke (src/oauth/, docs/interop.md).
   */
  readonly oauth: {
    /**
     * OAUTH_CLIENTS (`id:secret,id:secret`) or OAUTH_CLIENTS_FILE (one `id:secret` a line):
     * the clients allowed to call them, with HTTP Basic. None (default): both endpoints answer 404.
     */
    readonly clients: readonly OAuthClientCredentials[];
    /** OAUTH_MAX_REQUESTS_PER_CLIENT: requests a second per client id, per instance. Default 2000. */
    readonly maxRequestsPerClient: number;
    /** OAUTH_MAX_REQUESTS_PER_ADDRESS: requests a second per client address (counted before authentication), per instance. Default 2000. */
    readonly maxRequestsPerAddress: number;
    /** OAUTH_MAX_AUTH_FAILURES_PER_ADDRESS: failed client authentications a minute per address, per instance. Default 10. */
    readonly maxAuthFailuresPerAddress: number;
  };
  /** The Prometheus listener, apart from the API port (src/server/metrics-listener.ts). */
  readonly metrics: {
    /** METRICS_PORT: unset, no metrics listener; 0, any free port. */
    readonly port: number | undefined;
    /** METRICS_HOST, default 127.0.0.1 (loopback: scraped from the same host or pod). */
    readonly host: string;
  };
}

/** Limits of the HTTP server, each with an env override (see docs/security.md). */
export interface HttpLimits {
  /** HTTP_HEADERS_TIMEOUT_MS: time to receive a request's headers. Default 10000. */
  readonly headersTimeoutMs: number;
  /** HTTP_REQUEST_TIMEOUT_MS: time to receive a whole request (headers and body). Default 30000. */
  readonly requestTimeoutMs: number;
  /** HTTP_KEEP_ALIVE_TIMEOUT_MS: how long an idle kept-alive connection stays open. Default 5000. */
  readonly keepAliveTimeoutMs: number;
  /** HTTP_MAX_CONNECTIONS: open connections, upgraded WebSocket ones included; above it new ones are closed at once. Default 1000. */
  readonly maxConnections: number;
  /**
   * HTTP_RESERVED_CONNECTIONS: connections WebSocket sockets can never take (WS_MAX_CONNECTIONS
   * must fit under HTTP_MAX_CONNECTIONS minus this). Default a tenth of HTTP_MAX_CONNECTIONS (100).
   */
  readonly reservedConnections: number;
  /** HTTP_MAX_HEADER_BYTES: total size of a request's headers. Default 131072 (a hostile 64 KB token still reaches the verifier). */
  readonly maxHeaderBytes: number;
}

/** One client of the introspection and revocation endpoints (OAUTH_CLIENTS). */
export interface OAuthClientCredentials {
  readonly id: string;
  readonly secret: string;
}

/** The Redis topology in use. */
export type RedisMode = 'none' | 'single' | 'cluster' | 'sentinel';

/** A `host:port` pair of REDIS_CLUSTER_NODES or REDIS_SENTINELS. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Warnings raised while loading; main logs them once the logger exists. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

/** The token times: ACCESS_TOKEN_TTL, JWT_CLOCK_TOLERANCE, MAX_CLOCK_SKEW, CLOCK_SKEW_CHECK_MS. */
export type TokenTimes = Pick<Config['jwt'], 'ttlSeconds' | 'clockToleranceSeconds' | 'maxClockSkewSeconds' | 'clockSkewCheckIntervalMs'>;

/** What the operator's command line reads of the server's environment. */
export interface OperatorConfig {
  readonly redis: Config['redis'];
  /** The lifetimes that the session store's writes depend on (how long a cutoff is kept, ...). */
  readonly sessions: Config['sessions'];
  readonly jwt: TokenTimes;
}
