/**
 * OAuth 2.0 Token Introspection (RFC 7662) and Token Revocation (RFC 7009) for services that do
 * not embed this library: a REST service, a gateway (Apollo Router through a coprocessor, Envoy
 * ext_authz, Kong), another team's API. `POST <basePath>/introspect` and `POST <basePath>/revoke`
 * (basePath `/oauth`), form-encoded, the caller authenticated as a client with HTTP Basic.
 *
 * What an answer guarantees (docs/interop.md):
 * - Introspection of an access token is the check a GraphQL request gets, through the very
 *   context builder the server uses: the verifier (signature, algorithm, claims, expiry) and
 *   ONE revocation-store command. `active: true` means a GraphQL request with this token, on
 *   any instance, at this moment, would be accepted. A store that can't answer is a 503, never
 *   `active: true` (fail closed) and never `active: false` (a caller must not cache a token as
 *   dead when nothing was decided).
 * - A refresh token is active while it is its session's current token (or the one it replaced,
 *   within the reuse grace): one read-only store script; it never rotates nor counts as a use.
 * - Revocation of an access token is cancelToken (the same store write, published to the live
 *   sockets of every instance); of a refresh token, cancelSession of its session (the session's
 *   access tokens refused, its sockets closed). The write is acknowledged before the 200.
 * - Limits: per address (before authentication), per client id, failed authentications per
 *   address; all in process memory, per instance: counting in Redis would add a command to
 *   every introspection.
 * - Nothing secret is logged: not the token, not the client secret, not the Authorization header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { addressBucket } from '../auth/sign-in-limiter.js';
import { systemClock, type Clock, type VerifiedToken } from '../auth/token.js';
import { TokenVerificationError, type TokenVerifier } from '../auth/token-verifier.js';
import { authorizationFromRequest, createContextBuilder } from '../context/context-builder.js';
import { ErrorCode, StoreUnavailableError } from '../errors.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { BodyError, readBody } from '../pipeline/http-body.js';
import { createClientAuthenticator, type ClientAuthFailure, type OAuthClient } from './client-authentication.js';
import type { OAuthEndpoint, OAuthOutcome } from '../metric-labels/oauth-outcomes.js';

/** The logger (pino's shape). Audit lines go to `info` with `audit: true`. */
export interface OAuthLogger {
  debug(object: object, message: string): void;
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Per-instance request limits of {@link createOAuthEndpoints}. */
export interface OAuthLimits {
  /** Requests a second per authenticated client id. Default 2000. */
  maxRequestsPerClient?: number;
  /** Requests a second per client address (IPv6 by /64), counted before authentication. Default 2000. */
  maxRequestsPerAddress?: number;
  /** Failed client authentications a minute per address; past it, 429 until the minute ends. Default 10. */
  maxAuthFailuresPerAddress?: number;
}

/** Options of {@link createOAuthEndpoints}. */
export interface OAuthEndpointsOptions {
  /** The clients allowed to call the endpoints (HTTP Basic). At least one. */
  clients: readonly OAuthClient[];
  /** The server's verifier (the one its context builder uses). */
  verifier: TokenVerifier;
  /**
   * The store GraphQL requests are checked against and revocations are written through: give
   * the server's, wrapped to publish revocation events (withRevocationEvents), so a revocation
   * here closes live sockets on every instance.
   */
  revocations: RevocationStore;
  /** Refresh tokens: introspected and revoked through the session manager. Unset: refresh tokens are unknown tokens. */
  sessions?: Pick<SessionManager, 'inspectRefreshToken' | 'revokeRefreshToken'>;
  /** `iss` of the answers: the issuer the verifier pins. */
  issuer: string;
  /** `aud` of the answers for access tokens: the audience the verifier pins. */
  audience: string;
  /** Seconds a token is accepted after exp (the same grace cancelToken uses). Default 5. */
  expiryGraceSeconds?: number;
  /** Upper bound on the revocation lookup (the context builder's): past it, 503. Default 1000. */
  lookupTimeoutMs?: number;
  /** Largest request body, in bytes (the server's MAX_BODY_BYTES): a larger one is a 413. Default 1 MiB. */
  maxBodyBytes?: number;
  limits?: OAuthLimits;
  /** The client address of a request (TRUST_PROXY-aware). Default: the socket's remote address. */
  clientAddress?: (req: IncomingMessage) => string;
  /** The realm of `WWW-Authenticate: Basic`. Default 'graphql-revoke'. */
  realm?: string;
  /** Where the two endpoints live. Default '/oauth'. */
  basePath?: string;
  logger?: OAuthLogger;
  /** Told of each request's outcome (metrics: Metrics.recordOAuthRequest). */
  onOutcome?: (endpoint: OAuthEndpoint, outcome: OAuthOutcome) => void;
  /** Told of each access token revoked (metrics: revocations_total{kind="one"}). */
  onRevocation?: (kind: 'one', count: number) => void;
  now?: Clock;
}

/** The endpoints, as a node:http handler. */
export interface OAuthEndpoints {
  /** `<basePath>/introspect` and `<basePath>/revoke`. */
  readonly paths: readonly string[];
  /** Whether `path` (without the query) is one of {@link paths}. */
  handles(path: string): boolean;
  /** Answers a request to one of {@link paths}; never rejects (an unexpected failure is a 500 `server_error`, logged). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** The `error` of an OAuth error answer (RFC 6749 §5.2, RFC 7009 §2.2.1), and ours for 429 and 503. */
type OAuthError = 'invalid_client' | 'invalid_request' | 'unsupported_token_type' | 'temporarily_unavailable' | 'too_many_requests' | 'server_error';

/** Token type hints this server issues tokens of (RFC 7009 §2.1). */
const SUPPORTED_HINTS = new Set(['access_token', 'refresh_token']);
const FORM = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;
/** Parameters that must not be repeated (RFC 6749 §3.2). */
const SINGLE_PARAMETERS = ['token', 'token_type_hint', 'client_id', 'client_secret'];

/** Headers of every answer: token information must not be cached (RFC 7662 §2.2, RFC 6749 §5.1). */
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly error: OAuthError,
    readonly description: string,
    readonly outcome: OAuthOutcome,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

/** What an access token is, as a GraphQL request would find it. */
type AccessCheck = { kind: 'active'; token: VerifiedToken } | { kind: 'inactive' } | { kind: 'not_ours' };

/** Builds the endpoints; throws at once on bad options. */
export function createOAuthEndpoints(options: OAuthEndpointsOptions): OAuthEndpoints {
  const authenticator = createClientAuthenticator(options.clients);
  const { verifier, revocations, sessions, issuer, audience, logger, onOutcome, onRevocation } = options;
  const now = options.now ?? systemClock;
  const grace = options.expiryGraceSeconds ?? 5;
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  const realm = (options.realm ?? 'graphql-revoke').replace(/["\\]/g, '');
  const basePath = (options.basePath ?? '/oauth').replace(/\/+$/, '');
  const introspectPath = `${basePath}/introspect`;
  const revokePath = `${basePath}/revoke`;
  const addressOf = options.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown');
  const limits = {
    perClient: options.limits?.maxRequestsPerClient ?? 2000,
    perAddress: options.limits?.maxRequestsPerAddress ?? 2000,
    failures: options.limits?.maxAuthFailuresPerAddress ?? 10,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`createOAuthEndpoints: limit ${name} must be an integer >= 1, got ${value}`);
  }
  const perClient = new RateLimiterMemory({ points: limits.perClient, duration: 1, keyPrefix: 'oauth-client' });
  const perAddress = new RateLimiterMemory({ points: limits.perAddress, duration: 1, keyPrefix: 'oauth-address' });
  const failures = new RateLimiterMemory({ points: limits.failures, duration: 60, keyPrefix: 'oauth-auth-failures' });

  // The context builder the server's GraphQL requests go through: the same verifier, the same one-command lookup.
  const checkBearer = createContextBuilder({ verifier, revocations, ...(options.lookupTimeoutMs ? { lookupTimeoutMs: options.lookupTimeoutMs } : {}) });

  async function checkAccessToken(token: string): Promise<AccessCheck> {
    try {
      const context = await checkBearer({ authorization: `Bearer ${token}` });
      return context.auth.kind === 'authenticated' ? { kind: 'active', token: context.auth.token } : { kind: 'not_ours' };
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      if (error.extensions.code === ErrorCode.AuthUnavailable) throw unavailable();
      // Expired or revoked: one of ours, not active. Invalid: not an access token of ours (maybe a refresh token).
      return error.extensions.reason === 'TOKEN_INVALID' ? { kind: 'not_ours' } : { kind: 'inactive' };
    }
  }

  function unavailable(): Refusal {
    return new Refusal(503, 'temporarily_unavailable', 'The token store is unavailable. Retry shortly.', 'unavailable', { 'retry-after': '1' });
  }

  /** Runs a store call; its failure is a 503, never an answer about the token. */
  async function guarded<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        logger?.warn({ err: { message: (error.cause as Error | undefined)?.message ?? error.message }, operation }, 'oauth: token store unavailable (503)');
        throw unavailable();
      }
      throw error;
    }
  }

  async function limit(limiter: RateLimiterMemory, key: string, what: string): Promise<void> {
    try {
      await limiter.consume(key, 1);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new Refusal(429, 'too_many_requests', `Too many requests ${what}. Retry later.`, 'rate_limited', { 'retry-after': String(seconds) });
    }
  }

  // Failed authentications are logged at most once a second, with a count: a flood must not flood the log.
  let failureLoggedAt = 0;
  let failuresSuppressed = 0;
  function logAuthFailure(failure: ClientAuthFailure, address: string, claimedId: string | undefined): void {
    const at = Date.now();
    if (at - failureLoggedAt < 1000) {
      failuresSuppressed += 1;
      return;
    }
    logger?.warn({ failure, address, ...(claimedId ? { clientId: claimedId } : {}), alsoFailedSinceLastLine: failuresSuppressed }, 'oauth: client authentication failed');
    failureLoggedAt = at;
    failuresSuppressed = 0;
  }

  function invalidClient(description: string): Refusal {
    return new Refusal(401, 'invalid_client', description, 'invalid_client', { 'www-authenticate': `Basic realm="${realm}", charset="UTF-8"` });
  }

  /** Client authentication (after the address limits): the client id, or a refusal. */
  async function authenticateClient(req: IncomingMessage, bucket: string, address: string): Promise<string> {
    const blocked = await failures.get(bucket);
    if (blocked && blocked.consumedPoints >= limits.failures) {
      const seconds = Math.max(1, Math.ceil(blocked.msBeforeNext / 1000));
      throw new Refusal(429, 'too_many_requests', 'Too many failed client authentications from this address. Retry later.', 'rate_limited', {
        'retry-after': String(seconds),
      });
    }
    const headers = authorizationFromRequest(req);
    if (headers.length > 1) throw new Refusal(400, 'invalid_request', 'More than one Authorization header.', 'invalid_request');
    const result = authenticator.authenticate(headers[0]);
    if (result.ok) return result.clientId;
    // A request without credentials is not a guess: it is not counted.
    if (result.failure !== 'missing') await failures.penalty(bucket, 1);
    logAuthFailure(result.failure, address, result.claimedId);
    throw invalidClient(result.failure === 'missing' ? 'Client authentication required (HTTP Basic).' : 'Client authentication failed.');
  }

  /** The form parameters, each at most once. */
  async function readParameters(req: IncomingMessage, clientId: string): Promise<{ token: string; hint: string | undefined }> {
    const type = req.headers['content-type'];
    if (type === undefined || !FORM.test(type)) {
      throw new Refusal(400, 'invalid_request', 'The body must be application/x-www-form-urlencoded.', 'invalid_request');
    }
    let raw: string;
    try {
      raw = await readBody(req, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyError) throw new Refusal(error.status, 'invalid_request', error.message, 'invalid_request');
      throw error;
    }
    const params = new URLSearchParams(raw);
    for (const name of SINGLE_PARAMETERS) {
      if (params.getAll(name).length > 1) throw new Refusal(400, 'invalid_request', `Parameter "${name}" is repeated.`, 'invalid_request');
    }
    // One authentication method per request (RFC 6749 §2.3): Basic was used.
    if (params.has('client_secret')) throw new Refusal(400, 'invalid_request', 'Use one client authentication method: HTTP Basic, without client_secret in the body.', 'invalid_request');
    const bodyClientId = params.get('client_id');
    if (bodyClientId !== null && bodyClientId !== clientId) throw new Refusal(400, 'invalid_request', 'client_id does not match the authenticated client.', 'invalid_request');
    const token = params.get('token');
    if (token === null || token === '') throw new Refusal(400, 'invalid_request', 'The "token" parameter is required.', 'invalid_request');
    const hint = params.get('token_type_hint');
    return { token, hint: hint === null || hint === '' ? undefined : hint };
  }

  async function introspect(token: string): Promise<{ body: object; outcome: OAuthOutcome }> {
    const access = await checkAccessToken(token);
    if (access.kind === 'active') {
      const t = access.token;
      return {
        outcome: 'active',
        body: {
          active: true,
          sub: t.userId,
          exp: t.expiresAt,
          iat: t.issuedAt,
          jti: t.jti,
          ...(t.sessionId !== undefined ? { sid: t.sessionId } : {}),
          ...(t.scopes && t.scopes.length > 0 ? { scope: t.scopes.join(' ') } : {}),
          ...(t.username !== undefined ? { username: t.username } : {}),
          token_type: 'Bearer',
          token_use: 'access_token',
          iss: issuer,
          aud: audience,
        },
      };
    }
    if (access.kind === 'not_ours' && sessions) {
      const refresh = await guarded('inspectRefreshToken', () => sessions.inspectRefreshToken(token));
      if (refresh) {
        const s = refresh.session;
        return {
          outcome: 'active',
          // The session's facts; nothing of the token itself (no hash, no part of its secret).
          body: { active: true, sub: s.userId, sid: s.id, exp: Math.floor(s.expiresAt / 1000), username: s.username, token_use: 'refresh_token', iss: issuer },
        };
      }
    }
    return { outcome: 'inactive', body: { active: false } };
  }

  type Revoked =
    | { outcome: 'revoked_access_token'; userId: string; jti: string }
    | { outcome: 'ended_session'; userId: string; sessionId: string; ended: boolean }
    | { outcome: 'ignored' | 'unsupported_token_type' };

  async function revoke(token: string, hint: string | undefined): Promise<Revoked> {
    let target: VerifiedToken | undefined;
    try {
      target = verifier.verifyIgnoringExpiry(token);
    } catch (error) {
      if (!(error instanceof TokenVerificationError)) throw error;
    }
    if (target) {
      // Past its expiry (and the grace) no instance accepts it: nothing to write, as cancelToken.
      if (target.expiresAt + grace < Math.floor(now() / 1000)) return { outcome: 'ignored' };
      const revoked = target;
      await guarded('revoke', () => revocations.revoke(revoked));
      onRevocation?.('one', 1);
      return { outcome: 'revoked_access_token', userId: target.userId, jti: target.jti };
    }
    if (sessions) {
      const ended = await guarded('revokeRefreshToken', () => sessions.revokeRefreshToken(token));
      if (ended) return { outcome: 'ended_session', ...ended };
    }
    // Not a token of ours: 200, as RFC 7009 §2.2 says, unless the client named a type of token this server never issues.
    return hint !== undefined && !SUPPORTED_HINTS.has(hint) ? { outcome: 'unsupported_token_type' } : { outcome: 'ignored' };
  }

  function send(res: ServerResponse, status: number, body: object | undefined, headers: Record<string, string> = {}): void {
    const payload = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      'content-length': Buffer.byteLength(payload),
      ...NO_STORE,
      ...headers,
    });
    res.end(payload);
  }

  async function serve(endpoint: OAuthEndpoint, req: IncomingMessage, res: ServerResponse): Promise<OAuthOutcome> {
    if (req.method !== 'POST') {
      throw new Refusal(405, 'invalid_request', 'Only POST is supported.', 'method_not_allowed', { allow: 'POST' });
    }
    const address = addressOf(req);
    const bucket = addressBucket(address);
    await limit(perAddress, bucket, 'from this address');
    const clientId = await authenticateClient(req, bucket, address);
    await limit(perClient, clientId, 'from this client');
    const { token, hint } = await readParameters(req, clientId);

    if (endpoint === 'introspect') {
      const { body, outcome } = await introspect(token);
      send(res, 200, body);
      logger?.debug({ clientId, endpoint, outcome }, 'oauth: token introspected');
      return outcome;
    }

    const audit = { audit: true, action: 'oauthRevoke', actor: { kind: 'oauth-client', clientId }, address };
    let result: Revoked;
    try {
      result = await revoke(token, hint);
    } catch (error) {
      logger?.warn({ ...audit, outcome: 'failed', error: error instanceof Refusal ? error.error : 'error' }, 'oauth: revocation failed');
      throw error;
    }
    switch (result.outcome) {
      case 'revoked_access_token':
        logger?.info({ ...audit, outcome: 'done', target: { userId: result.userId, jti: result.jti } }, 'oauth: access token revoked');
        break;
      case 'ended_session':
        logger?.info({ ...audit, outcome: result.ended ? 'done' : 'already ended', target: { userId: result.userId, sessionId: result.sessionId } }, 'oauth: session ended');
        break;
      default:
        logger?.info({ ...audit, outcome: result.outcome, ...(hint !== undefined ? { tokenTypeHint: hint.slice(0, 64) } : {}) }, 'oauth: nothing revoked');
    }
    if (result.outcome === 'unsupported_token_type') {
      throw new Refusal(400, 'unsupported_token_type', 'This server does not issue tokens of that type.', 'unsupported_token_type');
    }
    send(res, 200, undefined);
    return result.outcome;
  }

  return {
    paths: [introspectPath, revokePath],
    handles: (path) => path === introspectPath || path === revokePath,
    async handle(req, res) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const endpoint: OAuthEndpoint | undefined = path === introspectPath ? 'introspect' : path === revokePath ? 'revoke' : undefined;
      if (!endpoint) {
        send(res, 404, { error: 'not_found' });
        return;
      }
      let outcome: OAuthOutcome;
      try {
        outcome = await serve(endpoint, req, res);
      } catch (error) {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (error instanceof Refusal) {
          outcome = error.outcome;
          send(res, error.status, { error: error.error, error_description: error.description }, error.headers);
        } else {
          logger?.error({ err: error, endpoint }, 'oauth: unexpected error');
          send(res, 500, { error: 'server_error', error_description: 'Internal server error' });
          return;
        }
      }
      onOutcome?.(endpoint, outcome);
    },
  };
}
