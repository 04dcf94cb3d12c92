/**
 * Refresh tokens: opaque to clients (not JWTs), `<user id, base64url>.<session id>.<generation>.<mac>`.
 *
 * - the user and session ids route the token to its user's keys (one hash tag, one Cluster slot);
 * - the generation counts the session's rotations (1 at sign-in, +1 at each rotation and reissue);
 * - the MAC is HMAC-SHA256, under a server key, of everything before it (256 bits, base64url).
 *
 * What this buys (issue 18):
 * - The store keeps only the session's current generation (and the lowest one still valid
 *   after a reissue), never a token or a hash: constant space per session however many
 *   rotations, and a copy of Redis holds nothing that refreshes.
 * - Reuse of ANY replaced token is seen, however many rotations ago: a token whose MAC verifies
 *   and whose generation is below the current one can only be one we handed out and then
 *   replaced, so it ends the session (REFRESH_TOKEN_REUSED).
 * - Someone who knows only a session id (every access token carries it) cannot end the session
 *   with a made-up token: without the key the MAC does not verify, and a token whose MAC does
 *   not verify is REFRESH_TOKEN_INVALID before the store is asked, whatever the account's state.
 * - The grace rule (the replaced token within REFRESH_REUSE_GRACE_SECONDS gets the current
 *   token back) needs nothing stored: the current token is rebuilt from the generation.
 *
 * Keys: the first key signs, every key verifies (key rotation). The server derives them from
 * the JWT keys (src/server/): a refresh token is as hard to forge as an access token.
 * User ids that could break the hash tag of a key name (`{`, `}`) are refused.
 */
import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const ID_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]+$/;
const GENERATION = /^[1-9][0-9]{0,14}$/;
const MAC_LABEL = 'graphql-revoke refresh token v2\0';

/** A refresh token taken apart (its MAC verified). */
export interface ParsedRefreshToken {
  userId: string;
  sessionId: string;
  /** 1 at sign-in, +1 at each rotation or reissue. */
  generation: number;
}

/** A new session id: 16 random bytes, base64url (22 characters). */
export function newSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/** True when a user id may reach a Redis key name: not empty, at most 256 characters, no hash-tag braces. */
export function isRoutableUserId(userId: string): boolean {
  return typeof userId === 'string' && userId.length > 0 && userId.length <= 256 && !/[{}]/.test(userId);
}

/** Issues and verifies refresh tokens under a server key. */
export interface RefreshTokens {
  /** The token of `generation` of the session: the same arguments, the same token. */
  issue(userId: string, sessionId: string, generation: number): string;
  /** The user, session and generation of a token whose shape and MAC verify; undefined otherwise. */
  verify(token: string): ParsedRefreshToken | undefined;
}

/**
 * Refresh tokens MAC'd with `keys` (the first signs, each verifies). Each key: at least 32 bytes
 * of secret (a Buffer or a secret KeyObject).
 */
export function createRefreshTokens(keys: Buffer | KeyObject | readonly (Buffer | KeyObject)[]): RefreshTokens {
  const list = (Array.isArray(keys) ? keys : [keys]) as readonly (Buffer | KeyObject)[];
  const secrets = list.map((k) => (Buffer.isBuffer(k) ? k : (k as KeyObject).export()));
  if (secrets.length === 0 || secrets.some((s) => !Buffer.isBuffer(s) || s.length < 32)) {
    throw new Error('refresh tokens: give at least one key of at least 32 bytes');
  }
  const mac = (secret: Buffer, body: string) => createHmac('sha256', secret).update(MAC_LABEL).update(body).digest();

  return {
    issue(userId, sessionId, generation) {
      if (!isRoutableUserId(userId)) throw new Error('refresh tokens: user id not usable in a key name');
      if (!Number.isSafeInteger(generation) || generation < 1) throw new Error('refresh tokens: generation must be an integer >= 1');
      const body = `${Buffer.from(userId, 'utf8').toString('base64url')}.${sessionId}.${generation}`;
      return `${body}.${mac(secrets[0] as Buffer, body).toString('base64url')}`;
    },
    verify(token) {
      if (typeof token !== 'string' || token.length > 512) return undefined;
      const parts = token.split('.');
      if (parts.length !== 4) return undefined;
      const [user, sessionId, generation, presented] = parts as [string, string, string, string];
      if (!B64URL.test(user) || !B64URL.test(sessionId) || !GENERATION.test(generation) || !B64URL.test(presented)) return undefined;
      if (sessionId.length !== 22 || presented.length !== 43) return undefined;
      const given = Buffer.from(presented, 'base64url');
      if (given.length !== 32 || given.toString('base64url') !== presented) return undefined;
      const body = `${user}.${sessionId}.${generation}`;
      if (!secrets.some((secret) => timingSafeEqual(mac(secret, body), given))) return undefined;
      const userId = Buffer.from(user, 'base64url').toString('utf8');
      // Canonical spelling only (one token, one string), and ids that stay inside their hash tag.
      if (Buffer.from(userId, 'utf8').toString('base64url') !== user || !isRoutableUserId(userId)) return undefined;
      return { userId, sessionId, generation: Number(generation) };
    },
  };
}
