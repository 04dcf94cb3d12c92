/** The two endpoints of src/oauth/. */
export type OAuthEndpoint = 'introspect' | 'revoke';

/** How a request to either endpoint ended. */
export type OAuthRequestOutcome =
  /** 401 invalid_client: no, unknown or wrong client credentials, or another authentication method. */
  | 'invalid_client'
  /** 400 invalid_request (or 413): no token, a repeated parameter, not a form body, a body too large. */
  | 'invalid_request'
  /** 429: over a per-client or per-address limit. */
  | 'rate_limited'
  /** 503: the token store did not answer (fail closed: never "active", never "revoked"). */
  | 'unavailable'
  /** 405: not a POST. */
  | 'method_not_allowed';

/** How an introspection ended: `active` / `inactive` answers, or a refusal. */
export type IntrospectionOutcome = 'active' | 'inactive' | OAuthRequestOutcome;

/**
 * How a revocation ended: an access token revoked (as cancelToken), a session ended (a
 * refresh token, as cancelSession), nothing to revoke (`ignored`: unknown, invalid or already
 * invalid token, answered 200 as RFC 7009 says), `unsupported_token_type`, or a refusal.
 */
export type RevocationOutcome = 'revoked_access_token' | 'ended_session' | 'ignored' | 'unsupported_token_type' | OAuthRequestOutcome;

/** Any outcome of either endpoint. */
export type OAuthOutcome = IntrospectionOutcome | RevocationOutcome;

const REFUSALS: readonly OAuthRequestOutcome[] = ['invalid_client', 'invalid_request', 'rate_limited', 'unavailable', 'method_not_allowed'];

/** Every outcome of each endpoint (the metric's series, created at zero). */
export const OAUTH_OUTCOMES: { readonly introspect: readonly IntrospectionOutcome[]; readonly revoke: readonly RevocationOutcome[] } = {
  introspect: ['active', 'inactive', ...REFUSALS],
  revoke: ['revoked_access_token', 'ended_session', 'ignored', 'unsupported_token_type', ...REFUSALS],
};
