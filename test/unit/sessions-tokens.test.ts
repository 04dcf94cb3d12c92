import { describe, expect, it } from 'vitest';
import { createRefreshTokens, isRoutableUserId, newSessionId } from '../../src/sessions/refresh-token.js';
import { CUTOFF_MEMBER, cutoffFromScore, cutoffScore, lookupMembers, revokedByScores } from '../../src/sessions/revocation-markers.js';

describe('refresh tokens', () => {
  const key = Buffer.alloc(32, 1);
  const tokens = createRefreshTokens(key);

  it('name their user, session and generation under a 256-bit MAC: the same inputs, the same token', () => {
    const sid = newSessionId();
    const token = tokens.issue('user-ü-1', sid, 3);
    const mac = token.split('.')[3]!;
    expect(Buffer.from(mac, 'base64url')).toHaveLength(32);
    expect(tokens.verify(token)).toEqual({ userId: 'user-ü-1', sessionId: sid, generation: 3 });
    expect(tokens.issue('user-ü-1', sid, 3)).toBe(token);
    expect(tokens.issue('user-ü-1', sid, 4)).not.toBe(token);
  });

  it('refuses a made-up token for a real session: without the key the MAC does not verify', () => {
    const sid = newSessionId();
    const real = tokens.issue('u1', sid, 1);
    const [user, , , mac] = real.split('.') as [string, string, string, string];
    expect(createRefreshTokens(Buffer.alloc(32, 2)).verify(real)).toBeUndefined();
    // Another generation, another session, another user with the same MAC: nothing verifies.
    expect(tokens.verify(`${user}.${sid}.2.${mac}`)).toBeUndefined();
    expect(tokens.verify(`${user}.${newSessionId()}.1.${mac}`)).toBeUndefined();
    expect(tokens.verify(`${Buffer.from('u2').toString('base64url')}.${sid}.1.${mac}`)).toBeUndefined();
  });

  it('verifies under a retired key too (rotation), and signs with the first', () => {
    const old = createRefreshTokens(Buffer.alloc(32, 9));
    const both = createRefreshTokens([key, Buffer.alloc(32, 9)]);
    const token = old.issue('u1', newSessionId(), 1);
    expect(both.verify(token)?.userId).toBe('u1');
    expect(tokens.verify(both.issue('u1', newSessionId(), 1))?.userId).toBe('u1');
    expect(() => createRefreshTokens(Buffer.alloc(16))).toThrow(/32 bytes/);
  });

  it('refuses anything not shaped exactly like one, and user ids that would leave their hash tag', () => {
    const token = tokens.issue('u1', newSessionId(), 1);
    const [user, sid, gen, mac] = token.split('.') as [string, string, string, string];
    for (const bad of ['', 'a.b.c.d', `${user}.${sid}.${gen}`, `${token}.x`, `${token}A`, `${user}=.${sid}.${gen}.${mac}`, `.${sid}.${gen}.${mac}`,
      `${user}.${sid}.0.${mac}`, `${user}.${sid}.01.${mac}`, `${user}.${sid}.-1.${mac}`, 'x'.repeat(600)]) {
      expect(tokens.verify(bad)).toBeUndefined();
    }
    // The last character's unused bits: one MAC, one spelling.
    const last = mac.at(-1)!;
    const twin = `${user}.${sid}.${gen}.${mac.slice(0, -1)}${String.fromCharCode(last.charCodeAt(0) + 1)}`;
    expect(tokens.verify(twin)).toBeUndefined();
    expect(() => tokens.issue('a{b}', newSessionId(), 1)).toThrow(/key name/);
    expect(isRoutableUserId('x}')).toBe(false);
    expect(isRoutableUserId('{x')).toBe(false);
    expect(isRoutableUserId('x'.repeat(257))).toBe(false);
    expect(isRoutableUserId('8b9c-ü')).toBe(true);
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
