import { safeText } from '../admin/log-text.js';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createPasswordHasher, type PasswordHasher } from '../auth/password.js';
import type { RefreshLimiter, SignInLimiter } from '../auth/sign-in-limiter.js';
import type { SignUpLimiter } from '../auth/sign-up-limiter.js';
import { systemClock, type Clock } from '../auth/token.js';
import { createTokenIssuer, type TokenIssuer } from '../auth/token-issuer.js';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import type { Config } from '../config.js';
import { authorizationFromRequest, type AuthOutcome } from '../context/context-builder.js';
import type { GraphQLContext } from '../context/context.js';
import { createUserAdmin } from '../admin/user-admin.js';
import { authenticatedDirectiveTransformer } from '../directives/authenticated.js';
import { requiresFreshAuthDirectiveTransformer } from '../directives/requires-fresh-auth.js';
import { requiresScopesDirectiveTransformer } from '../directives/requires-scopes.js';
import type { Logger } from '../logger.js';
import type { HttpRoute, Metrics } from '../metrics.js';
import { createAdminResolvers } from '../admin/admin-resolvers.js';
import { createAuthResolvers } from '../accounts/auth-resolvers.js';
import { CachedRevocationStore } from '../revocation/cached-store.js';
import { MemoryRevocationStore } from '../revocation/memory-store.js';
import { MemorySessionStore } from '../sessions/memory-session-store.js';
import { createSessionManager } from '../sessions/session-manager.js';
import { withSessionMetrics } from '../sessions/session-metrics.js';
import { lifetimesFromConfig, type SessionStore } from '../sessions/session-store.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { typeDefs } from '../schema.js';
import type { RedisSafeguards } from '../safeguards/safeguards.js';
import type { UserStore } from '../users/user-store.js';
import { createRequestPipeline } from '../pipeline/request-pipeline.js';
import { createRequestPlugin } from './request-plugin.js';
import { createLiveConnections, type LiveConnections } from '../live/live-connections.js';
import { withRevocationEvents } from '../live/publishing-store.js';
import { withSessionEvents } from '../live/session-events.js';
import { createSessionEventResolvers } from '../live/session-subscription.js';
import { createMemoryEventBus, type LiveEventBus } from '../live/revocation-events.js';
import { clientAddress } from './client-address.js';
import { createCors } from './cors.js';
import { createHealthChecks } from './health.js';
import { applyHttpLimits, httpServerOptions } from './http-limits.js';
import { createDefaultSignInLimiter, createDefaultSignUpLimiter, refreshTokenKeys } from './security.js';
import { BodyError, handleGraphQLRequest, sendGraphQLError, sendJson } from './http-graphql.js';
import { listenOn } from './listen.js';
import { createInFlight } from './in-flight.js';
import { createServerOAuthEndpoints } from '../oauth/server-oauth.js';

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

/** The API: an HTTP server not yet listening, and the pieces tests want to reach. */
export interface AppServer {
  readonly httpServer: Server;
  readonly apollo: ApolloServer<GraphQLContext>;
  readonly issuer: TokenIssuer;
  readonly verifier: TokenVerifier;
  /** GraphQL over WebSocket on /graphql; undefined when WS_MAX_CONNECTIONS=0. */
  readonly live: LiveConnections | undefined;
  /** Listens and resolves with the URL of the GraphQL endpoint. */
  listen(port: number, host?: string): Promise<{ url: string; port: number }>;
  /** Stops taking requests, lets those in flight finish, stops Apollo (and the sign-in limiter's own Redis connection, if it opened one). Does not close the stores. */
  close(): Promise<void>;
}

/** The `extensions.reason` a refused token got, for the debug log. */
const OUTCOME_REASONS: Partial<Record<AuthOutcome, string>> = {
  invalid: 'TOKEN_INVALID',
  expired: 'TOKEN_EXPIRED',
  revoked: 'TOKEN_REVOKED',
};

/** Builds the API server (without listening): schema, Apollo, context builder, HTTP routes. */
export async function createServer(options: ServerOptions): Promise<AppServer> {
  const { config, users, logger } = options;
  const now = options.now ?? systemClock;
  // Every acknowledged revocation, whoever makes it through this server, is published for the live sockets.
  const events = options.events ?? createMemoryEventBus();
  const store = withRevocationEvents(options.revocations, {
    events,
    logger,
    now,
    ...(options.metrics ? { onPublishFailure: options.metrics.recordLiveEventPublishFailure } : {}),
  });
  const revocations =
    options.revocationCache === false
      ? store
      : new CachedRevocationStore({
          inner: store,
          notRevokedTtlMs: config.revocationCache.notRevokedTtlMs,
          maxEntries: config.revocationCache.maxEntries,
          now,
        });
  const { signing, verification } = config.jwt.keys;
  const issuer = createTokenIssuer({
    key: signing.key,
    algorithm: signing.algorithm,
    keyId: signing.kid,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlSeconds: config.jwt.ttlSeconds,
    now: options.safeguards ? options.safeguards.issuerNow(now) : now,
  });
  const verifier = createTokenVerifier({
    keys: verification,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    clockToleranceSeconds: config.jwt.clockToleranceSeconds,
    // Session tokens carry Redis' time; an instance serves while within MAX_CLOCK_SKEW of it.
    notBeforeToleranceSeconds: config.jwt.clockToleranceSeconds + config.jwt.maxClockSkewSeconds,
    cacheSize: config.jwt.verifyCacheSize,
    now,
  });

  const rawSessions =
    options.sessions ??
    (options.revocations instanceof MemoryRevocationStore
      ? new MemorySessionStore({ revocations: options.revocations, now, ...lifetimesFromConfig(config) })
      : undefined);
  if (!rawSessions) {
    throw new Error('createServer: pass `sessions` (a RedisSessionStore on the same Redis and key prefix as `revocations`)');
  }
  // Sessions created and ended, whoever does it through this server, are published too (src/live/session-events.ts).
  const sessionStore = withSessionEvents(rawSessions, {
    events,
    logger,
    now,
    ...(options.metrics ? { onPublishFailure: options.metrics.recordLiveEventPublishFailure } : {}),
  });
  const sessions = createSessionManager({
    issuer,
    store: sessionStore,
    refreshTokenKey: refreshTokenKeys(config),
    users,
    ...(options.safeguards ? { beforeIssue: options.safeguards.sessionGuards.beforeIssue, issuedAtFloorMs: options.safeguards.sessionGuards.issuedAtFloorMs } : {}),
    // Its writes go past the cache: "not revoked" answers of the user cached here go.
    ...(revocations instanceof CachedRevocationStore ? { onSessionsEnded: (userId: string) => revocations.forgetNotRevoked(userId) } : {}),
  });

  // session_events_total (started, refreshed, refresh_refused, ended), counted around the manager.
  const countedSessions = options.metrics ? withSessionMetrics(sessions, options.metrics.recordSessionEvent) : sessions;

  const defaultLimiter = options.signInLimiter && options.refreshLimiter ? undefined : createDefaultSignInLimiter(config, options.redis, logger);
  const defaultSignUpLimiter = options.signUpLimiter ? undefined : createDefaultSignUpLimiter(config, options.redis, logger);
  const resolvers = createAuthResolvers({
    issuer,
    verifier,
    revocations,
    users,
    passwords: options.passwords ?? createPasswordHasher(),
    logger,
    // An instance may be up to MAX_CLOCK_SKEW behind Redis and this one as far ahead: a token
    // past its exp here may still be accepted there.
    expiryGraceSeconds: config.jwt.clockToleranceSeconds + 2 * config.jwt.maxClockSkewSeconds,
    now,
    signInLimiter: options.signInLimiter ?? defaultLimiter?.limiter,
    refreshLimiter: options.refreshLimiter ?? defaultLimiter?.refreshLimiter,
    signUpLimiter: options.signUpLimiter ?? defaultSignUpLimiter?.limiter,
    sessions: countedSessions,
    ...(options.metrics ? { onRevocation: options.metrics.recordRevocation } : {}),
  });
  const adminResolvers = createAdminResolvers({
    admin: createUserAdmin({ users, revocations, sessions: countedSessions, logger }),
    logger,
    ...(options.metrics ? { onRevocation: options.metrics.recordRevocation } : {}),
  });
  // The contract fixes two guarded non-null lists on Query (mySessions, userSessions): an
  // anonymous or unscoped request for them gets `data: null`, as documented in docs/api.md.
  // Known, so not a warning at every start: debug.
  const onWarning = (message: string) => logger.debug({}, message);
  const adminMaxAge = config.admin.freshAuthMaxAgeSeconds;
  // The outermost transformer checks first: scopes, then a token, then freshness (a caller who
  // may not use a field is told so, not asked for their password).
  const schema = requiresScopesDirectiveTransformer(
    authenticatedDirectiveTransformer(
      requiresFreshAuthDirectiveTransformer(
        makeExecutableSchema({
          typeDefs,
          resolvers: [resolvers, adminResolvers, createSessionEventResolvers({ events })],
        }),
        {
          onWarning,
          now,
          // ADMIN_FRESH_AUTH_MAX_AGE: our operator mutations, as if they carried @requiresFreshAuth.
          ...(adminMaxAge !== undefined ? { fields: { 'Mutation.cancelAllUserTokens': adminMaxAge, 'Mutation.setUserDisabled': adminMaxAge } } : {}),
        },
      ),
      { onWarning },
    ),
    {
      onWarning,
      // Every refused admin attempt leaves an audit line (issue 18): who, which field, why.
      onRefused: (context: GraphQLContext, field, reason) => {
        const actor = context.auth.kind === 'authenticated' ? { kind: 'user', userId: safeText(context.auth.token.userId) } : { kind: 'anonymous' };
        logger.info({ audit: true, actor, field, outcome: 'refused', reason }, 'admin: refused');
      },
    },
  );


  const metrics = options.metrics;
  // During an outage every request fails the same way: one warning a second, with a count.
  let unavailableLoggedAt = 0;
  let unavailableSuppressed = 0;
  const onOutcome = (outcome: AuthOutcome, detail?: string, error?: unknown) => {
    metrics?.recordAuthOutcome(outcome);
    if (outcome === 'ok' || outcome === 'missing') return;
    if (outcome === 'unavailable') {
      const at = Date.now();
      if (at - unavailableLoggedAt < 1000) {
        unavailableSuppressed += 1;
        return;
      }
      const alsoRefused = unavailableSuppressed;
      unavailableLoggedAt = at;
      unavailableSuppressed = 0;
      logger.warn({ outcome, detail, err: error, alsoRefusedSinceLastLine: alsoRefused }, 'token check failed: store unavailable (503)');
    } else logger.debug({ outcome, reason: OUTCOME_REASONS[outcome], detail }, 'token refused');
  };
  // One pipeline for every transport (src/pipeline/request-pipeline.ts): limits, client
  // mistakes, masking and the auth context, called by the HTTP handler and the live sockets alike.
  const pipeline = createRequestPipeline({
    schema,
    verifier,
    revocations,
    lookupTimeoutMs: config.redis.commandTimeoutMs + 500,
    onOutcome,
    limits: config.graphql,
    maxDocumentBytes: config.graphql.maxDocumentBytes,
    introspection: config.graphql.introspection,
    production: config.production,
    logger,
  });
  const limits = pipeline.graphqlLimits;
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: pipeline.introspection,
    validationRules: limits.validationRules,
    // One plugin, one shared listener: subscriptions refused over HTTP, and a store failure
    // that a resolver lets through is a 503 too (src/server/request-plugin.ts).
    plugins: [...limits.plugins, createRequestPlugin<GraphQLContext>()],
    parseOptions: limits.parseOptions,
    documentStore: limits.documentStore,
    // Apollo's defaults, written out because the security of the API relies on them.
    csrfPrevention: true,
    allowBatchedHttpRequests: config.graphql.allowBatchedRequests,
    includeStacktraceInErrorResponses: !config.production,
    formatError: pipeline.formatError,
    logger,
    // The caller owns signals (main.ts drains HTTP first): Apollo's own SIGTERM handler
    // would stop it at once and fail the requests still in flight with a 500.
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  const live =
    config.live.maxConnections > 0
      ? createLiveConnections({
          schema,
          verifier,
          revocations,
          recheckStore: store,
          events,
          limits: {
            maxConnections: config.live.maxConnections,
            maxConnectionsPerAddress: config.live.maxConnectionsPerAddress,
            maxAnonymousConnections: config.live.maxAnonymousConnections,
            anonymousIdleMs: config.live.anonymousIdleMs,
            maxOperationsPerSecond: config.live.maxOperationsPerSecond,
            maxSubscriptionsPerSocket: config.live.maxSubscriptionsPerSocket,
            connectionInitTimeoutMs: config.live.connectionInitTimeoutMs,
            keepAliveMs: config.live.keepAliveMs,
            recheckIntervalMs: config.live.recheckIntervalSeconds * 1000,
            maxPayloadBytes: config.http.maxBodyBytes,
          },
          pipeline,
          clockToleranceSeconds: config.jwt.clockToleranceSeconds,
          lookupTimeoutMs: config.redis.commandTimeoutMs + 500,
          onOutcome,
          clientAddress: (req) => clientAddress(req, config.http.trustProxyHops),
          logger,
          ...(metrics ? { metrics } : {}),
          now,
        })
      : undefined;

  let draining = false;
  const health = createHealthChecks({
    revocations: store,
    timeoutMs: 1000,
    draining: () => draining,
    ...(options.safeguards ? { checks: options.safeguards.readinessChecks } : {}),
  });

  const jwks = config.jwt.keys.jwks;
  // RFC 7662 introspection and RFC 7009 revocation (src/oauth/): on when OAUTH_CLIENTS names a client.
  const oauth = createServerOAuthEndpoints({ config, verifier, revocations, sessions: countedSessions, logger, metrics, clientAddress: (req) => clientAddress(req, config.http.trustProxyHops) });

  async function ready(res: ServerResponse): Promise<void> {
    const probe = await health.readiness();
    sendJson(res, probe.status, probe.body);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const search = q === -1 ? '' : url.slice(q);
    if (oauth?.handles(path)) return oauth.handle(req, res);
    switch (path) {
      case '/graphql':
        if (req.method !== 'GET' && req.method !== 'POST') {
          res.setHeader('allow', 'GET, POST');
          return sendGraphQLError(res, 405, 'Only GET and POST are supported', 'METHOD_NOT_ALLOWED');
        }
        return handleGraphQLRequest(apollo, req, res, search, {
          maxBodyBytes: config.http.maxBodyBytes,
          pipeline,
          context: (request) =>
            pipeline.buildContext({
              authorization: authorizationFromRequest(req),
              request,
              clientAddress: () => clientAddress(req, config.http.trustProxyHops),
              userAgent: req.headers['user-agent'],
            }),
        });
      case '/.well-known/jwks.json':
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.setHeader('allow', 'GET, HEAD');
          return sendJson(res, 405, { error: 'Only GET and HEAD are supported' });
        }
        return sendJson(res, 200, jwks, { 'cache-control': 'public, max-age=300' });
      case '/healthz': {
        const probe = health.liveness();
        return sendJson(res, probe.status, probe.body);
      }
      case '/readyz':
        return ready(res);
      default:
        return sendJson(res, 404, { error: 'Not found. GraphQL is served at /graphql.' });
    }
  }

  const cors = createCors(config.cors);
  // Not a Set: see in-flight.ts (a Set's replaced tables kept every request state alive past young GCs).
  const inFlight = createInFlight();
  const httpServer = createHttpServer(
    // Timeouts, header size (by default large enough for a hostile 64 KB token to reach the
    // verifier and get a clean 401): src/server/http-limits.ts.
    httpServerOptions(config.http.limits),
    (req, res) => {
      // While draining, answer what was sent on a kept-alive socket, then let the client reconnect elsewhere.
      if (draining) res.setHeader('connection', 'close');
      res.once('close', inFlight.add(res));
      if (metrics) res.once('finish', () => metrics.recordHttpResponse(httpRoute(req.url), res.statusCode));
      if (cors.handle(req, res)) return;
      route(req, res).catch((error: unknown) => {
        if (res.headersSent) return res.destroy();
        if (error instanceof BodyError) return sendGraphQLError(res, error.status, error.message, 'BAD_REQUEST');
        logger.error({ err: error }, 'unhandled error in request');
        sendGraphQLError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
      });
    },
  );
  applyHttpLimits(httpServer, config.http.limits, logger);
  live?.attach(httpServer);

  return {
    httpServer,
    apollo,
    issuer,
    verifier,
    live,
    listen(port, host = '127.0.0.1') {
      return listenOn(httpServer, port, host, '/graphql');
    },
    async close() {
      draining = true;
      // Live sockets go first (1001): the HTTP server's close waits for every connection, upgraded ones too.
      await live?.close();
      // Requests in flight finish, on a connection that then closes: a kept-alive socket would
      // otherwise hold close() open until keepAliveTimeout.
      inFlight.forEach((res) => {
        if (!res.headersSent) res.setHeader('connection', 'close');
      });
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        // Idle keep-alive sockets would hold close() open; in-flight requests finish.
        httpServer.closeIdleConnections();
      });
      await apollo.stop();
      await defaultLimiter?.close();
      await defaultSignUpLimiter?.close();
    },
  };
}

/** The route label of http_responses_total: a bounded set, whatever the URL. */
function httpRoute(url: string | undefined): HttpRoute {
  const path = (url ?? '/').split('?', 1)[0];
  if (path === '/graphql') return 'graphql';
  return path === '/healthz' || path === '/readyz' ? 'health' : 'other';
}
