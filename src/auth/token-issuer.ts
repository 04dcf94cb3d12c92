import { randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { systemClock, type Clock, type VerifiedToken } from './token.js';

/** Options of {@link createTokenIssuer}. */
export interface TokenIssuerOptions {
  /** The signing key, built once (crypto.createSecretKey / createPrivateKey). */
  key: KeyObject;
  /** Default 'HS256'. EdDSA (Ed25519) is signed with node:crypto: jsonwebtoken 9 lacks it. */
  algorithm?: Exclude<jwt.Algorithm, 'none'> | 'EdDSA';
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
}

/** Signs access tokens. */
export interface TokenIssuer {
  issue(user: { id: string; username: string }, claims?: SessionClaims): IssuedToken;
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
        ...(claims.sessionId !== undefined ? { sid: claims.sessionId } : {}),
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
      };
    },
  };
}
