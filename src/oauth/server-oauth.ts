import type { Area } from '../areas/area.js';
import type { IncomingMessage } from 'node:http';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Config } from '../config/index.js';
import { acceptanceGraceSeconds } from '../config/derived.js';
import type { Metrics } from '../metrics.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { createOAuthEndpoints, type OAuthEndpoints, type OAuthLogger } from './oauth-endpoints.js';

/** The server's pieces the endpoints share with its GraphQL path. */
export interface ServerOAuthPieces {
  config: Config;
  verifier: TokenVerifier;
  /** The store the context builder reads and the resolvers revoke through (publishing revocation events). */
  revocations: RevocationStore;
  sessions: Pick<SessionManager, 'inspectRefreshToken' | 'revokeRefreshToken'>;
  clientAddress: (req: IncomingMessage) => string;
  logger: OAuthLogger;
  metrics?: Metrics | undefined;
}

/**
 * The runnable API's /oauth/introspect and /oauth/revoke, from its configuration
 * (OAUTH_CLIENTS, OAUTH_MAX_*, MAX_BODY_BYTES, the JWT issuer, audience and tolerances) and
 * the pieces its GraphQL requests use. Undefined when no client is configured: the paths are
 * then unknown (404).
 */
export function createServerOAuthEndpoints(pieces: ServerOAuthPieces): OAuthEndpoints | undefined {
  const { config, metrics } = pieces;
  if (config.oauth.clients.length === 0) return undefined;
  return createOAuthEndpoints({
    clients: config.oauth.clients,
    verifier: pieces.verifier,
    revocations: pieces.revocations,
    sessions: pieces.sessions,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    // As cancelToken: a token past exp here may still be accepted by an instance up to MAX_CLOCK_SKEW behind.
    expiryGraceSeconds: acceptanceGraceSeconds(config.jwt),
    lookupTimeoutMs: config.redis.commandTimeoutMs + 500,
    maxBodyBytes: config.http.maxBodyBytes,
    limits: {
      maxRequestsPerClient: config.oauth.maxRequestsPerClient,
      maxRequestsPerAddress: config.oauth.maxRequestsPerAddress,
      maxAuthFailuresPerAddress: config.oauth.maxAuthFailuresPerAddress,
    },
    clientAddress: pieces.clientAddress,
    realm: config.jwt.issuer,
    logger: pieces.logger,
    ...(metrics ? { onOutcome: metrics.recordOAuthRequest, onRevocation: metrics.recordRevocation } : {}),
  });
}

/**
 * The OAuth area: the runnable API's /oauth/introspect and /oauth/revoke
 * ({@link createServerOAuthEndpoints}); no routes when no client is configured, so the paths are
 * then unknown (404).
 */
export function oauthArea(pieces: ServerOAuthPieces): Area {
  const endpoints = createServerOAuthEndpoints(pieces);
  return { name: 'oauth', ...(endpoints ? { routes: endpoints } : {}) };
}
