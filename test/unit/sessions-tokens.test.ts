import { describe, expect, it } from 'vitest';
import { hashRefreshToken, newRefreshToken, newSessionId, openSuccessor, parseRefreshToken, sealSuccessor } from '../../src/sessions/refresh-token.js';
import { CUTOFF_MEMBER, cutoffFromScore, cutoffScore, lookupMembers, revokedByScores } from '../../src/sessions/revocation-markers.js';

describe('refresh tokens', () => {
  it('are opaque strings with a 256-bit secret that name their user and session', () => {
    const sid = newSessionId();
    const token = newRefreshToken('user-ü-1', sid);
    const secret = token.split('.')[2]!;
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(parseRefreshToken(token)).toEqual({ userId: 'user-ü-1', sessionId: sid });
    expect(newRefreshToken('user-ü-1', sid)).not.toBe(token);
    expect(hashRefreshToken(token)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses anything not shaped exactly like one', () => {
    const token = newRefreshToken('u1', newSessionId());
    const [user, sid, secret] = token.split('.') as [string, string, string];
    for (const bad of ['', 'a.b.c', `${user}.${sid}`, `${user}.${sid}.${secret}.x`, `${user}.${sid}.${secret}A`, `${user}=.${sid}.${secret}`, `.${sid}.${secret}`, 'x'.repeat(600)]) {
      expect(parseRefreshToken(bad)).toBeUndefined();
    }
  });

  it('seals a successor so that only the holder of the replaced token opens it', () => {
    const replaced = newRefreshToken('u1', newSessionId());
    const successor = newRefreshToken('u1', replaced.split('.')[1]!);
    const sealed = sealSuccessor(replaced, successor);
    expect(Buffer.from(sealed, 'base64url')).toHaveLength(48);
    expect(sealed).not.toContain(successor.split('.')[2]);
    expect(openSuccessor(replaced, sealed)).toBe(successor);
    expect(openSuccessor(successor, sealed)).toBeUndefined();
    expect(openSuccessor(replaced, sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA'))).toBeUndefined();
    expect(openSuccessor(replaced, '')).toBeUndefined();
  });
});

describe('the per-request verdict from one ZMSCORE', () => {
  const cutoff = 1_800_000_000_123;
  const score = String(cutoffScore(cutoff).toFixed(3));
  const token = { userId: 'u', jti: 'j', expiresAt: 1_800_000_900, sessionId: 's', issuedAtMs: cutoff };

  it('asks for the jti and the cutoff, plus the session markers when the token has a sid', () => {
    expect(lookupMembers({ userId: 'u', jti: 'j', expiresAt: 1 })).toEqual(['j', CUTOFF_MEMBER]);
    expect(lookupMembers(token)).toEqual(['j', '#c', '#s:s', '#k:s']);
    expect(cutoffFromScore(Number(score))).toBe(cutoff);
  });

  it('refuses a revoked jti or an ended session whatever the rest', () => {
    expect(revokedByScores(token, ['1', null, null, null])).toBe(true);
    expect(revokedByScores(token, [null, null, '1', null])).toBe(true);
    expect(revokedByScores(token, [null, null, null, null])).toBe(false);
  });

  it('applies the cutoff to tokens issued at or before it, to the millisecond, unless their session was kept by that very cutoff', () => {
    expect(revokedByScores({ ...token, issuedAtMs: cutoff }, [null, score, null, null])).toBe(true);
    expect(revokedByScores({ ...token, issuedAtMs: cutoff + 1 }, [null, score, null, null])).toBe(false);
    expect(revokedByScores({ ...token, issuedAtMs: cutoff - 5000 }, [null, score, null, score])).toBe(false);
    // A session kept by an older cutoff is not kept by this one.
    expect(revokedByScores({ ...token, issuedAtMs: cutoff - 5000 }, [null, score, null, String(cutoffScore(cutoff - 10_000))])).toBe(true);
    // Without iat_ms: the whole second of iat counts as before (fails closed in the cutoff's second).
    const { issuedAtMs: _ms, ...secondsOnly } = token;
    expect(revokedByScores({ ...secondsOnly, issuedAt: Math.floor(cutoff / 1000) }, [null, score, null, null])).toBe(true);
    expect(revokedByScores({ ...secondsOnly, issuedAt: Math.floor(cutoff / 1000) + 1 }, [null, score, null, null])).toBe(false);
  });
});
