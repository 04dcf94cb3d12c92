/**
 * Hostile tokens, over HTTP against the real server on Redis: each is refused with 401,
 * code UNAUTHENTICATED and reason TOKEN_INVALID (TOKEN_EXPIRED only for a token that is only
 * expired), never a 5xx, never data; and the user's real token still works afterwards.
 * Tokens are built by hand (base64url JSON segments; HMAC with the real secret where only one
 * claim or header must be wrong; node:crypto for attacker RS256/ES256 keys).
 */
import { createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwkThumbprint } from '../../src/config/jwt-keys.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { decodeHeader, segment } from '../helpers/tokens.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/test-server.js';

const ME = '{ me { id username } }';
const nowS = () => Math.floor(Date.now() / 1000);

/** base64url of a raw string, or of any other value as JSON. */
function b64(value: unknown): string {
  return segment(value, typeof value === 'string');
}

/** header.payload signed with HMAC over `secret` (any hash), segments given raw or as JSON. */
function hmac(header: unknown, payload: unknown, secret: string | Buffer = TEST_SECRET, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/** header.payload signed with an asymmetric key: RS256 (PKCS#1 v1.5), ES256 (IEEE P1363), EdDSA. */
function asym(header: Record<string, unknown>, payload: unknown, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const alg = header.alg;
  const signature =
    alg === 'EdDSA'
      ? cryptoSign(null, Buffer.from(input), key)
      : cryptoSign('sha256', Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${signature.toString('base64url')}`;
}

/** Refusal expected of every hostile token. */
async function expectRefused(server: TestServer, token: string, reason: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' = 'TOKEN_INVALID') {
  const answer = await server.graphql(ME, { token });
  expect(answer.status, answer.text.slice(0, 300)).toBe(401);
  expect(answer.body?.data ?? null).toBeNull();
  expect(answer.body?.errors).toHaveLength(1);
  expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason });
  expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_(token|request)"$/);
  // Nothing of the token, or of why exactly, goes back to the client.
  expect(answer.text).not.toContain(token.slice(0, 40));
}

describe('hostile tokens on an HS256 server (Redis)', () => {
  let server: TestServer;
  let realToken: string;
  let otherToken: string;
  let userId: string;
  let username: string;
  let fetchedByAttackerServer = 0;
  let attackerServer: Server;
  let attackerUrl: string;
  const attackerRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attackerEc = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  /** Claims valid for the real user in every respect. */
  const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    sub: userId,
    jti: `hostile-${Math.random().toString(36).slice(2)}`,
    iat: nowS(),
    exp: nowS() + 600,
    iss: 'graphql-revoke',
    aud: 'graphql-revoke',
    ...overrides,
  });

  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl() });
    const user = await server.signUp();
    realToken = user.token;
    userId = user.userId;
    username = user.username;
    otherToken = await server.signIn(user.username, user.password);
    // Where jku / x5u point: the verifier must never fetch them.
    attackerServer = createHttpServer((_req, res) => {
      fetchedByAttackerServer += 1;
      res.end(JSON.stringify({ keys: [attackerRsa.publicKey.export({ format: 'jwk' })] }));
    });
    await new Promise<void>((resolve) => attackerServer.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attackerServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    try {
      // The real token, after every hostile one: still good.
      const answer = await server.graphql(ME, { token: realToken });
      expect(answer.status).toBe(200);
      expect(answer.body.data.me).toEqual({ id: userId, username });
      expect(fetchedByAttackerServer).toBe(0);
    } finally {
      await server.close();
      await new Promise((resolve) => attackerServer.close(resolve));
    }
  });

  async function refusedThenRealTokenWorks(token: string, reason: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' = 'TOKEN_INVALID') {
    await expectRefused(server, token, reason);
    const answer = await server.graphql(ME, { token: realToken });
    expect(answer.status).toBe(200);
    expect(answer.body.data.me.id).toBe(userId);
  }

  it('accepts the hand-built control token (valid claims, real secret): each case below changes one thing', async () => {
    const answer = await server.graphql(ME, { token: hmac({ alg: 'HS256', typ: 'JWT' }, claims()) });
    expect(answer.status).toBe(200);
    expect(answer.body.data.me.id).toBe(userId);
  });

  describe('alg none', () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      it(`refuses alg "${alg}" without a signature`, async () => {
        await refusedThenRealTokenWorks(`${b64({ alg, typ: 'JWT' })}.${b64(claims())}.`);
      });
      it(`refuses alg "${alg}" with the real secret's signature`, async () => {
        await refusedThenRealTokenWorks(hmac({ alg, typ: 'JWT' }, claims()));
      });
      it(`refuses alg "${alg}" with the signature of the real token`, async () => {
        await refusedThenRealTokenWorks(`${b64({ alg, typ: 'JWT' })}.${b64(claims())}.${realToken.split('.')[2]}`);
      });
    }
  });

  describe('other algorithms', () => {
    it('refuses HS384 signed with the real secret', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS384', typ: 'JWT' }, claims(), TEST_SECRET, 'sha384'));
    });
    it('refuses HS512 signed with the real secret', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS512', typ: 'JWT' }, claims(), TEST_SECRET, 'sha512'));
    });
    it('refuses "hs256" (the right algorithm, the wrong case) signed with the real secret', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'hs256', typ: 'JWT' }, claims()));
    });
    it('refuses RS256 signed with an attacker RSA key', async () => {
      await refusedThenRealTokenWorks(asym({ alg: 'RS256', typ: 'JWT' }, claims(), attackerRsa.privateKey));
    });
    it('refuses ES256 signed with an attacker P-256 key', async () => {
      await refusedThenRealTokenWorks(asym({ alg: 'ES256', typ: 'JWT' }, claims(), attackerEc.privateKey));
    });
  });

  describe('keys carried or pointed at by the token (never trusted, never fetched)', () => {
    it('refuses RS256 with the attacker key embedded as "jwk" (CVE-2018-0114)', async () => {
      const jwk = attackerRsa.publicKey.export({ format: 'jwk' });
      await refusedThenRealTokenWorks(asym({ alg: 'RS256', typ: 'JWT', jwk, kid: jwkThumbprint(attackerRsa.publicKey) }, claims(), attackerRsa.privateKey));
    });
    it('refuses an embedded "jwk" even on a token signed with the real secret', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', jwk: { kty: 'oct', k: b64(TEST_SECRET) } }, claims()));
    });
    it('refuses RS256 with a "jku" to the attacker, without fetching it', async () => {
      await refusedThenRealTokenWorks(asym({ alg: 'RS256', typ: 'JWT', jku: `${attackerUrl}/jwks.json` }, claims(), attackerRsa.privateKey));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', jku: `${attackerUrl}/jwks.json` }, claims()));
    });
    it('refuses RS256 with an "x5u" to the attacker, without fetching it', async () => {
      await refusedThenRealTokenWorks(asym({ alg: 'RS256', typ: 'JWT', x5u: `${attackerUrl}/cert.pem` }, claims(), attackerRsa.privateKey));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', x5u: `${attackerUrl}/cert.pem` }, claims()));
    });
    it('refuses an "x5c" chain and a "crit" extension', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', x5c: ['MIIB'] }, claims()));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, claims()));
    });
    it('refuses a typ other than JWT', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'at+jwt' }, claims()));
    });
  });

  describe('kid injection', () => {
    const injections = [
      '../../../../../../../dev/null',
      '/dev/null',
      '../../../../etc/passwd',
      "' OR '1'='1",
      "x' UNION SELECT 'secret' -- ",
      '$(touch /tmp/graphql-revoke-pwned)',
      '`id`',
      '| cat /etc/passwd',
      'key; rm -rf /',
      'a\u0000b',
      'k'.repeat(4000),
    ];
    for (const kid of injections) {
      it(`refuses kid ${JSON.stringify(kid.slice(0, 40))} keyed with what the injection would yield, and with the real secret`, async () => {
        // /dev/null reads as an empty key; the SQL one selects 'secret'.
        await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', kid }, claims(), Buffer.alloc(0)));
        await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', kid }, claims(), 'secret'));
        await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', kid }, claims()));
      });
    }
    it('refuses a kid that is not a string', async () => {
      for (const kid of [null, 1, true, { $ne: null }, ['a']]) await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT', kid }, claims()));
    });
  });

  describe('signatures and segments', () => {
    it('refuses a truncated signature', async () => {
      await refusedThenRealTokenWorks(realToken.slice(0, -4));
      await refusedThenRealTokenWorks(realToken.slice(0, realToken.lastIndexOf('.') + 1));
    });
    it('refuses a token carrying the signature of another token', async () => {
      const [h, p] = realToken.split('.');
      await refusedThenRealTokenWorks(`${h}.${p}.${otherToken.split('.')[2]}`);
    });
    it('refuses a flipped bit in the payload', async () => {
      const [h, p, s] = realToken.split('.') as [string, string, string];
      const bytes = Buffer.from(p, 'base64url');
      bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 1;
      await refusedThenRealTokenWorks(`${h}.${bytes.toString('base64url')}.${s}`);
    });
    it('refuses 1, 2 and 4 segments, and empty segments', async () => {
      const [h, p, s] = realToken.split('.') as [string, string, string];
      for (const token of [h, `${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.`, '..', `.${p}.${s}`, `${h}..${s}`]) {
        await refusedThenRealTokenWorks(token);
      }
    });
    it('refuses base64 with padding or the +/ alphabet', async () => {
      const [h, p, s] = realToken.split('.') as [string, string, string];
      await refusedThenRealTokenWorks(`${h}=.${p}.${s}`);
      await refusedThenRealTokenWorks(`${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`);
    });
  });

  describe('segments that are not what they claim', () => {
    it('refuses a header that is not JSON, or not an object', async () => {
      for (const header of ['not json', '"HS256"', '["HS256"]', 'null', '{"alg":"HS256"']) {
        const input = `${Buffer.from(header).toString('base64url')}.${b64(claims())}`;
        await refusedThenRealTokenWorks(`${input}.${createHmac('sha256', TEST_SECRET).update(input).digest('base64url')}`);
      }
    });
    it('refuses a payload that is not JSON, a JSON string, an array, a number or null (signed with the real secret)', async () => {
      for (const payload of ['not json', JSON.stringify('a string'), JSON.stringify(claims()).slice(0, -1), '[1,2,3]', JSON.stringify([claims()]), '42', 'null', 'true']) {
        const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${Buffer.from(payload).toString('base64url')}`;
        await refusedThenRealTokenWorks(`${input}.${createHmac('sha256', TEST_SECRET).update(input).digest('base64url')}`);
      }
    });
  });

  describe('claims (signed with the real secret: only the claim is wrong)', () => {
    const wrong: Record<string, unknown[]> = {
      sub: [undefined, null, true, 42, { id: 'x' }, ['x'], ''],
      jti: [undefined, null, false, 7, { a: 1 }, ['x'], ''],
      exp: [undefined, null, true, 'later', {}, [1], '9999999999'],
      iat: [undefined, null, false, 'now', {}, [1], '1700000000'],
      iss: [undefined, null, true, 1, { iss: 'graphql-revoke' }, ['graphql-revoke'], 'evil'],
      aud: [undefined, null, false, 1, { aud: 'graphql-revoke' }, [], ['other'], 'evil', [1]],
    };
    for (const [claim, values] of Object.entries(wrong)) {
      it(`refuses ${claim} missing, null, boolean, number, object or otherwise wrong`, async () => {
        for (const value of values) {
          const payload = claims();
          if (value === undefined) delete payload[claim];
          else payload[claim] = value;
          await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, payload));
        }
      });
    }
    it('refuses iat after exp, and iat in the future beyond the clock tolerance', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ iat: nowS() + 100, exp: nowS() + 50 })));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ iat: nowS() + 60 })));
    });
    it('refuses nbf in the future, or not a number', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ nbf: nowS() + 60 })));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ nbf: 'yesterday' })));
    });
    it('refuses a preferred_username that is not a string', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ preferred_username: { $gt: '' } })));
    });
  });

  describe('expiry', () => {
    it('refuses an expired token as TOKEN_EXPIRED', async () => {
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ iat: nowS() - 1000, exp: nowS() - 60 })), 'TOKEN_EXPIRED');
    });
    it('calls an expired token with any other fault TOKEN_INVALID, not TOKEN_EXPIRED', async () => {
      const expired = { iat: nowS() - 1000, exp: nowS() - 60 };
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ ...expired, aud: 'other' })));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims({ ...expired, sub: 42 })));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS384', typ: 'JWT' }, claims(expired), TEST_SECRET, 'sha384'));
      await refusedThenRealTokenWorks(hmac({ alg: 'HS256', typ: 'JWT' }, claims(expired), 'not-the-secret-0123456789abcdefghijk'));
    });
  });

  describe('size', () => {
    it('lets a 64 KB token reach the verifier and answers 401, not 431 or 5xx', async () => {
      const big = hmac({ alg: 'HS256', typ: 'JWT' }, claims({ pad: 'x'.repeat(48 * 1024) }));
      expect(big.length).toBeGreaterThanOrEqual(64 * 1024);
      await refusedThenRealTokenWorks(big);
    });
    it('refuses a 64 KB token of garbage', async () => {
      await refusedThenRealTokenWorks('A'.repeat(64 * 1024));
    });
  });
});

describe('key confusion on asymmetric servers', () => {
  for (const [algorithm, type, options] of [
    ['RS256', 'rsa', { modulusLength: 2048 }],
    ['ES256', 'ec', { namedCurve: 'P-256' }],
    ['EdDSA', 'ed25519', {}],
  ] as const) {
    describe(algorithm, () => {
      let server: TestServer;
      let realToken: string;
      let userId: string;
      const pair = generateKeyPairSync(type as 'rsa', options as { modulusLength: number });
      const publicPem = pair.publicKey.export({ format: 'pem', type: 'spki' }) as string;
      const kid = jwkThumbprint(createPublicKey(pair.privateKey));

      beforeAll(async () => {
        server = await startTestServer({
          redisUrl: requireRedisUrl(),
          env: { JWT_ALGORITHM: algorithm, JWT_PRIVATE_KEY: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string },
        });
        ({ token: realToken, userId } = await server.signUp());
      });
      afterAll(async () => {
        try {
          const answer = await server.graphql(ME, { token: realToken });
          expect(answer.status).toBe(200);
          expect(answer.body.data.me.id).toBe(userId);
        } finally {
          await server.close();
        }
      });

      const claims = () => ({ sub: userId, jti: `kc-${Math.random()}`, iat: nowS(), exp: nowS() + 600, iss: 'graphql-revoke', aud: 'graphql-revoke' });

      it('accepts its own token, which carries the key thumbprint as kid', () => {
        expect(decodeHeader(realToken)).toEqual({ alg: algorithm, typ: 'JWT', kid });
      });

      it('refuses HS256 keyed with the public key PEM (with and without kid, with and without the final newline)', async () => {
        for (const secret of [publicPem, publicPem.trim(), pair.publicKey.export({ format: 'der', type: 'spki' }) as Buffer]) {
          await expectRefused(server, hmac({ alg: 'HS256', typ: 'JWT', kid }, claims(), secret));
          await expectRefused(server, hmac({ alg: 'HS256', typ: 'JWT' }, claims(), secret));
        }
      });

      it('refuses alg none and the real kid with another algorithm', async () => {
        await expectRefused(server, `${b64({ alg: 'none', kid })}.${b64(claims())}.`);
        const other = algorithm === 'RS256' ? 'ES256' : 'RS256';
        await expectRefused(server, `${b64({ alg: other, typ: 'JWT', kid })}.${b64(claims())}.${realToken.split('.')[2]}`);
      });

      it('refuses a token signed by an attacker key of the same type under the real kid', async () => {
        const attacker = generateKeyPairSync(type as 'rsa', options as { modulusLength: number });
        await expectRefused(server, asym({ alg: algorithm, typ: 'JWT', kid }, claims(), attacker.privateKey));
      });
    });
  }
});
