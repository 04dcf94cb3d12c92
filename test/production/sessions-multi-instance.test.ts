/**
 * Two API processes (`src/server/main.ts`) on one Redis of their own: a refresh token
 * reused on one instance ends the session on the other within the next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { ME, startApiProcess, type ApiProcess } from './api-process.js';

const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken session { id } } }';
const SIGN_UP = 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken refreshToken session { id } user { id } } }';

describe('sessions across instances on one Redis', () => {
  let redis: RedisServerProcess;
  let apis: ApiProcess[];

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: true });
    apis = await Promise.all([0, 1].map(() => startApiProcess({ REDIS_URL: redis.url, REFRESH_REUSE_GRACE_SECONDS: '0' })));
  }, 90_000);

  afterAll(async () => {
    await Promise.all((apis ?? []).map((api) => api.kill()));
    await redis?.cleanup();
  });

  it('a reused refresh token on one instance: the session\'s access tokens are refused by the other at the next request', async () => {
    const [a, b] = apis as [ApiProcess, ApiProcess];
    const up = await a.graphql(SIGN_UP, { variables: { u: `multi_sess_${process.pid}`, p: 'correct horse battery' } });
    const first = up.body.data.signUp;
    // Rotated on B; both access tokens work on both instances.
    const rotated = (await b.graphql(REFRESH, { variables: { r: first.refreshToken } })).body.data.refreshSession;
    expect(rotated.session.id).toBe(first.session.id);
    for (const api of apis) {
      for (const token of [first.accessToken, rotated.accessToken]) expect((await api.graphql(ME, { token })).status).toBe(200);
    }
    // The replaced token again, on A: reuse.
    const reused = await a.graphql(REFRESH, { variables: { r: first.refreshToken } });
    expect(reused.status).toBe(200);
    expect(reused.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_REUSED' });
    // The very next request on B with either access token: 401 TOKEN_REVOKED.
    for (const token of [rotated.accessToken, first.accessToken]) {
      const answer = await b.graphql(ME, { token });
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
    }
    const successor = await b.graphql(REFRESH, { variables: { r: rotated.refreshToken } });
    expect(successor.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_INVALID' });
  });
});
