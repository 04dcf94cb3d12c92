import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { systemClock, type Clock, type VerifiedToken } from './token.js';

/** Why a token was refused. */
export type TokenFailure = 'TOKEN_INVALID' | 'TOKEN_EXPIRED';

/** Raised by {@link TokenVerifier.verify}; `detail` is for the log, never for the client. */
export class TokenVerificationError extends Error {
  override readonly name = 'TokenVerificationError';
  constructor(
    readonly reason: TokenFailure,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** One verification key, pinned to exactly one algorithm. */
export interface VerificationKey {
  key: KeyObject;
  algorithm: jwt.Algorithm;
  /** Matched against the token header's `kid` when several keys are configured. */
  kid?: string;
}

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** The accepted keys; the first is the current one. A token's `kid` selects among several. */
  keys: readonly VerificationKey[];
  issuer: string;
  audience: string;
  /** Allowed clock skew for exp, nbf and iat, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Tokens longer than this are refused before any parsing. Default 8192 characters. */
  maxTokenLength?: number;
  /** Default Date.now. */
  now?: Clock;
}

/** Verifies access tokens: signature, algorithm, and every claim we rely on. */
export interface TokenVerifier {
  /** Returns the verified claims or throws {@link TokenVerificationError}. */
  verify(token: string): VerifiedToken;
  /**
   * Like verify, but accepts an expired token (signature and every other claim are
   * still checked): used to decide who owns a token that is being cancelled.
   */
  verifyIgnoringExpiry(token: string): VerifiedToken;
}

const MAX_ID_LENGTH = 256;

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Builds a {@link TokenVerifier}; throws at once on bad options. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (options.keys.length === 0) throw new Error('createTokenVerifier: at least one key is required');
  if (!options.issuer || !options.audience) throw new Error('createTokenVerifier: issuer and audience are required');
  const tolerance = options.clockToleranceSeconds ?? 5;
  const maxLength = options.maxTokenLength ?? 8192;
  const now = options.now ?? systemClock;
  const keys = [...options.keys];
  const single = keys.length === 1 ? keys[0] : undefined;
  const byKid = new Map(keys.filter((k) => k.kid).map((k) => [k.kid as string, k]));

  function selectKey(token: string): VerificationKey {
    if (single) return single;
    // Several keys (rotation): the header's kid picks one. Only a lookup in our own
    // map: a kid is never used as a path, URL or query.
    let kid: unknown;
    try {
      const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
      kid = header?.kid;
    } catch {
      throw new TokenVerificationError('TOKEN_INVALID', 'unreadable header');
    }
    if (kid === undefined) return keys[0] as VerificationKey;
    const key = typeof kid === 'string' ? byKid.get(kid) : undefined;
    if (!key) throw new TokenVerificationError('TOKEN_INVALID', 'unknown kid');
    return key;
  }

  function check(token: string, ignoreExpiration: boolean): VerifiedToken {
    if (typeof token !== 'string' || token.length === 0 || token.length > maxLength) {
      throw new TokenVerificationError('TOKEN_INVALID', 'empty or oversized token');
    }
    const key = selectKey(token);
    const nowSeconds = Math.floor(now() / 1000);
    let payload: unknown;
    try {
      payload = jwt.verify(token, key.key, {
        algorithms: [key.algorithm],
        issuer: options.issuer,
        audience: options.audience,
        clockTimestamp: nowSeconds,
        clockTolerance: tolerance,
        ignoreExpiration,
      });
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw new TokenVerificationError('TOKEN_EXPIRED', 'expired');
      const message = error instanceof Error ? error.message : 'unverifiable';
      throw new TokenVerificationError('TOKEN_INVALID', message);
    }
    // jsonwebtoken checks iss/aud/exp/nbf when present; it does not require them, nor
    // check types of sub/jti/iat. Every claim we rely on is required here.
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new TokenVerificationError('TOKEN_INVALID', 'payload is not a JSON object');
    }
    const claims = payload as Record<string, unknown>;
    const { sub, jti, iat, exp, iss, aud } = claims;
    if (!isNonEmptyString(sub)) throw new TokenVerificationError('TOKEN_INVALID', 'sub missing or not a string');
    if (!isNonEmptyString(jti)) throw new TokenVerificationError('TOKEN_INVALID', 'jti missing or not a string');
    if (!isNumericDate(exp)) throw new TokenVerificationError('TOKEN_INVALID', 'exp missing or not a NumericDate');
    if (!isNumericDate(iat)) throw new TokenVerificationError('TOKEN_INVALID', 'iat missing or not a NumericDate');
    if (iat > exp) throw new TokenVerificationError('TOKEN_INVALID', 'iat after exp');
    if (iat > nowSeconds + tolerance) throw new TokenVerificationError('TOKEN_INVALID', 'iat in the future');
    if (typeof iss !== 'string') throw new TokenVerificationError('TOKEN_INVALID', 'iss missing or not a string');
    if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
      throw new TokenVerificationError('TOKEN_INVALID', 'aud missing or of the wrong type');
    }
    const username = claims.preferred_username;
    if (username !== undefined && typeof username !== 'string') {
      throw new TokenVerificationError('TOKEN_INVALID', 'preferred_username is not a string');
    }
    return { userId: sub, jti, issuedAt: iat, expiresAt: exp, ...(username ? { username } : {}) };
  }

  return {
    verify: (token) => check(token, false),
    verifyIgnoringExpiry: (token) => check(token, true),
  };
}
