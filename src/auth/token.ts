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
}

/** What the revocation store needs to know of a token. */
export type TokenRef = Pick<VerifiedToken, 'userId' | 'jti' | 'expiresAt'> &
  Partial<Pick<VerifiedToken, 'sessionId' | 'issuedAtMs' | 'issuedAt'>>;

/** A clock in milliseconds since the epoch; injected so tests need no sleeps. */
export type Clock = () => number;

/** The real clock. */
export const systemClock: Clock = () => Date.now();
