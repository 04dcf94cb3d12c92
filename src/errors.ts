import { GraphQLError } from 'graphql';

/** Stable values of `extensions.code` that clients can rely on. */
export enum ErrorCode {
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  BadUserInput = 'BAD_USER_INPUT',
  AuthUnavailable = 'AUTH_UNAVAILABLE',
  RateLimited = 'RATE_LIMITED',
  BadRequest = 'BAD_REQUEST',
  /** A query document over GRAPHQL_MAX_DOCUMENT_BYTES (HTTP 413). */
  DocumentTooLarge = 'DOCUMENT_TOO_LARGE',
  /** A persisted-query version other than 1 (HTTP 400). */
  PersistedQueryNotSupported = 'PERSISTED_QUERY_NOT_SUPPORTED',
  /** signIn with the right password while the account holds SESSIONS_MAX_PER_USER sessions under SESSIONS_LIMIT_POLICY=refuse-new (HTTP 200). */
  SessionLimitReached = 'SESSION_LIMIT_REACHED',
  /**
   * `@requiresFreshAuth`: the token's auth_time is older than the field's maxAge (RFC 9470's
   * `insufficient_user_authentication`), with `extensions.maxAge`.
   */
  InsufficientUserAuthentication = 'INSUFFICIENT_USER_AUTHENTICATION',
}

/** Why a request or a field was refused authentication: `extensions.reason`. */
export type AuthFailureReason =
  | 'TOKEN_MISSING'
  | 'TOKEN_INVALID'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_REVOKED'
  | 'INVALID_CREDENTIALS'
  | 'ACCOUNT_DISABLED'
  | RefreshFailureReason;

/** Why refreshSession refused a refresh token: `extensions.reason`. */
export type RefreshFailureReason = 'REFRESH_TOKEN_REUSED' | 'REFRESH_TOKEN_INVALID' | 'REFRESH_TOKEN_EXPIRED';

const AUTH_MESSAGES: Record<AuthFailureReason, string> = {
  TOKEN_MISSING: 'Authentication required: send "Authorization: Bearer <token>".',
  TOKEN_INVALID: 'The access token is invalid.',
  TOKEN_EXPIRED: 'The access token has expired.',
  TOKEN_REVOKED: 'The access token has been revoked.',
  INVALID_CREDENTIALS: 'Invalid username or password.',
  ACCOUNT_DISABLED: 'This account is disabled.',
  REFRESH_TOKEN_REUSED: 'The refresh token was already used: the session has been ended. Sign in again.',
  REFRESH_TOKEN_INVALID: 'The refresh token is invalid or its session has ended. Sign in again.',
  REFRESH_TOKEN_EXPIRED: 'The refresh token has expired. Sign in again.',
};

/** RFC 6750 §3.1: what a client that presented a bad token is told in WWW-Authenticate. */
const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';
const INVALID_REQUEST_CHALLENGE = 'Bearer error="invalid_request"';

/**
 * A field-level authentication error: the field resolves to null and the rest of
 * the response is served (HTTP 200 with partial data).
 */
export function unauthenticatedFieldError(reason: AuthFailureReason): GraphQLError {
  return new GraphQLError(AUTH_MESSAGES[reason], {
    extensions: { code: ErrorCode.Unauthenticated, reason },
  });
}

/**
 * A request-level refusal of the presented token (invalid, expired, revoked): the
 * whole request gets HTTP 401 and the RFC 6750 challenge.
 */
export function invalidTokenError(reason: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED'): GraphQLError {
  return new GraphQLError(AUTH_MESSAGES[reason], {
    extensions: {
      code: ErrorCode.Unauthenticated,
      reason,
      http: { status: 401, headers: new Map([['www-authenticate', INVALID_TOKEN_CHALLENGE]]) },
    },
  });
}

/**
 * A malformed Authorization header (another scheme, an empty token, two values): refused
 * like an invalid token (401, reason TOKEN_INVALID), with RFC 6750's invalid_request challenge.
 */
export function malformedAuthorizationError(detail: string): GraphQLError {
  return new GraphQLError(`Malformed Authorization header: ${detail}. Expected "Authorization: Bearer <token>".`, {
    extensions: {
      code: ErrorCode.Unauthenticated,
      reason: 'TOKEN_INVALID',
      http: { status: 401, headers: new Map([['www-authenticate', INVALID_REQUEST_CHALLENGE]]) },
    },
  });
}

/**
 * refreshSession refused the refresh token: a GraphQL error with HTTP 200 (the token is an
 * argument, not the Authorization header), code UNAUTHENTICATED and the reason.
 */
export function refreshTokenError(reason: RefreshFailureReason): GraphQLError {
  return new GraphQLError(AUTH_MESSAGES[reason], {
    extensions: { code: ErrorCode.Unauthenticated, reason },
  });
}

/** Wrong username or password: one error for both, so usernames can't be probed. */
export function invalidCredentialsError(): GraphQLError {
  return new GraphQLError(AUTH_MESSAGES.INVALID_CREDENTIALS, {
    extensions: { code: ErrorCode.Unauthenticated, reason: 'INVALID_CREDENTIALS' },
  });
}

/** changePassword's current password is wrong: its own message, the code and reason of a bad password. */
export function wrongCurrentPasswordError(): GraphQLError {
  return new GraphQLError('The current password is wrong.', {
    extensions: { code: ErrorCode.Unauthenticated, reason: 'INVALID_CREDENTIALS' },
  });
}

/**
 * The token store could not answer in time: the request is refused (fail closed)
 * with HTTP 503, `Retry-After` and `extensions.retryAfterSeconds`, rather than served with
 * an unchecked token.
 */
export function authUnavailableError(retryAfterSeconds = AUTH_UNAVAILABLE_RETRY_AFTER_SECONDS): GraphQLError {
  return new GraphQLError(AUTH_UNAVAILABLE_MESSAGE, {
    extensions: {
      code: ErrorCode.AuthUnavailable,
      // Also in the body: browser clients (Apollo Client 4) do not show the headers to an error link.
      retryAfterSeconds,
      http: { status: 503, headers: new Map([['retry-after', String(retryAfterSeconds)]]) },
    },
  });
}

/** The seconds an AUTH_UNAVAILABLE answer tells the client to wait (Retry-After). */
export const AUTH_UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/** What a client is told when the token store is unavailable; the cause goes to the log. */
export const AUTH_UNAVAILABLE_MESSAGE = 'Authentication is temporarily unavailable. Retry shortly.';

/**
 * Too many failed sign-ins for this username or client address (or sign-ups from this
 * address): refused with HTTP 429 and Retry-After until the window passes, whatever the password.
 */
export function rateLimitedError(retryAfterSeconds: number, message = 'Too many failed sign-in attempts. Retry later.'): GraphQLError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.RateLimited,
      retryAfterSeconds: seconds,
      http: { status: 429, headers: new Map([['retry-after', String(seconds)]]) },
    },
  });
}

/**
 * SESSIONS_LIMIT_POLICY=refuse-new and the account already holds SESSIONS_MAX_PER_USER live
 * sessions: no session was started (HTTP 200, like any field error). Said only after the
 * right password, so it tells a guesser nothing.
 */
export function sessionLimitReachedError(): GraphQLError {
  return new GraphQLError('This account has too many sessions: end one (cancelSession) or wait for one to expire, then sign in again.', {
    extensions: { code: ErrorCode.SessionLimitReached },
  });
}

/**
 * The account is disabled by an operator: signIn (only after the right password, so the
 * reason tells a guesser nothing), refreshSession and changePassword answer this. HTTP 200,
 * like any field error.
 */
export function accountDisabledError(): GraphQLError {
  return new GraphQLError(AUTH_MESSAGES.ACCOUNT_DISABLED, {
    extensions: { code: ErrorCode.Unauthenticated, reason: 'ACCOUNT_DISABLED' },
  });
}

/** Why a field was forbidden to an authenticated caller: `extensions.reason` of FORBIDDEN. */
export type ForbiddenReason = 'INSUFFICIENT_SCOPE';

/**
 * An authenticated caller whose token lacks the scopes a field requires (`@requiresScopes`):
 * the field resolves to null with this error at its path, and the rest of the response is served.
 */
export function insufficientScopeError(): GraphQLError {
  return new GraphQLError('The access token lacks the scopes this field requires.', {
    extensions: { code: ErrorCode.Forbidden, reason: 'INSUFFICIENT_SCOPE' satisfies ForbiddenReason },
  });
}

/**
 * `@requiresFreshAuth`: the caller's last password check (the token's auth_time) is older than
 * `maxAge` seconds, or the token carries none. The field resolves to null with this error at
 * its path and the rest of the response is served (HTTP 200). `extensions.maxAge` is RFC
 * 9470's `max_age`: reauthenticate, then retry with the new token.
 */
export function insufficientUserAuthenticationError(maxAge: number): GraphQLError {
  return new GraphQLError(`This field needs a password check within the last ${maxAge} seconds: call reauthenticate, then retry.`, {
    extensions: { code: ErrorCode.InsufficientUserAuthentication, maxAge },
  });
}

/** The caller may not act on this object (e.g. cancel somebody else's token). */
export function forbiddenError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.Forbidden } });
}

/** Input that fails validation; `field` names the argument at fault. */
export function badUserInputError(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.BadUserInput, ...(field ? { field } : {}) },
  });
}

/**
 * Raised by stores when their backend (Redis) fails or times out. The context builder and
 * our resolvers turn it into AUTH_UNAVAILABLE; createAuthHttpPlugin does the same for one
 * thrown by any other resolver (yours). A custom RevocationStore (src/revocation/) throws it for every
 * backend failure. The cause goes to the log only.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`Token store unavailable during ${operation}`, options);
  }
}

/** Thrown at startup when the environment is misconfigured; main prints its message and exits 1. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
