import { createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenIssuer, JWS_ALGORITHMS, type JwsAlgorithm, type TokenIssuerOptions } from '../../src/index.js';

const key = createSecretKey(Buffer.from('test-secret-0123456789-abcdefghijklmnop'));
const base = { key, issuer: 'i', audience: 'a' } satisfies TokenIssuerOptions;

describe("the issuer's algorithm option", () => {
  it('is our own union: a misspelt algorithm does not compile (npm run typecheck), and is refused at construction', () => {
    // @ts-expect-error 'HS257' is not a JwsAlgorithm: this line is the compile-time half of the test.
    const misspelt: TokenIssuerOptions = { ...base, algorithm: 'HS257' };
    expect(() => createTokenIssuer(misspelt)).toThrow('createTokenIssuer: unknown algorithm "HS257"');
  });

  it('accepts every listed algorithm name and signs HS256 by default', () => {
    const names: JwsAlgorithm[] = [...JWS_ALGORITHMS];
    expect(names).toContain('EdDSA');
    expect(names).not.toContain('none');
    const issued = createTokenIssuer(base).issue({ id: 'u1', username: 'one' });
    const header = JSON.parse(Buffer.from(issued.token.split('.')[0] as string, 'base64url').toString('utf8'));
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
  });
});
