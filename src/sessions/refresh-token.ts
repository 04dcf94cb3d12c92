/**
 * Refresh tokens: opaque to clients (not JWTs), `<user id, base64url>.<session id>.<secret>`
 * where the secret is 32 random bytes (256 bits). The user and session ids only route the
 * token to its user's keys (one hash tag, one Cluster slot); what proves possession is the
 * secret, and the store keeps only SHA-256 of the whole token. SHA-256 without a salt or
 * a slow KDF is enough for a 256-bit random secret: no dictionary to try.
 *
 * The grace rule hands the replaced token's holder the CURRENT refresh token, which the
 * store does not keep in clear: each rotation stores the successor sealed with AES-256-GCM
 * under a key derived from the token it replaces (SHA-256 of a label and that token), so
 * only a holder of the replaced token can open it, and a copy of Redis opens nothing. Only
 * the successor's secret is sealed (its user and session are the replaced token's), with a
 * fixed nonce: each key seals exactly one message, since a token is replaced at most once
 * (a reissue stores nothing sealed). 48 bytes: the tag and the 32-byte secret.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const SECRET_BYTES = 32;
const ID_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]+$/;
const SEAL_LABEL = 'graphql-revoke refresh successor v1\0';

/** A refresh token taken apart. */
export interface ParsedRefreshToken {
  userId: string;
  sessionId: string;
}

/** A new session id: 16 random bytes, base64url (22 characters). */
export function newSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/** A new refresh token for the session. */
export function newRefreshToken(userId: string, sessionId: string): string {
  return `${Buffer.from(userId, 'utf8').toString('base64url')}.${sessionId}.${randomBytes(SECRET_BYTES).toString('base64url')}`;
}

/** The user and session a token names, or undefined if it is not shaped like one of ours. */
export function parseRefreshToken(token: string): ParsedRefreshToken | undefined {
  if (typeof token !== 'string' || token.length > 512) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [user, sessionId, secret] = parts as [string, string, string];
  if (!B64URL.test(user) || !B64URL.test(sessionId) || !B64URL.test(secret)) return undefined;
  if (sessionId.length !== 22 || secret.length !== 43) return undefined;
  const userId = Buffer.from(user, 'base64url').toString('utf8');
  // Canonical spelling only: one token, one string.
  if (userId.length === 0 || Buffer.from(userId, 'utf8').toString('base64url') !== user) return undefined;
  return { userId, sessionId };
}

/** What the store keeps of a refresh token: SHA-256, base64url (43 characters). */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function sealKey(replaced: string): Buffer {
  return createHash('sha256').update(SEAL_LABEL).update(replaced).digest();
}

/** One key, one message (see the module comment): the nonce can be fixed. */
const NONCE = Buffer.alloc(12);

/** The secret of `successor` (a token of the same session) sealed for whoever holds `replaced`: base64url of tag | ciphertext. */
export function sealSuccessor(replaced: string, successor: string): string {
  const secret = Buffer.from(successor.slice(successor.lastIndexOf('.') + 1), 'base64url');
  const cipher = createCipheriv('aes-256-gcm', sealKey(replaced), NONCE);
  const body = Buffer.concat([cipher.update(secret), cipher.final()]);
  return Buffer.concat([cipher.getAuthTag(), body]).toString('base64url');
}

/** The successor {@link sealSuccessor} sealed, rebuilt; undefined if `replaced` is not the key. */
export function openSuccessor(replaced: string, sealed: string): string | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length !== 16 + SECRET_BYTES) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', sealKey(replaced), NONCE);
    decipher.setAuthTag(raw.subarray(0, 16));
    const secret = Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]);
    return `${replaced.slice(0, replaced.lastIndexOf('.'))}.${secret.toString('base64url')}`;
  } catch {
    return undefined;
  }
}
