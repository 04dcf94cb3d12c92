/**
 * Asymmetric keys: JWT_ALGORITHM RS256 / ES256 / EdDSA with JWT_PRIVATE_KEY (and JWT_PUBLIC_KEY),
 * tokens with an RFC 7638 kid, GET /.well-known/jwks.json that another service can verify our
 * tokens with, rotation through JWT_PREVIOUS_PUBLIC_KEYS, and the keys refused at start.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asymmetricKeys, jwkThumbprint, splitPemBlocks } from '../../src/config/jwt-keys.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { decodeHeader, segment } from '../helpers/tokens.js';
import { httpRequest, startTestServer, TEST_SECRET, type TestServer } from '../helpers/test-server.js';

const ME = '{ me { id username } }';

type Kind = 'rsa' | 'ec' | 'ed25519';
function keyPair(kind: Kind, size = 2048) {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: size })
      : kind === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return {
    privatePem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    publicPem: pair.publicKey.export({ format: 'pem', type: 'spki' }) as string,
    publicKey: pair.publicKey,
  };
}

/** What another service does with our JWKS: pick the key by kid, check alg and signature. */
function verifyWithJwks(token: string, jwks: { keys: Array<Record<string, unknown>> }): boolean {
  const header = decodeHeader(token);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk || jwk.alg !== header.alg) return false;
  const key = createPublicKey({ key: jwk as never, format: 'jwk' });
  const [h, p, s] = token.split('.') as [string, string, string];
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  if (header.alg === 'EdDSA') return cryptoVerify(null, data, key, signature);
  if (header.alg === 'ES256') return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  return cryptoVerify('sha256', data, key, signature);
}

describe.each([
  ['RS256', 'rsa', { kty: 'RSA' }],
  ['ES256', 'ec', { kty: 'EC', crv: 'P-256' }],
  ['EdDSA', 'ed25519', { kty: 'OKP', crv: 'Ed25519' }],
] as const)('JWT_ALGORITHM=%s', (algorithm, kind, jwkShape) => {
  let server: TestServer;
  const keys = keyPair(kind);
  const kid = jwkThumbprint(keys.publicKey);

  beforeAll(async () => {
    server = await startTestServer({
      redisUrl: requireRedisUrl(),
      env: { JWT_ALGORITHM: algorithm, JWT_PRIVATE_KEY: keys.privatePem, JWT_PUBLIC_KEY: keys.publicPem },
    });
  });
  afterAll(() => server.close());

  it('issues tokens with the algorithm and the RFC 7638 thumbprint as kid, that the API accepts and revokes', async () => {
    const user = await server.signUp();
    expect(decodeHeader(user.token)).toEqual({ alg: algorithm, typ: 'JWT', kid });
    const me = await server.graphql(ME, { token: user.token });
    expect(me.status).toBe(200);
    expect(me.body.data.me).toEqual({ id: user.userId, username: user.username });
    expect((await server.graphql('mutation { cancelToken }', { token: user.token })).body.data.cancelToken).toBe(true);
    const after = await server.graphql(ME, { token: user.token });
    expect(after.status).toBe(401);
    expect(after.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
  });

  it('publishes the public key at /.well-known/jwks.json, and another service verifies our tokens with it', async () => {
    const url = new URL('/.well-known/jwks.json', server.url).toString();
    const answer = await httpRequest(url, { method: 'GET' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.headers.get('cache-control')).toBe('public, max-age=300');
    expect(answer.body.keys).toHaveLength(1);
    const [jwk] = answer.body.keys;
    expect(jwk).toMatchObject({ ...jwkShape, kid, alg: algorithm, use: 'sig' });
    // Public members only.
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(privateMember);
    const { token } = await server.signUp();
    expect(verifyWithJwks(token, answer.body)).toBe(true);
    expect(verifyWithJwks(`${token.slice(0, -6)}AAAAAA`, answer.body)).toBe(false);
    expect((await httpRequest(url, { method: 'POST' })).status).toBe(405);
  });
});

describe('JWKS on HS256', () => {
  it('is an empty key set: the secret is never published', async () => {
    const server = await startTestServer();
    try {
      const answer = await httpRequest(new URL('/.well-known/jwks.json', server.url).toString(), { method: 'GET' });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ keys: [] });
      const { token } = await server.signUp();
      // A kid that names the secret without revealing it (see hmac-rotation.test.ts).
      expect(decodeHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT', kid: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
    } finally {
      await server.close();
    }
  });
});

describe('rotation with JWT_PREVIOUS_PUBLIC_KEYS', () => {
  const oldKey = keyPair('rsa');
  const newKey = keyPair('ed25519');
  const unrelated = keyPair('ec');
  let before: TestServer;
  let after: TestServer;

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    before = await startTestServer({ redisUrl, env: { JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: oldKey.privatePem } });
    // The same deployment after the rotation: new key (another algorithm, even), the old one
    // retired but still verifying. PEMs one after the other; escaped newlines work too.
    after = await startTestServer({
      redisUrl,
      keyPrefix: before.config.redis.keyPrefix,
      env: {
        JWT_ALGORITHM: 'EdDSA',
        JWT_PRIVATE_KEY: newKey.privatePem.replace(/\n/g, '\\n'),
        JWT_PREVIOUS_PUBLIC_KEYS: `${oldKey.publicPem}\n${unrelated.publicPem}`,
      },
    });
  });
  afterAll(async () => {
    await before.close();
    await after.close();
  });

  it('accepts tokens of the retired key until they expire, and signs new ones with the new key', async () => {
    const user = await before.signUp();
    const old = await after.graphql(ME, { token: user.token });
    expect(old.status).toBe(200);
    expect(old.body.data.me.id).toBe(user.userId);
    const token = await after.signIn(user.username, user.password);
    expect(decodeHeader(token)).toMatchObject({ alg: 'EdDSA', kid: jwkThumbprint(newKey.publicKey) });
    // The old deployment does not know the new key.
    expect((await before.graphql(ME, { token })).status).toBe(401);
    // Revoking the old token on the new deployment works (same Redis).
    expect((await after.graphql('mutation { cancelToken }', { token: user.token })).body.data.cancelToken).toBe(true);
    const revoked = await after.graphql(ME, { token: user.token });
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');
  });

  it('publishes the current and the retired keys, each with its own algorithm', async () => {
    const answer = await httpRequest(new URL('/.well-known/jwks.json', after.url).toString(), { method: 'GET' });
    expect(answer.body.keys.map((k: { kid: string; alg: string }) => [k.kid, k.alg])).toEqual([
      [jwkThumbprint(newKey.publicKey), 'EdDSA'],
      [jwkThumbprint(oldKey.publicKey), 'RS256'],
      [jwkThumbprint(unrelated.publicKey), 'ES256'],
    ]);
  });

  it('refuses a retired kid used with another algorithm, and an old-key token once expired', async () => {
    const user = await before.signUp();
    const [, payload, signature] = user.token.split('.');
    const header = segment({ alg: 'EdDSA', typ: 'JWT', kid: jwkThumbprint(oldKey.publicKey) });
    const answer = await after.graphql(ME, { token: `${header}.${payload}.${signature}` });
    expect(answer.status).toBe(401);
    expect(answer.body.errors[0].extensions.reason).toBe('TOKEN_INVALID');
    // An old-key token past its expiry: the retired key does not stretch its life.
    const expiredIssuer = await startTestServer({
      env: { JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: oldKey.privatePem, ACCESS_TOKEN_TTL: '1' },
      now: () => Date.now() - 3600_000,
    });
    try {
      const { token } = await expiredIssuer.signUp();
      const expired = await after.graphql(ME, { token });
      expect(expired.status).toBe(401);
      expect(expired.body.errors[0].extensions.reason).toBe('TOKEN_EXPIRED');
    } finally {
      await expiredIssuer.close();
    }
  });
});

describe('keys refused at start (ConfigError, one clear line)', () => {
  const base = { JWT_SECRET: TEST_SECRET };
  const refuse = (env: Record<string, string>, message: RegExp) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  };
  const rsa1024 = keyPair('rsa', 1024);
  const rsa = keyPair('rsa');
  const ec = keyPair('ec');
  const ed = keyPair('ed25519');
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });

  it('refuses an RSA key under 2048 bits, current or retired', () => {
    refuse({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: rsa1024.privatePem }, /1024 bits refused; RS256 needs at least 2048/);
    refuse({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: rsa.privatePem, JWT_PREVIOUS_PUBLIC_KEYS: rsa1024.publicPem }, /JWT_PREVIOUS_PUBLIC_KEYS\[0\].*1024 bits/);
  });

  it('refuses a key whose type does not fit JWT_ALGORITHM', () => {
    refuse({ JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY: rsa.privatePem }, /key for RS256, but JWT_ALGORITHM is ES256/);
    refuse({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: ed.privatePem }, /key for EdDSA, but JWT_ALGORITHM is RS256/);
    refuse({ JWT_ALGORITHM: 'EdDSA', JWT_PRIVATE_KEY: ec.privatePem }, /key for ES256, but JWT_ALGORITHM is EdDSA/);
    refuse({ JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY: p384.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string }, /ES256 needs P-256/);
  });

  it('refuses a missing or unreadable private key, a public key that is not its pair, an unknown algorithm', () => {
    refuse({ JWT_ALGORITHM: 'RS256' }, /needs JWT_PRIVATE_KEY/);
    refuse({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: rsa.publicPem }, /JWT_PRIVATE_KEY is not a readable/);
    refuse({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: 'garbage' }, /JWT_PRIVATE_KEY is not a readable/);
    refuse({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: rsa.privatePem, JWT_PUBLIC_KEY: keyPair('rsa').publicPem }, /not the public half/);
    refuse({ JWT_ALGORITHM: 'HS512' }, /JWT_ALGORITHM must be one of HS256, RS256, ES256, EdDSA/);
    refuse({ JWT_ALGORITHM: 'none' }, /JWT_ALGORITHM must be one of/);
    refuse({ JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY: rsa.privatePem, JWT_PREVIOUS_PUBLIC_KEYS: 'not a pem' }, /PEM blocks/);
  });

  it('needs no JWT_SECRET in production with an asymmetric key', () => {
    const { config } = loadConfig({ NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:1', JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY: ec.privatePem });
    expect(config.jwt.algorithm).toBe('ES256');
    expect(config.jwt.keys.verification.map((k) => k.algorithm)).toEqual(['ES256']);
    expect(config.jwt.keys.signing.key.type).toBe('private');
    expect(config.jwt.keys.verification[0]!.key.type).toBe('public');
  });

  it('splits PEM blocks separated by newlines, spaces or commas', () => {
    expect(splitPemBlocks(`${rsa.publicPem},${ec.publicPem} ${ed.publicPem}`, 'X')).toHaveLength(3);
    expect(asymmetricKeys({ algorithm: 'EdDSA', privateKeyPem: ed.privatePem, previousPublicKeysPem: `${ed.publicPem}` }).verification).toHaveLength(1);
  });

  it('computes the RFC 7638 thumbprint from the required members in lexicographic order', () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    const expected = createHash('sha256').update(`{"e":"${jwk.e}","kty":"RSA","n":"${jwk.n}"}`).digest('base64url');
    expect(jwkThumbprint(rsa.publicKey as KeyObject)).toBe(expected);
    const okp = ed.publicKey.export({ format: 'jwk' });
    expect(jwkThumbprint(ed.publicKey)).toBe(createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${okp.x}"}`).digest('base64url'));
  });
});
