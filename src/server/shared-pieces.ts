import { systemClock, type Clock } from '../auth/token.js';
import { createTokenIssuer, type TokenIssuer } from '../auth/token-issuer.js';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import type { RefreshLimiter, SignInLimiter } from '../auth/sign-in-limiter.js';
import type { SignUpLimiter } from '../auth/sign-up-limiter.js';
import { CachedRevocationStore } from '../revocation/cached-store.js';
import { MemoryRevocationStore } from '../revocation/memory-store.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { MemorySessionStore } from '../sessions/memory-session-store.js';
import { createSessionManager, type SessionManager } from '../sessions/session-manager.js';
import { withSessionMetrics } from '../sessions/session-metrics.js';
import { lifetimesFromConfig } from '../sessions/session-store.js';
import { withRevocationEvents } from '../live/publishing-store.js';
import { withSessionEvents } from '../live/session-events.js';
import { createMemoryEventBus, type LiveEventBus } from '../live/revocation-events.js';
import { createDefaultSignInLimiter, createDefaultSignUpLimiter, refreshTokenKeys } from './security.js';
import type { ServerOptions } from './server-options.js';

/** What every area and both transports share, built once per server. */
export interface SharedPieces {
  readonly now: Clock;
  readonly events: LiveEventBus;
  /** The store as given, publishing revocation events: what readiness and the live sockets' recheck ask. */
  readonly store: RevocationStore;
  /** {@link store} behind the in-process cache (unless turned off): what requests and resolvers use. */
  readonly revocations: RevocationStore;
  readonly issuer: TokenIssuer;
  readonly verifier: TokenVerifier;
  /** The session manager, counted in the metrics when there are metrics. */
  readonly sessions: SessionManager;
  readonly signInLimiter: SignInLimiter | undefined;
  readonly refreshLimiter: RefreshLimiter | undefined;
  readonly signUpLimiter: SignUpLimiter | undefined;
  /** Quits the connections the default limiters opened for themselves. */
  close(): Promise<void>;
}

/** Builds the {@link SharedPieces} of createServer's options: stores wrapped once, keys read once. */
export function createSharedPieces(options: ServerOptions): SharedPieces {
  const { config, users, logger, metrics } = options;
  const now = options.now ?? systemClock;
  // Every acknowledged revocation, whoever makes it through this server, is published for the live sockets.
  const events = options.events ?? createMemoryEventBus();
  const onPublishFailure = metrics ? { onPublishFailure: metrics.recordLiveEventPublishFailure } : {};
  const store = withRevocationEvents(options.revocations, { events, logger, now, ...onPublishFailure });
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
  const sessionStore = withSessionEvents(rawSessions, { events, logger, now, ...onPublishFailure });
  const sessions = createSessionManager({
    issuer,
    store: sessionStore,
    refreshTokenKey: refreshTokenKeys(config),
    users,
    ...(options.safeguards ? { beforeIssue: options.safeguards.sessionGuards.beforeIssue, issuedAtFloorMs: options.safeguards.sessionGuards.issuedAtFloorMs } : {}),
    // Its writes go past the cache: "not revoked" answers of the user cached here go.
    ...(revocations instanceof CachedRevocationStore ? { onSessionsEnded: (userId: string) => revocations.forgetNotRevoked(userId) } : {}),
  });

  const defaultLimiter = options.signInLimiter && options.refreshLimiter ? undefined : createDefaultSignInLimiter(config, options.redis, logger);
  const defaultSignUpLimiter = options.signUpLimiter ? undefined : createDefaultSignUpLimiter(config, options.redis, logger);
  return {
    now,
    events,
    store,
    revocations,
    issuer,
    verifier,
    // session_events_total (started, refreshed, refresh_refused, ended), counted around the manager.
    sessions: metrics ? withSessionMetrics(sessions, metrics.recordSessionEvent) : sessions,
    signInLimiter: options.signInLimiter ?? defaultLimiter?.limiter,
    refreshLimiter: options.refreshLimiter ?? defaultLimiter?.refreshLimiter,
    signUpLimiter: options.signUpLimiter ?? defaultSignUpLimiter?.limiter,
    async close() {
      await defaultLimiter?.close();
      await defaultSignUpLimiter?.close();
    },
  };
}
