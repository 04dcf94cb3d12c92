/** The claims of one of our access tokens, after verification. */
export interface VerifiedToken {
  /** The user id (`sub`). */
  readonly userId: string;
  /** The unique token id (`jti`): the blacklist is keyed by it, never by the raw token. */
  readonly jti: string;
  /** Issued at, seconds since the epoch (`iat`). */
  readonly issuedAt: number;
  /** Expiry, seconds since the epoch (`exp`). */
  readonly expiresAt: number;
  /** The username, when the token carries it (`preferred_username`, written by our issuer). */
  readonly username?: string;
  /** The session the token was issued in (`sid`), when it carries one. */
  readonly sessionId?: string;
  /**
   * Issued at in milliseconds: the `iat_ms` claim our issuer writes (stamped with the
   * store's clock for session tokens), else `iat` * 1000. Compared with a per-user cutoff.
   */
  readonly issuedAtMs?: number;
  /**
   * The scopes the token grants (`scope`: a space-separated string, or an array of strings),
   * when it carries any. Read by `@requiresScopes`.
   */
  readonly scopes?: readonly string[];
  /**
   * When the user last proved their password (`auth_time`, seconds since the epoch, as in
   * OpenID Connect): sign-in, sign-up, changePassword, reauthenticate. Carried unchanged by
   * refreshed tokens of the same session. Read by `@requiresFreshAuth`.
   */
  readonly authTime?: number;
}

/**
 * What the revocation store needs to know of a token. `issuedAt` when known: a store that
 * lost its data refuses tokens issued before the loss (src/safeguards/data-loss-watcher.ts);
 * `sessionId` and `issuedAtMs` for the session and per-user cutoff markers (src/sessions/).
 */
export type TokenRef = Pick<VerifiedToken, 'userId' | 'jti' | 'expiresAt'> &
  Partial<Pick<VerifiedToken, 'sessionId' | 'issuedAtMs' | 'issuedAt'>>;

/** A clock in milliseconds since the epoch; injected so tests need no sleeps. */
export type Clock = () => number;

/** The real clock. */
export const systemClock: Clock = () => Date.now();
