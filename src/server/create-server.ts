import type { Server } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import { createPasswordHasher } from '../auth/password.js';
import type { TokenIssuer } from '../auth/token-issuer.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Config } from '../config/index.js';
import type { GraphQLContext } from '../context/context.js';
import type { Logger } from '../logger.js';
import type { Area } from '../areas/area.js';
import { accountsArea } from '../accounts/accounts-area.js';
import { adminArea } from '../admin/admin-area.js';
import { healthArea } from '../health/health-area.js';
import { oauthArea } from '../oauth/server-oauth.js';
import { revocationArea } from '../revocation/revocation-area.js';
import { sessionsArea } from '../sessions/sessions-area.js';
import { acceptanceGraceSeconds } from '../config/derived.js';
import { createRequestPipeline, type RequestPipeline } from '../pipeline/request-pipeline.js';
import { createLiveConnections, type LiveConnections } from '../live/live-connections.js';
import { liveArea } from '../live/live-area.js';
import { createAuthOutcomeLog } from './auth-outcome-log.js';
import { buildSchema } from './build-schema.js';
import { clientAddress } from './client-address.js';
import { createHttpTransport } from './http-transport.js';
import { listenOn } from './listen.js';
import { createRequestPlugin } from './request-plugin.js';
import { createSharedPieces, type SharedPieces } from './shared-pieces.js';
import type { ServerOptions } from './server-options.js';

export type { ServerOptions } from './server-options.js';

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

/**
 * Builds the API server (without listening): the shared pieces once (stores, keys, verifier,
 * the one request pipeline), the list of areas, and the two transports over them.
 */
export async function createServer(options: ServerOptions): Promise<AppServer> {
  const { config, users, logger, metrics } = options;
  const shared = createSharedPieces(options);
  const { now, events, store, revocations, issuer, verifier, sessions } = shared;
  const onRevocation = metrics ? { onRevocation: metrics.recordRevocation } : {};
  const address = (req: Parameters<typeof clientAddress>[0]) => clientAddress(req, config.http.trustProxyHops);
  const passwords = options.passwords ?? createPasswordHasher();
  let draining = false;
  const areas: Area[] = [
    accountsArea({
      issuer,
      revocations,
      users,
      passwords,
      logger,
      now,
      signInLimiter: shared.signInLimiter,
      signUpLimiter: shared.signUpLimiter,
      sessions,
      jwks: config.jwt.keys.jwks,
    }),
    // An instance may be up to MAX_CLOCK_SKEW behind Redis and this one as far ahead: a token
    // past its exp here may still be accepted there.
    revocationArea({ verifier, revocations, logger, expiryGraceSeconds: acceptanceGraceSeconds(config.jwt), now, sessions, ...onRevocation }),
    sessionsArea({ sessions, users, passwords, signInLimiter: shared.signInLimiter, refreshLimiter: shared.refreshLimiter, logger }),
    adminArea({ users, revocations, sessions, logger, freshAuthMaxAgeSeconds: config.admin.freshAuthMaxAgeSeconds, ...onRevocation }),
    liveArea({ events }),
    healthArea({ revocations: store, timeoutMs: 1000, draining: () => draining, ...(options.safeguards ? { checks: options.safeguards.readinessChecks } : {}) }),
    // RFC 7662 introspection and RFC 7009 revocation (src/oauth/): on when OAUTH_CLIENTS names a client.
    oauthArea({ config, verifier, revocations, sessions, logger, metrics, clientAddress: address }),
  ];

  const onOutcome = createAuthOutcomeLog(logger, metrics);
  const schema = buildSchema(areas, { logger, now });
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
  const apollo = await startApollo(config, schema, pipeline, logger);
  const live = config.live.maxConnections > 0 ? createLiveConnections(liveOptions(options, shared, schema, pipeline, onOutcome, address)) : undefined;
  const http = createHttpTransport({ config, apollo, pipeline, areas, logger, metrics, draining: () => draining });
  live?.attach(http.httpServer);

  return {
    httpServer: http.httpServer,
    apollo,
    issuer,
    verifier,
    live,
    listen(port, host = '127.0.0.1') {
      return listenOn(http.httpServer, port, host, '/graphql');
    },
    async close() {
      draining = true;
      // Live sockets go first (1001): the HTTP server's close waits for every connection, upgraded ones too.
      await live?.close();
      await http.close();
      await apollo.stop();
      for (const area of areas) await area.close?.();
      await shared.close();
    },
  };
}

/** Apollo over the pipeline's schema, limits and error masking, started. */
async function startApollo(config: Config, schema: GraphQLSchema, pipeline: RequestPipeline, logger: Logger): Promise<ApolloServer<GraphQLContext>> {
  const limits = pipeline.graphqlLimits;
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: pipeline.introspection,
    validationRules: limits.validationRules,
    // One plugin, one shared listener: subscriptions refused over HTTP, and a store failure
    // that a resolver lets through is a 503 too (src/server/request-plugin.ts).
    // Apollo's cache-control plugin off: our schema has no cache hints, and its per-field hook
    // made Apollo wrap every field's resolution on every request; the HTTP adapter sends the
    // `Cache-Control: no-store` it used to send (http-graphql.ts).
    plugins: [...limits.plugins, createRequestPlugin<GraphQLContext>(), ApolloServerPluginCacheControlDisabled()],
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
  return apollo;
}

/** createLiveConnections' options: the shared pieces and pipeline, and config.live's limits. */
function liveOptions(
  options: ServerOptions,
  shared: SharedPieces,
  schema: GraphQLSchema,
  pipeline: RequestPipeline,
  onOutcome: ReturnType<typeof createAuthOutcomeLog>,
  address: (req: Parameters<typeof clientAddress>[0]) => string,
): Parameters<typeof createLiveConnections>[0] {
  const { config, logger, metrics } = options;
  const live = config.live;
  return {
    schema,
    verifier: shared.verifier,
    revocations: shared.revocations,
    recheckStore: shared.store,
    events: shared.events,
    limits: {
      maxConnections: live.maxConnections,
      maxConnectionsPerAddress: live.maxConnectionsPerAddress,
      maxAnonymousConnections: live.maxAnonymousConnections,
      anonymousIdleMs: live.anonymousIdleMs,
      maxOperationsPerSecond: live.maxOperationsPerSecond,
      maxSubscriptionsPerSocket: live.maxSubscriptionsPerSocket,
      connectionInitTimeoutMs: live.connectionInitTimeoutMs,
      keepAliveMs: live.keepAliveMs,
      recheckIntervalMs: live.recheckIntervalSeconds * 1000,
      maxPayloadBytes: config.http.maxBodyBytes,
    },
    pipeline,
    clockToleranceSeconds: config.jwt.clockToleranceSeconds,
    lookupTimeoutMs: config.redis.commandTimeoutMs + 500,
    onOutcome,
    clientAddress: address,
    logger,
    ...(metrics ? { metrics } : {}),
    now: shared.now,
  };
}
