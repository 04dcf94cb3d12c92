import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { createTokenIssuer } from '../../src/auth/token-issuer.js';
import { CACHE_ADMIT_EVERY, createTokenVerifier, TokenVerificationError } from '../../src/auth/token-verifier.js';
import { decodeHeader, decodePayload, hmacToken, secretKey, segment, validClaims } from '../helpers/tokens.js';

const SECRET = 'unit-test-secret-0123456789abcdefghij';
const NOW = 1_800_000_000_000; // fixed clock, ms
const nowS = NOW / 1000;
const key = secretKey(SECRET);
const verifier = createTokenVerifier({
  keys: [{ key, algorithm: 'HS256' }],
  issuer: 'graphql-revoke',
  audience: 'graphql-revoke',
  now: () => NOW,
});
const issuer = createTokenIssuer({ key, issuer: 'graphql-revoke', audience: 'graphql-revoke', now: () => NOW, ttlSeconds: 900 });

function reasonOf(token: string): string {
  try {
    verifier.verify(token);
  } catch (error) {
    expect(error).toBeInstanceOf(TokenVerificationError);
    return (error as TokenVerificationError).reason;
  }
  return 'ACCEPTED';
}

describe('token issuer and verifier', () => {
  it('issues a token whose claims the verifier returns exactly', () => {
    const issued = issuer.issue({ id: 'user-1', username: 'alice' });
    const verified = verifier.verify(issued.token);
    expect(verified).toEqual({ userId: 'user-1', jti: issued.jti, issuedAt: nowS, issuedAtMs: nowS * 1000, expiresAt: nowS + 900, username: 'alice' });
    expect(issued.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(decodeHeader(issued.token)).toMatchObject({ alg: 'HS256', typ: 'JWT' });
  });

  it('gives every token a distinct jti', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => issuer.issue({ id: 'u', username: 'u' }).jti));
    expect(ids.size).toBe(1000);
  });

  it('accepts a hand-built token with exactly the required claims', () => {
    expect(reasonOf(hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u1', nowS), SECRET))).toBe('ACCEPTED');
  });

  it('refuses a token signed with another secret', () => {
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS), 'another-secret-0123456789abcdefghijk'))).toBe('TOKEN_INVALID');
  });

  it('refuses alg none and other algorithms, even keyed with the real secret', () => {
    const claims = validClaims('u1', nowS);
    expect(reasonOf(`${segment({ alg: 'none' })}.${segment(claims)}.`)).toBe('TOKEN_INVALID');
    expect(reasonOf(hmacToken({ alg: 'HS512' }, claims, SECRET, 'sha512'))).toBe('TOKEN_INVALID');
    expect(reasonOf(hmacToken({ alg: 'HS384' }, claims, SECRET, 'sha384'))).toBe('TOKEN_INVALID');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(reasonOf(jwt.sign(claims, privateKey, { algorithm: 'RS256' }))).toBe('TOKEN_INVALID');
  });

  it('refuses an expired token as TOKEN_EXPIRED, within the clock tolerance it still accepts', () => {
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS - 1000, { exp: nowS - 6 }), SECRET))).toBe('TOKEN_EXPIRED');
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS - 1000, { exp: nowS - 3 }), SECRET))).toBe('ACCEPTED');
  });

  it('refuses a token not yet valid (nbf) or issued in the future', () => {
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { nbf: nowS + 60 }), SECRET))).toBe('TOKEN_INVALID');
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { iat: nowS + 60 }), SECRET))).toBe('TOKEN_INVALID');
  });

  it('refuses a token whose iat is after its exp', () => {
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { iat: nowS + 3, exp: nowS + 2 }), SECRET))).toBe('TOKEN_INVALID');
  });

  it('refuses a wrong issuer or audience', () => {
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { iss: 'evil' }), SECRET))).toBe('TOKEN_INVALID');
    expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { aud: 'other-api' }), SECRET))).toBe('TOKEN_INVALID');
  });

  const claimCases: Array<[string, unknown]> = [
    ['missing', undefined],
    ['null', null],
    ['boolean', true],
    ['object', { a: 1 }],
    ['array', ['x']],
    ['empty string', ''],
  ];
  for (const claim of ['sub', 'jti', 'iat', 'exp', 'iss', 'aud']) {
    for (const [label, value] of claimCases) {
      it(`refuses ${claim} ${label}`, () => {
        const claims = validClaims('u1', nowS);
        if (value === undefined) delete claims[claim];
        else claims[claim] = value;
        expect(reasonOf(hmacToken({ alg: 'HS256' }, claims, SECRET))).toBe('TOKEN_INVALID');
      });
    }
  }

  it('refuses a numeric sub or jti, and a string exp or iat', () => {
    for (const [claim, value] of [['sub', 42], ['jti', 7], ['exp', String(nowS + 900)], ['iat', String(nowS)]] as const) {
      expect(reasonOf(hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { [claim]: value }), SECRET))).toBe('TOKEN_INVALID');
    }
  });

  it('refuses payloads that are not JSON objects, and malformed tokens', () => {
    const header = segment({ alg: 'HS256' });
    for (const payload of ['"a string"', '[1,2,3]', 'not json', '42']) {
      const input = `${header}.${segment(payload, true)}`;
      const sig = hmacToken({ alg: 'HS256' }, {}, SECRET).split('.')[2];
      expect(reasonOf(`${input}.${sig}`)).toBe('TOKEN_INVALID');
    }
    for (const bad of ['', 'a', 'a.b', 'a.b.c.d', '...', 'x'.repeat(10_000)]) expect(reasonOf(bad)).toBe('TOKEN_INVALID');
  });

  it('picks the key by kid when several are configured, and refuses an unknown kid', () => {
    const previous = secretKey('previous-secret-0123456789abcdefghijk');
    const rotating = createTokenVerifier({
      keys: [
        { key, algorithm: 'HS256', kid: 'current' },
        { key: previous, algorithm: 'HS256', kid: 'previous' },
      ],
      issuer: 'graphql-revoke',
      audience: 'graphql-revoke',
      now: () => NOW,
    });
    const claims = validClaims('u1', nowS);
    expect(rotating.verify(hmacToken({ alg: 'HS256', kid: 'previous' }, claims, 'previous-secret-0123456789abcdefghijk')).userId).toBe('u1');
    expect(() => rotating.verify(hmacToken({ alg: 'HS256', kid: '../../etc/passwd' }, claims, SECRET))).toThrow(TokenVerificationError);
    expect(() => rotating.verify(hmacToken({ alg: 'HS256', kid: 'current' }, claims, 'previous-secret-0123456789abcdefghijk'))).toThrow(TokenVerificationError);
  });

  it('resolves a header the same way whether it is spelled canonically (no parse) or not', () => {
    const previousSecret = 'previous-secret-0123456789abcdefghijk';
    const rotating = createTokenVerifier({
      keys: [
        { key, algorithm: 'HS256', kid: 'current' },
        { key: secretKey(previousSecret), algorithm: 'HS256', kid: 'previous' },
        // No kid and not first: no header reaches it, in either spelling.
        { key: secretKey('unreachable-secret-0123456789abcdefgh'), algorithm: 'HS256' },
      ],
      issuer: 'graphql-revoke',
      audience: 'graphql-revoke',
      now: () => NOW,
      cacheSize: 0,
    });
    const claims = validClaims('u1', nowS);
    const outcome = (token: string) => {
      try {
        return rotating.verify(token).userId;
      } catch (error) {
        return (error as TokenVerificationError).reason;
      }
    };
    const cases: [Record<string, unknown>, Record<string, unknown>, string, string][] = [
      // canonical spelling, other spelling, secret, expected
      [{ alg: 'HS256', typ: 'JWT' }, { typ: 'JWT', alg: 'HS256' }, SECRET, 'u1'], // no kid: the first key
      [{ alg: 'HS256', typ: 'JWT' }, { typ: 'JWT', alg: 'HS256' }, previousSecret, 'TOKEN_INVALID'],
      [{ alg: 'HS256', typ: 'JWT' }, { typ: 'JWT', alg: 'HS256' }, 'unreachable-secret-0123456789abcdefgh', 'TOKEN_INVALID'],
      [{ alg: 'HS256', typ: 'JWT', kid: 'previous' }, { kid: 'previous', alg: 'HS256', typ: 'JWT' }, previousSecret, 'u1'],
      [{ alg: 'HS256', typ: 'JWT', kid: 'current' }, { kid: 'current', alg: 'HS256' }, previousSecret, 'TOKEN_INVALID'],
    ];
    for (const [canonical, other, secret, expected] of cases) {
      expect(outcome(hmacToken(canonical, claims, secret)), JSON.stringify(canonical)).toBe(expected);
      expect(outcome(hmacToken(other, claims, secret)), JSON.stringify(other)).toBe(expected);
    }
  });

  it('decodes payloads of any size up to the length limit, before and after a larger one, in UTF-8', () => {
    const fresh = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], issuer: 'graphql-revoke', audience: 'graphql-revoke', now: () => NOW, cacheSize: 0 });
    for (const name of ['a', 'é'.repeat(2500), 'b'.repeat(5500), 'ünïcødé ✓', 'z'.repeat(40)]) {
      const token = hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u1', nowS, { preferred_username: name }), SECRET);
      expect(token.length).toBeLessThan(8192);
      expect(fresh.verify(token).username).toBe(name);
    }
  });

  it('verifyIgnoringExpiry accepts an expired token but still checks its signature', () => {
    const expired = hmacToken({ alg: 'HS256' }, validClaims('u1', nowS - 5000, { exp: nowS - 4000 }), SECRET);
    expect(verifier.verifyIgnoringExpiry(expired).userId).toBe('u1');
    expect(() => verifier.verifyIgnoringExpiry(expired.slice(0, -2) + 'xx')).toThrow(TokenVerificationError);
  });
});

describe('session claims', () => {
  it('returns sid and iat_ms as written by the issuer', () => {
    const issued = issuer.issue({ id: 'user-1', username: 'alice' }, { sessionId: 'sess-1', issuedAtMs: NOW + 123, jti: 'chosen-jti' });
    expect(decodePayload(issued.token)).toMatchObject({ sid: 'sess-1', iat_ms: NOW + 123, iat: nowS, jti: 'chosen-jti' });
    expect(verifier.verify(issued.token)).toMatchObject({ sessionId: 'sess-1', issuedAtMs: NOW + 123, issuedAt: nowS, jti: 'chosen-jti' });
  });

  it('writes auth_time (seconds, never after iat) and returns it as authTime; refuses one after iat or not a NumericDate', () => {
    const issued = issuer.issue({ id: 'u', username: 'u' }, { sessionId: 's', authTimeMs: NOW - 61_500 });
    expect(decodePayload(issued.token).auth_time).toBe(nowS - 62);
    expect(issued.authTime).toBe(nowS - 62);
    expect(verifier.verify(issued.token).authTime).toBe(nowS - 62);
    // An auth time after the issue time (a clock stepped back) is written as iat.
    expect(decodePayload(issuer.issue({ id: 'u', username: 'u' }, { authTimeMs: NOW + 5000 }).token).auth_time).toBe(nowS);
    expect(verifier.verify(issuer.issue({ id: 'u', username: 'u' }).token).authTime).toBeUndefined();
    for (const auth_time of [nowS + 1, '1', -1, null]) {
      expect(reasonOf(hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u', nowS, { auth_time }), SECRET))).toBe('TOKEN_INVALID');
    }
    expect(verifier.verify(hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u', nowS, { auth_time: nowS }), SECRET)).authTime).toBe(nowS);
  });

  it('refuses an iat_ms outside iat\'s second, or not an integer, and a sid that is not a string', () => {
    for (const overrides of [{ iat_ms: NOW - 1 }, { iat_ms: NOW + 1000 }, { iat_ms: NOW + 0.5 }, { iat_ms: String(NOW) }, { sid: 42 }, { sid: '' }]) {
      expect(reasonOf(hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u1', nowS, overrides), SECRET))).toBe('TOKEN_INVALID');
    }
    // Without iat_ms: iat's second, from its start.
    expect(verifier.verify(hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u1', nowS), SECRET)).issuedAtMs).toBe(NOW);
  });
});

describe('the verified-token cache', () => {
  function cachedVerifier(options: { cacheSize?: number; clock?: { now: number } } = {}) {
    const clock = options.clock ?? { now: NOW };
    return createTokenVerifier({
      keys: [{ key, algorithm: 'HS256' }],
      issuer: 'graphql-revoke',
      audience: 'graphql-revoke',
      now: () => clock.now,
      ...(options.cacheSize !== undefined ? { cacheSize: options.cacheSize } : {}),
    });
  }

  it('answers a token seen before with the claims it verified (the same frozen object)', () => {
    const v = cachedVerifier();
    const token = issuer.issue({ id: 'user-1', username: 'alice' }).token;
    const first = v.verify(token);
    expect(v.verify(token)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('verifies again, and refuses, a token whose payload is known but whose signature differs', () => {
    const v = cachedVerifier();
    const token = issuer.issue({ id: 'user-1', username: 'alice' }).token;
    v.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = signature[0] === 'A' ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(() => v.verify(`${header}.${payload}.${flipped}`)).toThrow(TokenVerificationError);
    expect(() => v.verify(`${header}.${payload}.`)).toThrow(TokenVerificationError);
    expect(() => v.verify(`${header}.${payload}.${signature}x`)).toThrow(TokenVerificationError);
    // Another secret's signature over the same header and payload.
    const forged = hmacToken(decodeHeader(token), decodePayload(token), 'another-secret-0123456789abcdefghijk');
    expect(() => v.verify(forged)).toThrow(TokenVerificationError);
    // The real token is still accepted.
    expect(v.verify(token).userId).toBe('user-1');
  });

  it('checks expiry on every use: a cached token that has expired is TOKEN_EXPIRED', () => {
    const clock = { now: NOW };
    const v = cachedVerifier({ clock });
    const token = hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { exp: nowS + 60 }), SECRET);
    expect(v.verify(token).userId).toBe('u1');
    clock.now = NOW + 64_000; // within the 5 s tolerance
    expect(v.verify(token).userId).toBe('u1');
    clock.now = NOW + 65_000;
    expect(() => v.verify(token)).toThrow(expect.objectContaining({ reason: 'TOKEN_EXPIRED' }));
    // verifyIgnoringExpiry still checks it in full and accepts it.
    expect(v.verifyIgnoringExpiry(token).userId).toBe('u1');
  });

  it('checks nbf and iat on every use: a clock set back before them refuses the cached token', () => {
    const clock = { now: NOW };
    const v = cachedVerifier({ clock });
    const token = hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { nbf: nowS + 3 }), SECRET);
    expect(v.verify(token).userId).toBe('u1');
    clock.now = NOW - 60_000;
    expect(() => v.verify(token)).toThrow(expect.objectContaining({ reason: 'TOKEN_INVALID' }));
  });

  it('never caches a refused token', () => {
    const clock = { now: NOW };
    const v = cachedVerifier({ clock });
    const early = hmacToken({ alg: 'HS256' }, validClaims('u1', nowS, { nbf: nowS + 60 }), SECRET);
    expect(() => v.verify(early)).toThrow(TokenVerificationError);
    clock.now = NOW + 60_000;
    const accepted = v.verify(early);
    expect(v.verify(early)).toBe(accepted);
  });

  it('keeps at most cacheSize tokens; full, it weighs one miss in CACHE_ADMIT_EVERY against the entry not used lately, and admits it if it was used more often', () => {
    const v = cachedVerifier({ cacheSize: 2 });
    const token = (id: string) => issuer.issue({ id, username: id }).token;
    const [a, b, m] = [token('a'), token('b'), token('m')];
    const firstA = v.verify(a);
    const firstB = v.verify(b);
    // Misses into the full cache are not considered: m, verified again each time, is not kept.
    const firstM = v.verify(m);
    for (let i = 2; i < CACHE_ADMIT_EVERY; i += 1) expect(v.verify(m)).not.toBe(firstM);
    expect(v.verify(a)).toBe(firstA);
    // The CACHE_ADMIT_EVERY-th miss is weighed: the hand passes a (used: it keeps it) and stops
    // at b, used once; m was used CACHE_ADMIT_EVERY times: it takes b's place.
    const admitted = v.verify(m);
    expect(v.verify(m)).toBe(admitted);
    expect(v.verify(a)).toBe(firstA);
    const againB = v.verify(b);
    expect(againB).not.toBe(firstB);
    expect(againB).toEqual(firstB);

    const uncached = cachedVerifier({ cacheSize: 0 });
    expect(uncached.verify(a)).not.toBe(uncached.verify(a));
    expect(() => cachedVerifier({ cacheSize: -1 })).toThrow(/cacheSize/);
  });

  it('does not let a token seen no more often than the entry it would evict take its place', () => {
    const v = cachedVerifier({ cacheSize: 2 });
    const token = (id: string) => issuer.issue({ id, username: id }).token;
    const [a, b] = [token('a'), token('b')];
    const firstA = v.verify(a);
    const firstB = v.verify(b);
    // 4 × CACHE_ADMIT_EVERY tokens seen once each, as many uses as b's: none is admitted.
    for (let i = 0; i < 4 * CACHE_ADMIT_EVERY; i += 1) v.verify(token(`once${i}`));
    expect(v.verify(a)).toBe(firstA);
    expect(v.verify(b)).toBe(firstB);
  });

  it('keeps hitting when more tokens cycle through it than it holds (insertion order never hits again)', () => {
    const tokens = Array.from({ length: 500 }, (_, i) => issuer.issue({ id: `c${i}`, username: `c${i}` }).token);
    function hitsInLastPass(policy: 'recency' | 'insertion-order'): number {
      const v = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], issuer: 'graphql-revoke', audience: 'graphql-revoke', now: () => NOW, cacheSize: 100, cachePolicy: policy });
      const last = new Map<string, unknown>();
      let hits = 0;
      for (let pass = 0; pass < 5; pass += 1) {
        hits = 0;
        for (const t of tokens) {
          const verified = v.verify(t);
          if (last.get(t) === verified) hits += 1;
          last.set(t, verified);
        }
      }
      return hits;
    }
    expect(hitsInLastPass('insertion-order')).toBe(0);
    // At most 100 of 500 can hit (the cache holds 100): those it holds stay (TinyLFU admission).
    expect(hitsInLastPass('recency')).toBeGreaterThanOrEqual(90);
  });

  it('lets a new working set in when the one it holds is no longer used', () => {
    const v = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], issuer: 'graphql-revoke', audience: 'graphql-revoke', now: () => NOW, cacheSize: 100 });
    const set = (name: string) => Array.from({ length: 100 }, (_, i) => issuer.issue({ id: `${name}${i}`, username: `${name}${i}` }).token);
    const [before, after] = [set('old'), set('new')];
    /** Hits in one pass over `tokens` (a hit answers with the object the previous pass got). */
    const last = new Map<string, unknown>();
    const pass = (tokens: string[]) => tokens.reduce((hits, t) => {
      const verified = v.verify(t);
      const hit = last.get(t) === verified;
      last.set(t, verified);
      return hits + (hit ? 1 : 0);
    }, 0);
    for (let i = 0; i < 20; i += 1) pass(before);
    expect(pass(before)).toBe(100);
    // The clients now hold other tokens: once these were used more often than the old ones
    // (a few passes), one miss in CACHE_ADMIT_EVERY takes an old one's place (measured: 0, 0,
    // 0, 12, 23, ... 61 at the 10th pass, 97 at the 30th).
    const hits = Array.from({ length: 30 }, () => pass(after));
    expect(hits[9]).toBeGreaterThanOrEqual(40);
    expect(hits.at(-1)).toBeGreaterThanOrEqual(90);
  });
});
