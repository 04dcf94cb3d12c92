/**
 * graphql-revoke: revocable JWTs for Apollo GraphQL. The public API, and nothing else, grouped by
 * area; docs/library.md says how the pieces fit.
 */

// Request context and directives: who is asking, checked once per request (context/, directives/)
export { createContextBuilder, authorizationFromRequest } from './context/context-builder.js';
export type { ContextBuilder, ContextBuilderOptions, AuthOutcome, AuthorizationInput } from './context/context-builder.js';
export type { GraphQLContext, AuthState, ConnectionHandle } from './context/context.js';
export {
  authenticatedDirectiveTransformer,
  authenticatedDirectiveTypeDefs,
  AUTHENTICATED_DIRECTIVE_TYPE_DEFS,
} from './directives/authenticated.js';
export type { AuthenticatedDirectiveOptions } from './directives/authenticated.js';
export { findNullBubblingFields, warnNullBubbling, createProtectionCheck } from './directives/null-bubbling.js';
export type { NullBubblingWarning, WarningHandler } from './directives/null-bubbling.js';
export {
  requiresScopesDirectiveTransformer,
  requiresScopesDirectiveTypeDefs,
  REQUIRES_SCOPES_DIRECTIVE_TYPE_DEFS,
  scopesSatisfy,
} from './directives/requires-scopes.js';
export type { RequiresScopesDirectiveOptions, ScopeReaderResult, ScopeRequirement } from './directives/requires-scopes.js';
export {
  requiresFreshAuthDirectiveTransformer,
  requiresFreshAuthDirectiveTypeDefs,
  REQUIRES_FRESH_AUTH_DIRECTIVE_TYPE_DEFS,
} from './directives/requires-fresh-auth.js';
export type { RequiresFreshAuthDirectiveOptions } from './directives/requires-fresh-auth.js';
export { parseScopeClaim, formatScopeClaim, isValidScope } from './auth/scopes.js';

// Tokens: keys, issuing, verifying, passwords, limiters (auth/, config/jwt-keys)
export { createTokenIssuer, randomTokenId } from './auth/token-issuer.js';
export type { TokenIssuer, TokenIssuerOptions, IssuedToken } from './auth/token-issuer.js';
export { createTokenVerifier, TokenVerificationError } from './auth/token-verifier.js';
export type { TokenVerifier, TokenVerifierOptions, VerificationKey, VerificationAlgorithm } from './auth/token-verifier.js';
export type { VerifiedToken, TokenRef, Clock } from './auth/token.js';
export { asymmetricKeys, hmacKeys, hmacKeyId, jwkThumbprint, algorithmForKey, splitPemBlocks, JWT_ALGORITHMS, JWS_ALGORITHMS, MIN_RSA_MODULUS_BITS } from './config/jwt-keys.js';
export type { JwsAlgorithm, JwtAlgorithm, JwtKeys, JwtVerificationKey, PublicJwk, AsymmetricKeyInput } from './config/jwt-keys.js';
export { createSignInLimiter, addressBucket, SIGN_IN_LIMITER_KEY_VERSION } from './auth/sign-in-limiter.js';
export type { SignInLimiter, SignInLimiterOptions, SignInPermit } from './auth/sign-in-limiter.js';
export { createSignUpLimiter, SIGN_UP_LIMITER_KEY_VERSION } from './auth/sign-up-limiter.js';
export type { SignUpLimiter, SignUpLimiterOptions } from './auth/sign-up-limiter.js';
export { createPasswordHasher } from './auth/password.js';
export type { PasswordHasher } from './auth/password.js';

// Revocation area: the stores and their Redis plumbing (revocation/, redis/)
export type { RevocationStore } from './revocation/revocation-store.js';
export { RedisRevocationStore } from './revocation/redis-store.js';
export type { RedisRevocationStoreOptions } from './revocation/redis-store.js';
export type { RedisClient } from './redis/redis-client-type.js';
export { MemoryRevocationStore } from './revocation/memory-store.js';
export { CachedRevocationStore } from './revocation/cached-store.js';
export type { CachedRevocationStoreOptions } from './revocation/cached-store.js';
export type { MemoryRevocationStoreOptions } from './revocation/memory-store.js';
export { createRedisClient, checkPersistence, warnIfNotPersistent } from './redis/redis-client.js';
export type { RedisClientOptions, RedisClientLogger, RedisNodeAddress, PersistenceReport } from './redis/redis-client.js';
export { createKeySpace, KEY_LAYOUT_VERSION } from './redis/keys.js';
export { SafeguardedRevocationStore } from './revocation/safeguarded-store.js';
export type { SafeguardedRevocationStoreOptions } from './revocation/safeguarded-store.js';
export { createRevocationResolvers } from './revocation/revocation-resolvers.js';
export type { RevocationResolverOptions } from './revocation/revocation-resolvers.js';

// Safeguards: eviction policy, clock skew, data loss (safeguards/)
export { createRedisSafeguards } from './safeguards/safeguards.js';
export type { RedisSafeguards, RedisSafeguardsOptions, SafeguardsLogger } from './safeguards/safeguards.js';
export { createDataLossWatcher } from './safeguards/data-loss-watcher.js';
export type { DataLossWatcher, DataLossWatcherOptions, DataLossMode, DataLossLogger } from './safeguards/data-loss-watcher.js';
export { createClockSkewMonitor } from './safeguards/clock-skew.js';
export type { ClockSkewMonitor, ClockSkewMonitorOptions, ClockSkewLogger } from './safeguards/clock-skew.js';
export { createEvictionPolicyGuard, evaluateEvictionPolicy, readRedisMemory, SAFE_EVICTION_POLICY } from './safeguards/eviction-policy.js';
export type { EvictionPolicyGuard, EvictionPolicyGuardOptions, EvictionVerdict, RedisMemoryReport, EvictionLogger } from './safeguards/eviction-policy.js';

// Accounts area: users, sign-up and sign-in (users/, accounts/)
export { createAuthResolvers, createAccountResolvers } from './accounts/auth-resolvers.js';
export type { AuthResolverOptions, AccountResolverOptions, ResolverLogger } from './accounts/auth-resolvers.js';
export { UsernameTakenError, normalizeUsername } from './users/user-store.js';
export type { UserStore, UserRecord, ScopeChange } from './users/user-store.js';
export { MemoryUserStore } from './users/memory-user-store.js';
export { RedisUserStore } from './users/redis-user-store.js';

// Sessions area: refresh tokens, rotation, reuse (sessions/)
export { createSessionResolvers } from './sessions/session-resolvers.js';
export type { SessionResolverOptions } from './sessions/session-resolvers.js';
export { createSessionManager, sessionView } from './sessions/session-manager.js';
export type { SessionManager, SessionManagerOptions, SessionPair, SessionUserSource, SessionView, ActiveRefreshToken, RefreshTokenRevocation, FreshAccessToken } from './sessions/session-manager.js';
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
  InspectRefreshTokenInput,
  RefreshTokenState,
  ReauthenticateInput,
} from './sessions/session-store.js';

// Admin area: operator actions (admin/)
export { createAdminResolvers } from './admin/admin-resolvers.js';
export type { AdminResolverOptions } from './admin/admin-resolvers.js';
export { createUserAdmin, ADMIN_SCOPE, AdminInputError, SelfDisableError } from './admin/user-admin.js';
export type { UserAdmin, UserAdminOptions, AdminActor, AuditLogger, ScopeUpdate, DisableUpdate, UserSummary } from './admin/user-admin.js';

// Areas: one entry function each; createServer composes the same list (docs/library.md, "Compose our areas")
export { areaResolvers, areaRoutesFor, areaDirectives } from './areas/area.js';
export type { Area, AreaRoutes, AreaDirectives } from './areas/area.js';
export { accountsArea } from './accounts/accounts-area.js';
export type { AccountsAreaOptions } from './accounts/accounts-area.js';
export { revocationArea } from './revocation/revocation-area.js';
export { sessionsArea } from './sessions/sessions-area.js';
export type { SessionsAreaOptions } from './sessions/sessions-area.js';
export { adminArea } from './admin/admin-area.js';
export type { AdminAreaOptions } from './admin/admin-area.js';
export { healthArea } from './health/health-area.js';
export { liveArea } from './live/live-area.js';

// Health area: liveness and readiness (health/)
export { createHealthChecks } from './health/health.js';
export type { HealthChecks, HealthCheckOptions, ProbeResult } from './health/health.js';

// OAuth area: RFC 7662 introspection and RFC 7009 revocation endpoints (oauth/)
export { createOAuthEndpoints } from './oauth/oauth-endpoints.js';
export type { OAuthEndpoints, OAuthEndpointsOptions, OAuthLimits, OAuthLogger } from './oauth/oauth-endpoints.js';
export { createClientAuthenticator } from './oauth/client-authentication.js';
export type { OAuthClient, ClientAuthenticator, ClientAuthResult, ClientAuthFailure } from './oauth/client-authentication.js';
export { OAUTH_OUTCOMES } from './metric-labels/oauth-outcomes.js';
export type { OAuthEndpoint, OAuthOutcome, IntrospectionOutcome, RevocationOutcome } from './metric-labels/oauth-outcomes.js';

// Live: GraphQL over WebSocket and the revocation events (live/)
export { createLiveConnections } from './live/live-connections.js';
export type { LiveConnections, LiveConnectionsOptions, LiveLimits, LiveMetrics, LiveLogger } from './live/live-connections.js';
export { createMemoryEventBus, createRedisEventBus, createRedisEventPublisher, liveChannel, encodeLiveEvent, decodeLiveEvent } from './live/revocation-events.js';
export type { LiveEventBus, LiveEvent, RevocationEvent, RevocationScope, SessionLifecycleEvent, RedisEventBusOptions, EventBusLogger } from './live/revocation-events.js';
export { withRevocationEvents, createRevocationPublisher } from './live/publishing-store.js';
export { withSessionEvents, sessionEventView } from './live/session-events.js';
export type { SessionEventView } from './live/session-events.js';
export { createSessionEventResolvers } from './live/session-subscription.js';
export type { SessionEventResolverOptions } from './live/session-subscription.js';
export {
  createConnectionRenewalResolvers,
  createConnectionRenewal,
  renewalRefusedError,
  websocketRequiredError,
  RENEWAL_OUTCOMES,
} from './live/connection-renewal.js';
export type {
  ConnectionRenewal,
  ConnectionRenewalOptions,
  RenewableSocket,
  RenewalOutcome,
  RenewalRefusalReason,
} from './live/connection-renewal.js';
export type { RevocationPublisher, RevocationEventOptions } from './live/publishing-store.js';
export type { LiveCloseReason } from './live/socket-registry.js';

// The request pipeline: limits, client mistakes, the schema's SDL (graphql-limits/, pipeline/, schema)
export { createGraphQLLimits, hideSuggestionsPlugin, stripSuggestions, exceedsBytes } from './graphql-limits/graphql-limits.js';
export { createDocumentStore, documentRetainedBytes } from './graphql-limits/document-store.js';
export type { DocumentStoreOptions } from './graphql-limits/document-store.js';
export type { GraphQLLimitOptions, GraphQLLimits } from './graphql-limits/graphql-limits.js';
export { fieldCallLimitRule } from './graphql-limits/field-call-limit.js';
export { typeDefs, DIRECTIVES_SDL, ACCOUNT_SDL, REVOCATION_SDL, ADMIN_SDL, LIVE_SDL } from './schema.js';
export { refuseHttpSubscriptionsPlugin, clientMistakeCode } from './pipeline/client-mistakes.js';

// The server: HTTP adapter, plugins, metrics, createServer (server/, metrics)
export { clientAddress } from './server/client-address.js';
export { createAuthHttpPlugin, isStoreUnavailable } from './server/auth-http-plugin.js';
export type { AuthHttpPluginOptions } from './server/auth-http-plugin.js';
export { createNodeGraphQLHandler } from './server/node-http-handler.js';
export type { NodeGraphQLHandlerOptions } from './server/node-http-handler.js';
export { createServer } from './server/create-server.js';
export type { AppServer, ServerOptions } from './server/create-server.js';
export { createMetricsListener } from './server/metrics-listener.js';
export type { MetricsListener, MetricsListenerOptions } from './server/metrics-listener.js';
export { httpServerOptions, applyHttpLimits } from './server/http-limits.js';
export { createMetrics } from './metrics.js';
export type { Metrics, MetricsOptions } from './metrics.js';

// Configuration and error codes
export { loadConfig } from './config/index.js';
export type { Config, HttpLimits, OAuthClientCredentials } from './config/index.js';
export * from './errors.js';
