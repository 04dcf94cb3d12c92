/**
 * Values derived from the configuration, each rule written once. They used to be written out
 * where each store or endpoint was built, and drifted: a store that forgets a revocation before
 * every instance has stopped accepting the token lets a revoked token back in.
 */
import type { Config } from './config-types.js';

type ClockSettings = Pick<Config['jwt'], 'clockToleranceSeconds' | 'maxClockSkewSeconds'>;

/**
 * How long past its exp a shared store (Redis) keeps a token's revocation and session
 * markers: the clock tolerance plus MAX_CLOCK_SKEW, because an instance whose clock is up to
 * MAX_CLOCK_SKEW behind Redis' still accepts the token that long after its exp (issue 10).
 */
export function storeExpiryGraceSeconds(jwt: ClockSettings): number {
  return jwt.clockToleranceSeconds + jwt.maxClockSkewSeconds;
}

/**
 * How long past its exp a token may still be accepted by some instance: one may be up to
 * MAX_CLOCK_SKEW behind Redis while the one asked is as far ahead. cancelToken and the OAuth
 * revocation endpoint treat a token as live (worth revoking) for that long.
 */
export function acceptanceGraceSeconds(jwt: ClockSettings): number {
  return jwt.clockToleranceSeconds + 2 * jwt.maxClockSkewSeconds;
}
