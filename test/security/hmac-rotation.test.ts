/**
 * HS256 secret rotation: every token names its secret with a kid that reveals nothing of
 * it; JWT_PREVIOUS_SECRETS keeps retired secrets verifying until their tokens expire, so
 * rotating JWT_SECRET does not sign everyone out. Over HTTP, on one Redis.
 */
import { createHash, createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacKeyId } from '../../src/config/jwt-keys.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { decodeHeader, hmacToken, validClaims } from '../helpers/tokens.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/test-server.js';

const ME = '{ me { id username } }';
const OLD_SECRET = TEST_SECRET;
const NEW_SECRET = 'rotated-secret-0123456789-abcdefghijklmnopq';
const kidOf = (secret: string) => hmacKeyId(createSecretKey(Buffer.from(secret, 'utf8')));

describe('HS256 key ids', () => {
  it('names each secret with a kid that is neither the secret nor a hash of it', () => {
    const kid = kidOf(OLD_SECRET);
    expect(kid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(kidOf(OLD_SECRET)).toBe(kid);
    expect(kidOf(NEW_SECRET)).not.toBe(kid);
    for (const hash of ['sha256', 'sha1', 'sha512', 'md5']) {
      const digest = createHash(hash).update(OLD_SECRET).digest();
      expect(digest.toString('base64url')).not.toContain(kid);
      expect(digest.toString('hex')).not.toContain(kid);
    }
    expect(OLD_SECRET).not.toContain(kid);
  });

  it('reads JWT_PREVIOUS_SECRETS: the current secret first, each retired one once, refusing what cannot work', () => {
    const { config } = loadConfig({ JWT_SECRET: NEW_SECRET, JWT_PREVIOUS_SECRETS: ` ${OLD_SECRET} , ${NEW_SECRET},${OLD_SECRET}` });
    expect(config.jwt.keys.signing.kid).toBe(kidOf(NEW_SECRET));
    expect(config.jwt.keys.verification.map((k) => k.kid)).toEqual([kidOf(NEW_SECRET), kidOf(OLD_SECRET)]);
    expect(config.jwt.keys.jwks.keys).toEqual([]);
    expect(() => loadConfig({ JWT_SECRET: NEW_SECRET, JWT_PREVIOUS_SECRETS: 'too-short' })).toThrow(/JWT_PREVIOUS_SECRETS\[0\] must be at least 32 bytes/);
    expect(() => loadConfig({ JWT_PREVIOUS_SECRETS: OLD_SECRET })).toThrow(ConfigError);
    expect(() => loadConfig({ JWT_ALGORITHM: 'EdDSA', JWT_PRIVATE_KEY: 'x', JWT_PREVIOUS_SECRETS: OLD_SECRET })).toThrow(ConfigError);
  });
});

describe('rotating JWT_SECRET with JWT_PREVIOUS_SECRETS', () => {
  let before: TestServer;
  let after: TestServer;
  let cut: TestServer;

  beforeAll(async () => {
    const redisUrl = requireRedisUrl();
    before = await startTestServer({ redisUrl, env: { JWT_SECRET: OLD_SECRET } });
    const keyPrefix = before.config.redis.keyPrefix;
    // The same deployment after the rotation, and one that dropped the old secret at once.
    after = await startTestServer({ redisUrl, keyPrefix, env: { JWT_SECRET: NEW_SECRET, JWT_PREVIOUS_SECRETS: OLD_SECRET } });
    cut = await startTestServer({ redisUrl, keyPrefix, env: { JWT_SECRET: NEW_SECRET } });
  });
  afterAll(async () => {
    await Promise.all([before?.close(), after?.close(), cut?.close()]);
  });

  it('accepts tokens of the retired secret, signs new ones with the new secret, and revokes old ones everywhere', async () => {
    const user = await before.signUp();
    expect(decodeHeader(user.token)).toEqual({ alg: 'HS256', typ: 'JWT', kid: kidOf(OLD_SECRET) });
    const old = await after.graphql(ME, { token: user.token });
    expect(old.status).toBe(200);
    expect(old.body.data.me.id).toBe(user.userId);

    const token = await after.signIn(user.username, user.password);
    expect(decodeHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT', kid: kidOf(NEW_SECRET) });
    expect((await after.graphql(ME, { token })).status).toBe(200);
    // The old deployment does not know the new secret.
    expect((await before.graphql(ME, { token })).status).toBe(401);

    expect((await after.graphql('mutation { cancelToken }', { token: user.token })).body.data.cancelToken).toBe(true);
    for (const server of [after, before]) {
      const revoked = await server.graphql(ME, { token: user.token });
      expect(revoked.status).toBe(401);
      expect(revoked.body.errors[0].extensions.reason).toBe('TOKEN_REVOKED');
    }
  });

  it('without JWT_PREVIOUS_SECRETS the old tokens are cut: TOKEN_INVALID', async () => {
    const user = await before.signUp();
    const answer = await cut.graphql(ME, { token: user.token });
    expect(answer.status).toBe(401);
    expect(answer.body.errors[0].extensions.reason).toBe('TOKEN_INVALID');
  });

  it('refuses a token whose kid names one secret and whose signature is made with another', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = validClaims('someone', now);
    // The retired secret's kid, signed with the new secret; and the other way round.
    for (const [kidSecret, signingSecret] of [
      [OLD_SECRET, NEW_SECRET],
      [NEW_SECRET, OLD_SECRET],
    ] as const) {
      const forged = hmacToken({ alg: 'HS256', typ: 'JWT', kid: kidOf(kidSecret) }, claims, signingSecret);
      const answer = await after.graphql(ME, { token: forged });
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0].extensions.reason).toBe('TOKEN_INVALID');
    }
  });
});
