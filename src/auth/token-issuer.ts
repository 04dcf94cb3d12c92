import { randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JWS_ALGORITHMS, type JwsAlgorithm } from '../config/jwt-keys.js';
import { formatScopeClaim } from './scopes.js';
import { systemClock, type Clock, type VerifiedToken } from './token.js';

/** Options of {@link createTokenIssuer}. */
export interface TokenIssuerOptions {
  /** The signing key, built once (crypto.createSecretKey / createPrivateKey). */
  key: KeyObject;
  /** Default 'HS256'. EdDSA (Ed25519) is signed with node:crypto: jsonwebtoken 9 lacks it. */
  algorithm?: JwsAlgorithm;
  /** Key id written into the header, when set. */
  keyId?: string | undefined;
  issuer: string;
  audience: string;
  /** Lifetime of an access token, in seconds. Default 900. */
  ttlSeconds?: number;
  /** Default Date.now. */
  now?: Clock;
  /** Default: 16 random bytes, base64url (22 characters, 128 bits). */
  generateId?: () => string;
}

/** A freshly signed token and its claims. */
export interface IssuedToken extends VerifiedToken {
  readonly token: string;
}

/** What a session adds to an access token (see src/sessions/). */
export interface SessionClaims {
  /** Written as `sid`. */
  sessionId?: string;
  /** Issued at, in ms (the store's clock): `iat` is its second, `iat_ms` the exact value. */
  issuedAtMs?: number;
  /** The jti, when the caller chose it (it was recorded before signing). */
  jti?: string;
  /** When the user last proved their password, in ms (the session's): written as `auth_time`, in seconds. */
  authTimeMs?: number;
}

/** Signs access tokens. */
export interface TokenIssuer {
  /**
   * `scopes`, when there are any, are written into the `scope` claim, space-separated;
   * `claims` are what a session adds (sid, iat_ms, a jti chosen and recorded beforehand).
   */
  issue(user: { id: string; username: string; scopes?: readonly string[] | undefined }, claims?: SessionClaims): IssuedToken;
  /** The lifetime of the tokens it signs, in seconds. */
  readonly ttlSeconds: number;
}

/** The default jti: short (22 chars) yet 128 bits, which keeps blacklist entries small. */
export function randomTokenId(): string {
  return randomBytes(16).toString('base64url');
}

function signEdDSA(header: object, payload: object, key: KeyObject): string {
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${signingInput}.${cryptoSign(null, Buffer.from(signingInput), key).toString('base64url')}`;
}

/** Builds a {@link TokenIssuer}; throws at once on bad options. */
export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  const algorithm = options.algorithm ?? 'HS256';
  if (!JWS_ALGORITHMS.includes(algorithm)) {
    throw new Error(`createTokenIssuer: unknown algorithm ${JSON.stringify(algorithm)}; use one of ${JWS_ALGORITHMS.join(', ')}`);
  }
  const ttlSeconds = options.ttlSeconds ?? 900;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new Error(`Token TTL must be a positive integer number of seconds, got ${ttlSeconds}`);
  }
  if (algorithm === 'EdDSA' && (options.key.type !== 'private' || options.key.asymmetricKeyType !== 'ed25519')) {
    throw new Error('createTokenIssuer: EdDSA needs an Ed25519 private key');
  }
  const now = options.now ?? systemClock;
  const generateId = options.generateId ?? randomTokenId;
  const header = { alg: algorithm, typ: 'JWT', ...(options.keyId ? { kid: options.keyId } : {}) };

  return {
    ttlSeconds,
    issue(user, claims = {}) {
      const issuedAtMs = claims.issuedAtMs ?? now();
      const issuedAt = Math.floor(issuedAtMs / 1000);
      const expiresAt = issuedAt + ttlSeconds;
      const jti = claims.jti ?? generateId();
      const scope = formatScopeClaim(user.scopes ?? []);
      const authTime = claims.authTimeMs !== undefined ? Math.min(Math.floor(claims.authTimeMs / 1000), issuedAt) : undefined;
      // Claims are written explicitly (not through jsonwebtoken's expiresIn/jwtid options)
      // so that what we record in the store is exactly what the token says.
      const payload = {
        sub: user.id,
        jti,
        iat: issuedAt,
        exp: expiresAt,
        iss: options.issuer,
        aud: options.audience,
        preferred_username: user.username,
        // Only when there are scopes: a token without any stays as it was.
        ...(scope ? { scope } : {}),
        ...(claims.sessionId !== undefined ? { sid: claims.sessionId } : {}),
        // Never after iat: the verifier refuses a token whose auth_time is.
        ...(authTime !== undefined ? { auth_time: authTime } : {}),
        // Milliseconds: a per-user cutoff refuses tokens issued before it, and a token
        // issued after it in the same second must pass (src/sessions/revocation-markers.ts).
        iat_ms: issuedAtMs,
      };
      const token =
        algorithm === 'EdDSA'
          ? signEdDSA(header, payload, options.key)
          : jwt.sign(payload, options.key, { algorithm, header: header as jwt.JwtHeader });
      return {
        token,
        userId: user.id,
        jti,
        issuedAt,
        expiresAt,
        username: user.username,
        issuedAtMs,
        ...(claims.sessionId !== undefined ? { sessionId: claims.sessionId } : {}),
        ...(scope ? { scopes: scope.split(' ') } : {}),
        ...(authTime !== undefined ? { authTime } : {}),
      };
    },
  };
}
