/** graphql-revoke: revocable JWTs for Apollo GraphQL. The public API, and nothing else. */
export { createContextBuilder, authorizationFromRequest } from './context/context-builder.js';
export type { ContextBuilder, ContextBuilderOptions, AuthOutcome, AuthorizationInput } from './context/context-builder.js';
export type { GraphQLContext, AuthState } from './context/context.js';
export {
  authenticatedDirectiveTransformer,
  authenticatedDirectiveTypeDefs,
  AUTHENTICATED_DIRECTIVE_TYPE_DEFS,
} from './directives/authenticated.js';
export type { AuthenticatedDirectiveOptions } from './directives/authenticated.js';
export type { RevocationStore } from './revocation/revocation-store.js';
export { RedisRevocationStore } from './revocation/redis-store.js';
export type { RedisRevocationStoreOptions, RedisClient } from './revocation/redis-store.js';
export { MemoryRevocationStore } from './revocation/memory-store.js';
export { CachedRevocationStore } from './revocation/cached-store.js';
export type { CachedRevocationStoreOptions } from './revocation/cached-store.js';
export type { MemoryRevocationStoreOptions } from './revocation/memory-store.js';
export { createRedisClient, checkPersistence, warnIfNotPersistent } from './revocation/redis-client.js';
export type { RedisClientOptions, RedisClientLogger, RedisNodeAddress, PersistenceReport } from './revocation/redis-client.js';
export { createKeySpace, KEY_LAYOUT_VERSION } from './revocation/keys.js';
export { createTokenIssuer, randomTokenId } from './auth/token-issuer.js';
export type { TokenIssuer, TokenIssuerOptions, IssuedToken } from './auth/token-issuer.js';
export { createTokenVerifier, TokenVerificationError } from './auth/token-verifier.js';
export type { TokenVerifier, TokenVerifierOptions, VerificationKey, VerificationAlgorithm } from './auth/token-verifier.js';
export type { VerifiedToken, TokenRef, Clock } from './auth/token.js';
export { asymmetricKeys, hmacKeys, hmacKeyId, jwkThumbprint, algorithmForKey, splitPemBlocks, JWT_ALGORITHMS, MIN_RSA_MODULUS_BITS } from './auth/keys.js';
export type { JwtAlgorithm, JwtKeys, JwtVerificationKey, PublicJwk, AsymmetricKeyInput } from './auth/keys.js';
export { createSignInLimiter, addressBucket, SIGN_IN_LIMITER_KEY_VERSION } from './auth/sign-in-limiter.js';
export type { SignInLimiter, SignInLimiterOptions, SignInPermit } from './auth/sign-in-limiter.js';
export { createGraphQLLimits, hideSuggestionsPlugin } from './graphql-limits/graphql-limits.js';
export type { GraphQLLimitOptions, GraphQLLimits } from './graphql-limits/graphql-limits.js';
export { fieldCallLimitRule } from './graphql-limits/field-call-limit.js';
export { clientAddress } from './server/client-address.js';
export { createPasswordHasher } from './auth/password.js';
export type { PasswordHasher } from './auth/password.js';
export { createAuthResolvers, createAccountResolvers } from './resolvers/auth-resolvers.js';
export type { AuthResolverOptions, AccountResolverOptions, ResolverLogger } from './resolvers/auth-resolvers.js';
export { createRevocationResolvers } from './resolvers/revocation-resolvers.js';
export type { RevocationResolverOptions } from './resolvers/revocation-resolvers.js';
export { createSessionResolvers } from './resolvers/session-resolvers.js';
export type { SessionResolverOptions } from './resolvers/session-resolvers.js';
export { createSessionManager, sessionView } from './sessions/session-manager.js';
export type { SessionManager, SessionManagerOptions, SessionPair, SessionView } from './sessions/session-manager.js';
export { RedisSessionStore } from './sessions/redis-session-store.js';
export type { RedisSessionStoreOptions } from './sessions/redis-session-store.js';
export { MemorySessionStore } from './sessions/memory-session-store.js';
export type { MemorySessionStoreOptions } from './sessions/memory-session-store.js';
export { lifetimesFromConfig, SESSION_DEFAULTS } from './sessions/session-store.js';
export type {
  SessionStore,
  SessionRecord,
  SessionClient,
  SessionLifetimes,
  RefreshOutcome,
  EndAllSessionsOptions,
  IssuedSession,
} from './sessions/session-store.js';
export { UsernameTakenError, normalizeUsername } from './users/user-store.js';
export type { UserStore, UserRecord } from './users/user-store.js';
export { MemoryUserStore } from './users/memory-user-store.js';
export { RedisUserStore } from './users/redis-user-store.js';
export { typeDefs } from './schema.js';
export { createServer } from './server/create-server.js';
export type { AppServer, ServerOptions } from './server/create-server.js';
export { createHealthChecks } from './server/health.js';
export type { HealthChecks, HealthCheckOptions, ProbeResult } from './server/health.js';
export { createMetrics } from './metrics.js';
export type { Metrics, MetricsOptions } from './metrics.js';
export { createLiveConnections } from './live/live-connections.js';
export type { LiveConnections, LiveConnectionsOptions, LiveLimits, LiveMetrics, LiveLogger } from './live/live-connections.js';
export { createMemoryEventBus, createRedisEventBus, createRedisEventPublisher, liveChannel, encodeLiveEvent, decodeLiveEvent } from './live/revocation-events.js';
export type { LiveEventBus, LiveEvent, RevocationEvent, RevocationScope, SessionLifecycleEvent, RedisEventBusOptions, EventBusLogger } from './live/revocation-events.js';
export { withRevocationEvents, createRevocationPublisher } from './live/publishing-store.js';
export { withSessionEvents, sessionEventView } from './live/session-events.js';
export type { SessionEventView } from './live/session-events.js';
export { createSessionEventResolvers } from './live/session-subscription.js';
export type { SessionEventResolverOptions } from './live/session-subscription.js';
export type { RevocationPublisher, RevocationEventOptions } from './live/publishing-store.js';
export type { LiveCloseReason } from './live/socket-registry.js';
export { loadConfig } from './config.js';
export type { Config } from './config.js';
export * from './errors.js';
