import { describe, expect, it } from 'vitest';
import { formatScopeClaim, isValidScope, parseScopeClaim } from '../../src/auth/scopes.js';
import { createTokenIssuer } from '../../src/auth/token-issuer.js';
import { createTokenVerifier, TokenVerificationError } from '../../src/auth/token-verifier.js';
import { decodePayload, hmacToken, secretKey, validClaims } from '../helpers/tokens.js';

const SECRET = 'unit-test-secret-0123456789abcdefghij';
const NOW = 1_800_000_000_000;
const key = secretKey(SECRET);
const jwt = { issuer: 'graphql-revoke', audience: 'graphql-revoke', now: () => NOW };
const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...jwt });
const issuer = createTokenIssuer({ key, ...jwt });

describe('the scope claim', () => {
  it('is written sorted and space-separated when the user has scopes, and read back as a list', () => {
    const issued = issuer.issue({ id: 'u1', username: 'alice', scopes: ['tokens:admin', 'b', 'b'] });
    expect(decodePayload(issued.token).scope).toBe('b tokens:admin');
    expect(issued.scopes).toEqual(['b', 'tokens:admin']);
    expect(verifier.verify(issued.token).scopes).toEqual(['b', 'tokens:admin']);
    // The cached path answers the same claims.
    expect(verifier.verify(issued.token).scopes).toEqual(['b', 'tokens:admin']);
  });

  it('is left out of a token whose user has no scope', () => {
    const issued = issuer.issue({ id: 'u1', username: 'alice', scopes: [] });
    expect('scope' in decodePayload(issued.token)).toBe(false);
    expect(verifier.verify(issued.token).scopes).toBeUndefined();
  });

  it('is accepted as an array of strings from another issuer', () => {
    const token = hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u1', NOW / 1000, { scope: ['x', 'y'] }), SECRET);
    expect(verifier.verify(token).scopes).toEqual(['x', 'y']);
  });

  it('refuses a token whose scope is neither a string nor an array of strings', () => {
    for (const scope of [42, { admin: true }, ['ok', 3]]) {
      const token = hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims('u1', NOW / 1000, { scope }), SECRET);
      expect(() => verifier.verify(token)).toThrow(TokenVerificationError);
    }
  });

  it('parses and formats claims, and tells valid scope tokens (RFC 6749 §3.3)', () => {
    expect(parseScopeClaim(' a  b ')).toEqual(['a', 'b']);
    expect(parseScopeClaim(undefined)).toEqual([]);
    expect(parseScopeClaim(1)).toBeUndefined();
    expect(formatScopeClaim(new Set(['z', 'a']))).toBe('a z');
    expect(isValidScope('tokens:admin')).toBe(true);
    for (const bad of ['', 'two words', 'quote"', 'back\\slash', 'é', 'x'.repeat(129)]) expect(isValidScope(bad)).toBe(false);
  });
});
