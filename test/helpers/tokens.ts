import { createHmac, createSecretKey } from 'node:crypto';

/** base64url of a JSON value (or of a raw string, when `raw`). */
export function segment(value: unknown, raw = false): string {
  return Buffer.from(raw ? String(value) : JSON.stringify(value)).toString('base64url');
}

/**
 * Signs header.payload with HMAC over `secret` by hand, so tests can build tokens that a
 * JWT library would refuse to produce (wrong claim types, odd headers).
 */
export function hmacToken(
  header: Record<string, unknown>,
  payload: unknown,
  secret: string,
  hash: 'sha256' | 'sha384' | 'sha512' = 'sha256',
): string {
  const signingInput = `${segment(header)}.${segment(payload)}`;
  const signature = createHmac(hash, secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

/** The standard claims of a valid token for `userId`, at `nowSeconds`. */
export function validClaims(
  userId: string,
  nowSeconds: number,
  overrides: Record<string, unknown> = {},
  issuer = 'graphql-revoke',
  audience = 'graphql-revoke',
): Record<string, unknown> {
  return {
    sub: userId,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    iat: nowSeconds,
    exp: nowSeconds + 900,
    iss: issuer,
    aud: audience,
    ...overrides,
  };
}

/** An HS256 KeyObject for a string secret. */
export function secretKey(secret: string) {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/** A token's header, decoded as JSON without any check. */
export function decodeHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'));
}

/** A token's payload (its claims), decoded as JSON without any check. */
export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}
