/**
 * The only module that reads process.env: parse, validate, freeze (the types are in
 * config-types.ts, the values derived from them in derived.ts).
 */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { asymmetricKeys, hmacKeys, JWT_ALGORITHMS, type JwtAlgorithm, type JwtKeys } from './jwt-keys.js';
import { ConfigError } from '../errors.js';
import { parseCorsOrigins } from './cors-policy.js';
import type { Config, DataLossMode, HostPort, LoadedConfig, OAuthClientCredentials, OperatorConfig, RedisMode, TokenTimes } from './config-types.js';

type Env = Record<string, string | undefined>;

/** Shortest accepted client secret: as JWT_SECRET, 32 characters (`openssl rand -base64 32` gives 44). */
export const OAUTH_MIN_SECRET_LENGTH = 32;

/**
 * OAUTH_CLIENTS (`id:secret` pairs separated by commas) or OAUTH_CLIENTS_FILE (the same pairs,
 * one a line or separated by commas; `#` starts a comment line). A client id is 1 to 128
 * printable ASCII characters without `:` or `,`; a secret at least 32 printable ASCII characters
 * without `,` (it may contain `:`). Errors never quote a secret.
 */
function oauthClients(env: Env): OAuthClientCredentials[] {
  const inline = env.OAUTH_CLIENTS?.trim();
  const file = env.OAUTH_CLIENTS_FILE?.trim();
  if (inline && file) throw new ConfigError('Set only one of OAUTH_CLIENTS and OAUTH_CLIENTS_FILE');
  let text = inline ?? '';
  const source = file ? 'OAUTH_CLIENTS_FILE' : 'OAUTH_CLIENTS';
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`OAUTH_CLIENTS_FILE could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): ${file}`);
    }
  }
  const entries = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const clients: OAuthClientCredentials[] = [];
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon === -1 ? entry : entry.slice(0, colon);
    const secret = colon === -1 ? '' : entry.slice(colon + 1);
    // The id may be quoted: it is no secret. The secret never is.
    const label = /^[\x21-\x7e]{1,128}$/.test(id) ? `client "${id}"` : `entry ${index + 1}`;
    if (colon <= 0 || !/^[\x21-\x7e]{1,128}$/.test(id) || id.includes(',')) {
      throw new ConfigError(`${source}: ${label} must be id:secret, the id 1 to 128 printable ASCII characters without ":" or ","`);
    }
    if (secret.length < OAUTH_MIN_SECRET_LENGTH || secret.length > 1024 || !/^[\x21-\x7e]+$/.test(secret)) {
      throw new ConfigError(
        `${source}: the secret of ${label} must be ${OAUTH_MIN_SECRET_LENGTH} to 1024 printable ASCII characters without spaces or "," (e.g. openssl rand -base64 32)`,
      );
    }
    if (seen.has(id)) throw new ConfigError(`${source}: client "${id}" is listed twice`);
    seen.add(id);
    clients.push({ id, secret });
  });
  return clients;
}


const EVICTION_POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
] as const;

function evictionPolicies(env: Env): string[] {
  const raw = env.REDIS_ALLOW_EVICTION_POLICY?.trim();
  if (!raw) return [];
  return raw.split(',').map((entry) => {
    const policy = entry.trim().toLowerCase();
    if (!(EVICTION_POLICIES as readonly string[]).includes(policy)) {
      throw new ConfigError(`REDIS_ALLOW_EVICTION_POLICY must list maxmemory-policy values (${EVICTION_POLICIES.join(', ')}), got "${entry.trim()}"`);
    }
    return policy;
  });
}

function dataLossMode(env: Env): DataLossMode {
  const raw = env.REDIS_DATA_LOSS?.trim() || 'refuse-old-tokens';
  if (raw !== 'refuse-old-tokens' && raw !== 'ignore') {
    throw new ConfigError(`REDIS_DATA_LOSS must be refuse-old-tokens or ignore, got "${raw}"`);
  }
  return raw;
}

function hostPorts(env: Env, name: string): HostPort[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  return raw.split(',').map((entry) => {
    const item = entry.trim();
    // host:port, [ipv6]:port
    const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(item);
    const port = match ? Number(match[3]) : NaN;
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(`${name} must be a comma-separated list of host:port, got "${item}"`);
    }
    return { host: (match[1] ?? match[2]) as string, port };
  });
}

/**
 * JWT_PREVIOUS_SECRETS: retired HS256 secrets, separated by commas (secrets made by
 * `openssl rand -base64 48` contain none), each at least 32 bytes like JWT_SECRET.
 */
function parsePreviousSecrets(text: string): KeyObject[] {
  return text
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret.length > 0)
    .map((secret, index) => {
      if (Buffer.byteLength(secret, 'utf8') < 32) throw new ConfigError(`JWT_PREVIOUS_SECRETS[${index}] must be at least 32 bytes, like JWT_SECRET`);
      return createSecretKey(Buffer.from(secret, 'utf8'));
    });
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

/**
 * Reads and validates the environment. Throws {@link ConfigError} with one clear line on
 * any misconfiguration, so the process refuses to start rather than fail at the first request.
 */
export function loadConfig(env: Env = process.env): LoadedConfig {
  const warnings: string[] = [];
  const production = env.NODE_ENV === 'production';
  const redis = loadRedisConfig(env);
  const redisMode = redis.mode;
  if (production && redisMode === 'none') {
    throw new ConfigError(
      'REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS) is required when NODE_ENV=production: revocations must be shared and survive restarts',
    );
  }
  if (redisMode === 'none') {
    warnings.push(
      'REDIS_URL is not set: using the EMBEDDED IN-PROCESS token store. Revocations live only in this process and are lost on restart; other instances do not see them. Set REDIS_URL for anything but development.',
    );
  }

  const algorithm = (env.JWT_ALGORITHM?.trim() || 'HS256') as JwtAlgorithm;
  if (!JWT_ALGORITHMS.includes(algorithm)) {
    throw new ConfigError(`JWT_ALGORITHM must be one of ${JWT_ALGORITHMS.join(', ')}, got "${env.JWT_ALGORITHM}"`);
  }
  const secret = env.JWT_SECRET;
  const previousSecrets = env.JWT_PREVIOUS_SECRETS?.trim();
  let keys: JwtKeys;
  let generatedSecret = false;
  if (algorithm !== 'HS256') {
    if (previousSecrets) {
      throw new ConfigError(`JWT_PREVIOUS_SECRETS is for HS256; with ${algorithm}, list retired keys in JWT_PREVIOUS_PUBLIC_KEYS`);
    }
    if (!env.JWT_PRIVATE_KEY?.trim()) throw new ConfigError(`JWT_ALGORITHM=${algorithm} needs JWT_PRIVATE_KEY (PEM)`);
    keys = asymmetricKeys({
      algorithm,
      privateKeyPem: env.JWT_PRIVATE_KEY,
      publicKeyPem: env.JWT_PUBLIC_KEY,
      previousPublicKeysPem: env.JWT_PREVIOUS_PUBLIC_KEYS,
    });
  } else {
    let key: KeyObject;
    if (secret === undefined || secret === '') {
      if (production) throw new ConfigError('JWT_SECRET is required when NODE_ENV=production (at least 32 bytes)');
      if (previousSecrets) throw new ConfigError('JWT_PREVIOUS_SECRETS needs JWT_SECRET (the current secret)');
      key = createSecretKey(randomBytes(32));
      generatedSecret = true;
      warnings.push('JWT_SECRET is not set: generated a random one. Tokens will not survive a restart nor be accepted by other instances.');
    } else {
      if (Buffer.byteLength(secret, 'utf8') < 32) {
        throw new ConfigError('JWT_SECRET must be at least 32 bytes (HS256 needs a key as long as its hash: RFC 7518 §3.2)');
      }
      key = createSecretKey(Buffer.from(secret, 'utf8'));
    }
    // The secret and the retired ones, each with a kid that reveals nothing of it; no JWKS.
    keys = hmacKeys(key, previousSecrets ? parsePreviousSecrets(previousSecrets) : []);
  }

  const issuer = env.JWT_ISSUER?.trim() || 'graphql-revoke';
  const audience = env.JWT_AUDIENCE?.trim() || 'graphql-revoke';

  const httpMaxConnections = integer(env, 'HTTP_MAX_CONNECTIONS', 1000, 1, 1_000_000);
  const reservedConnections = integer(env, 'HTTP_RESERVED_CONNECTIONS', Math.max(1, Math.floor(httpMaxConnections / 10)), 1, 1_000_000);
  if (reservedConnections >= httpMaxConnections) {
    throw new ConfigError(`HTTP_RESERVED_CONNECTIONS (${reservedConnections}) must be below HTTP_MAX_CONNECTIONS (${httpMaxConnections})`);
  }
  const live = liveSettings(env, httpMaxConnections - reservedConnections, httpMaxConnections, reservedConnections);

  const config: Config = {
    production,
    host: env.HOST?.trim() || '0.0.0.0',
    port: integer(env, 'PORT', 4000, 0, 65535),
    logLevel: env.LOG_LEVEL?.trim() || 'info',
    logFormat: logFormat(env.LOG_FORMAT),
    redis,
    jwt: {
      algorithm,
      keys,
      generatedSecret,
      issuer,
      audience,
      ...tokenTimes(env),
      verifyCacheSize: integer(env, 'JWT_VERIFY_CACHE_SIZE', 10_000, 0, 10_000_000),
    },
    http: {
      maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 1_048_576, 1024, 104_857_600),
      trustProxyHops: trustProxy(env),
      limits: {
        headersTimeoutMs: integer(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
        requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
        keepAliveTimeoutMs: integer(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
        maxConnections: httpMaxConnections,
        reservedConnections,
        maxHeaderBytes: integer(env, 'HTTP_MAX_HEADER_BYTES', 131_072, 1024, 1_048_576),
      },
    },
    cors: { origins: parseCorsOrigins(env.CORS_ORIGINS) },
    graphql: {
      maxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', 10, 1, 1000),
      maxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 10_000),
      maxTokens: integer(env, 'GRAPHQL_MAX_TOKENS', 1000, 10, 1_000_000),
      maxCost: integer(env, 'GRAPHQL_MAX_COST', 5000, 1, 10_000_000),
      maxDirectives: integer(env, 'GRAPHQL_MAX_DIRECTIVES', 50, 0, 10_000),
      allowBatchedRequests: boolean(env, 'GRAPHQL_ALLOW_BATCHING', false),
      introspection: boolean(env, 'GRAPHQL_INTROSPECTION', !production),
      hideSuggestions: production,
      maxDocumentBytes: integer(env, 'GRAPHQL_MAX_DOCUMENT_BYTES', 32_768, 64, 10_485_760),
      documentCacheBytes: integer(env, 'GRAPHQL_DOCUMENT_CACHE_BYTES', 16_777_216, 0, 1_073_741_824),
    },
    revocationCache: {
      notRevokedTtlMs: integer(env, 'REVOCATION_CACHE_TTL_MS', 0, 0, 60_000),
      maxEntries: integer(env, 'REVOCATION_CACHE_MAX_ENTRIES', 10_000, 1, 10_000_000),
    },
    live,
    sessions: sessionSettings(env),
    signIn: {
      maxFailuresPerUsername: integer(env, 'SIGNIN_MAX_FAILURES_PER_USERNAME', 10, 1, 1_000_000),
      maxFailuresPerAddress: integer(env, 'SIGNIN_MAX_FAILURES_PER_ADDRESS', 100, 1, 1_000_000),
      windowSeconds: integer(env, 'SIGNIN_FAILURE_WINDOW', 900, 1, 86_400),
      maxSuccessesPerUsername: integer(env, 'SIGNIN_MAX_PER_USERNAME', 30, 1, 1_000_000),
      maxSuccessesPerAddress: integer(env, 'SIGNIN_MAX_PER_ADDRESS', 300, 1, 1_000_000),
      successWindowSeconds: integer(env, 'SIGNIN_SUCCESS_WINDOW', 3600, 1, 86_400),
    },
    signUp: {
      maxPerAddress: integer(env, 'SIGNUP_MAX_PER_ADDRESS', 10, 1, 1_000_000),
      windowSeconds: integer(env, 'SIGNUP_WINDOW', 3600, 1, 86_400),
    },
    oauth: {
      clients: oauthClients(env),
      maxRequestsPerClient: integer(env, 'OAUTH_MAX_REQUESTS_PER_CLIENT', 2000, 1, 10_000_000),
      maxRequestsPerAddress: integer(env, 'OAUTH_MAX_REQUESTS_PER_ADDRESS', 2000, 1, 10_000_000),
      maxAuthFailuresPerAddress: integer(env, 'OAUTH_MAX_AUTH_FAILURES_PER_ADDRESS', 10, 1, 1_000_000),
    },
    admin: {
      freshAuthMaxAgeSeconds: env.ADMIN_FRESH_AUTH_MAX_AGE?.trim() ? integer(env, 'ADMIN_FRESH_AUTH_MAX_AGE', 0, 0, 31_536_000) : undefined,
    },
    metrics: {
      port: env.METRICS_PORT?.trim() ? integer(env, 'METRICS_PORT', 0, 0, 65535) : undefined,
      host: env.METRICS_HOST?.trim() || '127.0.0.1',
    },
  };
  if (config.http.limits.headersTimeoutMs > config.http.limits.requestTimeoutMs) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)');
  }
  if (config.metrics.port !== undefined && config.metrics.port !== 0 && config.metrics.port === config.port) {
    throw new ConfigError('METRICS_PORT must differ from PORT: metrics have their own listener, the API port does not serve them');
  }
  if (config.redis.mode !== 'none' && config.redis.dataLoss === 'ignore') {
    warnings.push(
      'REDIS_DATA_LOSS=ignore: if Redis loses its data (FLUSHALL, a restart without persistence, a failover to a replica that missed writes), revoked tokens work again until they expire; the loss is only logged.',
    );
  }
  if (config.revocationCache.notRevokedTtlMs > 0) {
    warnings.push(
      `REVOCATION_CACHE_TTL_MS=${config.revocationCache.notRevokedTtlMs}: a token revoked on another instance stays accepted on this one for up to that many ms.`,
    );
  }
  return { config: deepFreeze(config), warnings };
}

/**
 * The Redis settings alone (REDIS_URL or REDIS_CLUSTER_NODES or REDIS_SENTINELS, credentials,
 * timeouts, REDIS_KEY_PREFIX), validated like {@link loadConfig} does: what the command line
 * needs of the server's environment. Throws {@link ConfigError}.
 */
export function loadRedisConfig(env: Env = process.env): Config['redis'] {
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  // ioredis ignores any other scheme and dials something else (http://host: "connect ECONNREFUSED /").
  if (redisUrl !== undefined && !/^rediss?:\/\//i.test(redisUrl)) {
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss:// (TLS), got "${redisUrl.replace(/\/\/[^@/]*@/, '//***@').slice(0, 80)}"`);
  }
  const clusterNodes = hostPorts(env, 'REDIS_CLUSTER_NODES');
  const sentinels = hostPorts(env, 'REDIS_SENTINELS');
  const sentinelName = env.REDIS_SENTINEL_NAME?.trim() || undefined;
  const topologies = [redisUrl && 'REDIS_URL', clusterNodes.length > 0 && 'REDIS_CLUSTER_NODES', sentinels.length > 0 && 'REDIS_SENTINELS'].filter(Boolean);
  if (topologies.length > 1) {
    throw new ConfigError(`Set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS (got ${topologies.join(' and ')})`);
  }
  if (sentinels.length > 0 && !sentinelName) {
    throw new ConfigError('REDIS_SENTINELS needs REDIS_SENTINEL_NAME: the name of the master the sentinels monitor');
  }
  const redisMode: RedisMode = redisUrl ? 'single' : clusterNodes.length > 0 ? 'cluster' : sentinels.length > 0 ? 'sentinel' : 'none';
  return {
    mode: redisMode,
    url: redisUrl,
    clusterNodes,
    sentinels,
    sentinelName: redisMode === 'sentinel' ? sentinelName : undefined,
    username: env.REDIS_USERNAME || undefined,
    password: env.REDIS_PASSWORD || undefined,
    sentinelPassword: env.REDIS_SENTINEL_PASSWORD || undefined,
    minReplicasToAck: integer(env, 'REDIS_MIN_REPLICAS_TO_ACK', redisMode === 'sentinel' ? 1 : 0, 0, 16),
    replicaAckTimeoutMs: integer(env, 'REDIS_REPLICA_ACK_TIMEOUT_MS', 500, 10, 60_000),
    commandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 500, 10, 60_000),
    keyPrefix: env.REDIS_KEY_PREFIX?.trim() || 'gr',
    allowEvictionPolicies: evictionPolicies(env),
    dataLoss: dataLossMode(env),
    dataLossCheckIntervalMs: integer(env, 'REDIS_DATA_LOSS_CHECK_MS', 1000, 100, 60_000),
  };
}

function tokenTimes(env: Env): TokenTimes {
  return {
    ttlSeconds: integer(env, 'ACCESS_TOKEN_TTL', 900, 1, 31_536_000),
    clockToleranceSeconds: integer(env, 'JWT_CLOCK_TOLERANCE', 5, 0, 300),
    maxClockSkewSeconds: integer(env, 'MAX_CLOCK_SKEW', 10, 1, 300),
    clockSkewCheckIntervalMs: integer(env, 'CLOCK_SKEW_CHECK_MS', 10_000, 1000, 3_600_000),
  };
}

/**
 * The WS_* settings. Upgraded sockets are HTTP connections: WS_MAX_CONNECTIONS must leave
 * HTTP_RESERVED_CONNECTIONS of HTTP_MAX_CONNECTIONS to plain requests, or a flood of idle
 * sockets locks every client out.
 */
function liveSettings(env: Env, room: number, httpMax: number, reserved: number): Config['live'] {
  const maxConnections = integer(env, 'WS_MAX_CONNECTIONS', room, 0, 1_000_000);
  if (maxConnections > room) {
    throw new ConfigError(
      `WS_MAX_CONNECTIONS (${maxConnections}) must not exceed HTTP_MAX_CONNECTIONS (${httpMax}) minus HTTP_RESERVED_CONNECTIONS (${reserved}) = ${room}: upgraded sockets count against HTTP_MAX_CONNECTIONS`,
    );
  }
  const maxAnonymousConnections = integer(env, 'WS_MAX_ANONYMOUS_CONNECTIONS', Math.floor(maxConnections / 2), 0, 1_000_000);
  if (maxAnonymousConnections > maxConnections) {
    throw new ConfigError(`WS_MAX_ANONYMOUS_CONNECTIONS (${maxAnonymousConnections}) must not exceed WS_MAX_CONNECTIONS (${maxConnections})`);
  }
  return {
    maxConnections,
    maxConnectionsPerAddress: integer(env, 'WS_MAX_CONNECTIONS_PER_ADDRESS', 50, 1, 1_000_000),
    maxAnonymousConnections,
    anonymousIdleMs: integer(env, 'WS_ANONYMOUS_IDLE_MS', 30_000, 100, 3_600_000),
    maxOperationsPerSecond: integer(env, 'WS_MAX_OPERATIONS_PER_SECOND', 50, 1, 100_000),
    maxSubscriptionsPerSocket: integer(env, 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET', 20, 1, 10_000),
    connectionInitTimeoutMs: integer(env, 'WS_CONNECTION_INIT_TIMEOUT_MS', 3000, 100, 60_000),
    keepAliveMs: integer(env, 'WS_KEEPALIVE_MS', 12_000, 0, 600_000),
    recheckIntervalSeconds: integer(env, 'WS_RECHECK_INTERVAL_SECONDS', 60, 0, 86_400),
  };
}

/** REFRESH_TOKEN_TTL, SESSION_IDLE_TTL, REFRESH_REUSE_GRACE_SECONDS. */
function sessionSettings(env: Env): Config['sessions'] {
  return {
    refreshTokenTtlSeconds: integer(env, 'REFRESH_TOKEN_TTL', 2_592_000, 1, 315_360_000),
    idleTtlSeconds: integer(env, 'SESSION_IDLE_TTL', 604_800, 1, 315_360_000),
    reuseGraceSeconds: integer(env, 'REFRESH_REUSE_GRACE_SECONDS', 10, 0, 3600),
    maxPerUser: integer(env, 'SESSIONS_MAX_PER_USER', 50, 1, 1_000_000),
    limitPolicy: sessionLimitPolicy(env),
    maxRefreshFailuresPerAddress: integer(env, 'REFRESH_MAX_FAILURES_PER_ADDRESS', 100, 1, 1_000_000),
    refreshFailureWindowSeconds: integer(env, 'REFRESH_FAILURE_WINDOW', 900, 1, 86_400),
  };
}

/** SESSIONS_LIMIT_POLICY: evict-oldest (default) or refuse-new. */
function sessionLimitPolicy(env: Env): 'evict-oldest' | 'refuse-new' {
  const raw = env.SESSIONS_LIMIT_POLICY?.trim();
  if (raw === undefined || raw === '') return 'evict-oldest';
  if (raw === 'evict-oldest' || raw === 'refuse-new') return raw;
  throw new ConfigError(`SESSIONS_LIMIT_POLICY must be evict-oldest or refuse-new, got ${JSON.stringify(raw.slice(0, 40))}`);
}

/**
 * The Redis settings and the token and session lifetimes, validated as {@link loadConfig}
 * does, and nothing of the keys: the command line acts on the server's store as the server
 * would, without its secrets. Throws {@link ConfigError}.
 */
export function loadOperatorConfig(env: Env = process.env): OperatorConfig {
  return deepFreeze({ redis: loadRedisConfig(env), sessions: sessionSettings(env), jwt: tokenTimes(env) });
}

/** TRUST_PROXY: unset, "false" or 0 trusts no proxy; N trusts N proxies; "true" means 1. */
function trustProxy(env: Env): number {
  const raw = env.TRUST_PROXY?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return 0;
  if (raw === 'true') return 1;
  return integer(env, 'TRUST_PROXY', 0, 0, 16);
}

function deepFreeze<T extends object>(object: T): T {
  for (const value of Object.values(object)) {
    if (value && typeof value === 'object' && !Object.isFrozen(value) && (value.constructor === Object || Array.isArray(value))) deepFreeze(value);
  }
  return Object.freeze(object);
}

/** LOG_FORMAT: auto (default), json or pretty. */
function logFormat(raw: string | undefined): Config['logFormat'] {
  const value = raw?.trim() || 'auto';
  if (value !== 'auto' && value !== 'json' && value !== 'pretty') throw new ConfigError(`LOG_FORMAT must be auto, json or pretty, got "${value}"`);
  return value;
}
