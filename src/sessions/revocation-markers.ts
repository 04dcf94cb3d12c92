/**
 * What the per-request check asks, whatever was revoked: one `ZMSCORE` on the user's
 * revoked set (the same key as today's per-jti entries) for up to four members:
 *
 * - `jti`           the token itself was revoked (cancelToken, or moved there by cancelAllMyTokens);
 * - `#s:<sid>`      its session was ended (cancelSession, a reused refresh token);
 * - `#c`            the user's cutoff: every token issued before it is refused (cancelAllMyTokens,
 *                   changePassword), recorded or not (a token minted by another process that
 *                   shares the signing key, with a fresh jti, is refused too);
 * - `#k:<sid>`      the session kept by that cutoff (`exceptCurrentSession`): present with the
 *                   same score as `#c`, the cutoff does not apply to this session's tokens.
 *
 * Members of our own start with `#`, which no jti of ours contains (base64url); a foreign
 * token whose jti spells a marker is refused, never accepted, so a collision fails closed.
 *
 * Scores are "keep until" times in seconds, like the jti entries, so the existing pruning
 * (`ZREMRANGEBYSCORE -inf (now`) and key expiry (EXPIREAT at the largest score) keep
 * working unchanged. The cutoff needs its time too: its score is `cutoffMs / 1000 +
 * CUTOFF_RETENTION_SECONDS` with millisecond precision, a protocol constant (not a
 * setting), so every instance reads the same cutoff back whatever its configuration.
 *
 * The same-second rule. `iat` is in seconds: a cutoff in second S would refuse or accept
 * a whole second of tokens. So tokens carry `iat_ms`, and a token is refused when
 * `iat_ms <= cutoffMs`. Both times come from ONE place, Redis: the cutoff is Redis's
 * `TIME` inside the cancelAllMyTokens script, and every session token's `iat_ms` is
 * stamped by the script that recorded it (sign-in, refresh) as `max(TIME, cutoff + 1)`,
 * and Redis runs scripts one at a time. So a token recorded after the answer is accepted,
 * even in the same millisecond, even if Redis's clock stepped back (a failover to a
 * skewed replica); a token minted elsewhere and never recorded is refused if its
 * `iat_ms` is at or before the cutoff (fails closed in the cutoff's millisecond), or, if
 * it has no `iat_ms`, anywhere in the cutoff's second. What this does not cover: a token
 * minted elsewhere with a lifetime above CUTOFF_RETENTION_SECONDS, once the cutoff has
 * aged out; and a token minted elsewhere claiming an `iat_ms` after the cutoff (whoever
 * holds the signing key can mint anything).
 */
import type { TokenRef } from '../auth/token.js';

/** The user's cutoff. */
export const CUTOFF_MEMBER = '#c';

/** How long a cutoff is kept: tokens issued before it with a longer lifetime survive it. 24 h. */
export const CUTOFF_RETENTION_SECONDS = 86_400;

/** The member that says a session was ended. */
export function sessionEndedMember(sessionId: string): string {
  return `#s:${sessionId}`;
}

/** The member that exempts a session from the cutoff of the same score. */
export function keptSessionMember(sessionId: string): string {
  return `#k:${sessionId}`;
}

/** The members the per-request ZMSCORE asks for, in the order {@link revokedByScores} reads them. */
export function lookupMembers(token: TokenRef): string[] {
  return token.sessionId === undefined
    ? [token.jti, CUTOFF_MEMBER]
    : [token.jti, CUTOFF_MEMBER, sessionEndedMember(token.sessionId), keptSessionMember(token.sessionId)];
}

/** The cutoff (ms) a `#c` score stands for. */
export function cutoffFromScore(score: number): number {
  return Math.round(score * 1000) - CUTOFF_RETENTION_SECONDS * 1000;
}

/** The score of a cutoff at `cutoffMs`, as written by the scripts (3 decimals). */
export function cutoffScore(cutoffMs: number): number {
  return (cutoffMs + CUTOFF_RETENTION_SECONDS * 1000) / 1000;
}

/** When the token was issued, in ms, for the cutoff: iat_ms, else the start of iat's second; unknown: never after a cutoff. */
function issuedAtMs(token: TokenRef): number {
  if (token.issuedAtMs !== undefined) return token.issuedAtMs;
  if (token.issuedAt !== undefined) return Math.floor(token.issuedAt) * 1000;
  return Number.NEGATIVE_INFINITY;
}

/**
 * The verdict from the scores of {@link lookupMembers} (null: absent). Scores are numbers or
 * the strings Redis returns; `#k` exempts only if its score equals `#c`'s exactly.
 */
export function revokedByScores(token: TokenRef, scores: readonly (string | number | null | undefined)[]): boolean {
  const [jti, cutoff, ended, kept] = scores;
  if (jti !== null && jti !== undefined) return true;
  if (ended !== null && ended !== undefined) return true;
  if (cutoff === null || cutoff === undefined) return false;
  if (issuedAtMs(token) > cutoffFromScore(Number(cutoff))) return false;
  return !(kept !== null && kept !== undefined && Number(kept) === Number(cutoff));
}
