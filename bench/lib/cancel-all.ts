/** cancelAllMyTokens for a user with many live tokens: the store call, and the HTTP mutation. */
import { randomUUID } from 'node:crypto';
import { randomTokenId } from '../../src/auth/token-issuer.js';
import { createRedisClient } from '../../src/redis/redis-client.js';
import { RedisRevocationStore } from '../../src/revocation/redis-store.js';
import { median } from './load.js';
import { graphql } from './http.js';
import { whenReady } from './redis.js';

/** The figures of one measurement: ms per call, each repetition, and how many tokens each revoked. */
export interface CancelAllResult {
  liveTokens: number;
  ms: number;
  runs: number[];
  revoked: number[];
}

async function recordLive(store: RedisRevocationStore, userId: string, count: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  let batch: Promise<void>[] = [];
  for (let i = 0; i < count; i += 1) {
    batch.push(store.recordIssued({ userId, jti: randomTokenId(), expiresAt: now + 60 + (i % 840) }));
    if (batch.length >= 500) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
}

/** RedisRevocationStore.revokeAllForUser on a user with `liveTokens` recorded tokens (+ the caller's). */
export async function cancelAllStore(options: { redisUrl: string; liveTokens: number; repetitions: number }): Promise<CancelAllResult> {
  const client = createRedisClient({ url: options.redisUrl, commandTimeoutMs: 5000 });
  try {
    await whenReady(client);
    const store = new RedisRevocationStore({ client, keyPrefix: `benchcancel${process.pid}` });
    const runs: number[] = [];
    const revoked: number[] = [];
    for (let r = 0; r < options.repetitions; r += 1) {
      const userId = randomUUID();
      await recordLive(store, userId, options.liveTokens);
      const current = { userId, jti: randomTokenId(), expiresAt: Math.floor(Date.now() / 1000) + 900 };
      const started = performance.now();
      const count = await store.revokeAllForUser(userId, current);
      runs.push(performance.now() - started);
      revoked.push(count);
      if (count !== options.liveTokens + 1) throw new Error(`revokeAllForUser revoked ${count}, expected ${options.liveTokens + 1}`);
      if (!(await store.isRevoked(current))) throw new Error('revokeAllForUser: the current token is not revoked');
    }
    return { liveTokens: options.liveTokens, ms: median(runs), runs, revoked };
  } finally {
    client.disconnect();
  }
}

/**
 * The `cancelAllMyTokens` mutation over HTTP on the project server (Redis store, key
 * prefix `keyPrefix`), for a signed-up user given `liveTokens` more recorded tokens.
 */
export async function cancelAllHttp(options: {
  url: string;
  redisUrl: string;
  keyPrefix: string;
  liveTokens: number;
  repetitions: number;
}): Promise<CancelAllResult> {
  const client = createRedisClient({ url: options.redisUrl, commandTimeoutMs: 5000 });
  try {
    await whenReady(client);
    const store = new RedisRevocationStore({ client, keyPrefix: options.keyPrefix });
    const runs: number[] = [];
    const revoked: number[] = [];
    for (let r = 0; r < options.repetitions; r += 1) {
      // A fresh user each time: the same user would carry the previous run's revoked set along.
      const username = `cancel_${process.pid}_${Date.now().toString(36)}_${r}`;
      const signUp = await graphql(options.url, 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken user { id } } }', {
        variables: { u: username, p: 'correct horse battery staple' },
      });
      const userId = signUp.data?.signUp?.user?.id as string | undefined;
      const token = signUp.data?.signUp?.accessToken as string | undefined;
      if (!userId || !token) throw new Error(`signUp failed: ${JSON.stringify(signUp)}`);
      await recordLive(store, userId, options.liveTokens);
      const started = performance.now();
      const answer = await graphql(options.url, 'mutation { cancelAllMyTokens }', { token });
      runs.push(performance.now() - started);
      const count = answer.data?.cancelAllMyTokens as number | undefined;
      // The live tokens plus the caller's own (recorded when it was issued).
      if (count !== options.liveTokens + 1) throw new Error(`cancelAllMyTokens answered ${JSON.stringify(answer)}, expected ${options.liveTokens + 1}`);
      revoked.push(count);
      const after = await graphql(options.url, '{ me { id } }', { token });
      if (after.status !== 401) throw new Error(`after cancelAllMyTokens the token still works: ${after.status}`);
    }
    return { liveTokens: options.liveTokens, ms: median(runs), runs, revoked };
  } finally {
    client.disconnect();
  }
}
