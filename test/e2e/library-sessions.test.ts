/**
 * Sessions in someone else's Apollo Server, as docs/library.md composes them: a session
 * manager cannot be built that silently drops scopes on refresh. Without `users` it is refused
 * at construction (it used to hand out refreshed tokens without the scope claim: an admin was
 * an admin until the first refresh, then FORBIDDEN / INSUFFICIENT_SCOPE); with it, an admin
 * who refreshes stays an admin, through a real server, real Redis and real tokens.
 */
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT_SDL,
  DIRECTIVES_SDL,
  REVOCATION_SDL,
  MemoryUserStore,
  RedisRevocationStore,
  RedisSessionStore,
  authenticatedDirectiveTransformer,
  authorizationFromRequest,
  createAuthResolvers,
  createContextBuilder,
  createPasswordHasher,
  createRedisClient,
  createSessionManager,
  createTokenIssuer,
  createTokenVerifier,
  requiresScopesDirectiveTransformer,
  type GraphQLContext,
  type SessionManagerOptions,
} from '../../src/index.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { postGraphQL, TEST_SECRET } from '../helpers/test-server.js';
import { secretKey } from '../helpers/tokens.js';

const key = secretKey(TEST_SECRET);
const jwt = { issuer: 'my-api', audience: 'my-api' };
const issuer = createTokenIssuer({ key, algorithm: 'HS256', ...jwt, ttlSeconds: 900 });
const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...jwt });

function scopeClaim(token: string): unknown {
  return (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { scope?: unknown }).scope;
}

describe('an admin in a library server refreshes and stays an admin', () => {
  let redis: Redis;
  let server: ApolloServer<GraphQLContext>;
  let url: string;
  const passwords = createPasswordHasher();
  const users = new MemoryUserStore();
  let store: RedisSessionStore;

  beforeAll(async () => {
    redis = createRedisClient({ url: requireRedisUrl() });
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    const keyPrefix = `libsess${process.pid}`;
    const revocations = new RedisRevocationStore({ client: redis, keyPrefix });
    store = new RedisSessionStore({ client: redis, keyPrefix, refreshTokenTtlSeconds: 2_592_000, idleTtlSeconds: 604_800, reuseGraceSeconds: 10 });
    const sessions = createSessionManager({ issuer, users, store, refreshTokenKey: Buffer.alloc(32, 7) });
    await users.create({
      id: randomUUID(),
      username: 'root',
      passwordHash: await passwords.hash('root-password-1'),
      createdAt: new Date().toISOString(),
      scopes: ['reports:admin'],
    });
    const typeDefs = [
      DIRECTIVES_SDL,
      ACCOUNT_SDL,
      REVOCATION_SDL,
      /* GraphQL */ `extend type Query { report: String @requiresScopes(scopes: [["reports:admin"]]) }`,
    ];
    const resolvers = createAuthResolvers({ issuer, verifier, revocations, users, passwords, sessions });
    const schema = requiresScopesDirectiveTransformer(
      authenticatedDirectiveTransformer(
        makeExecutableSchema({ typeDefs, resolvers: [resolvers as never, { Query: { report: () => 'the numbers' } }] }),
        // Query.mySessions is non-null: what the null-bubbling check says of it is not this test's business.
        { onWarning: () => {} },
      ),
    );
    const buildContext = createContextBuilder({ verifier, revocations });
    server = new ApolloServer<GraphQLContext>({ schema });
    ({ url } = await startStandaloneServer(server, {
      listen: { port: 0, host: '127.0.0.1' },
      context: ({ req }) => buildContext({ authorization: authorizationFromRequest(req) }),
    }));
  });
  afterAll(async () => {
    await server?.stop();
    redis?.disconnect();
  });

  it('cannot build a session manager without users: refreshed tokens would lose their scopes', () => {
    // docs/library.md's call of old: it compiled and ran, and dropped scopes at the first refresh.
    const withoutUsers = { issuer, store } as unknown as SessionManagerOptions;
    expect(() => createSessionManager(withoutUsers)).toThrow(/`users` is required/);
  });

  it('reads a scoped field with the first token and with the refreshed one', async () => {
    const signIn = await postGraphQL(url, 'mutation { signIn(username: "root", password: "root-password-1") { accessToken refreshToken } }');
    const first = signIn.body.data.signIn as { accessToken: string; refreshToken: string };
    expect(scopeClaim(first.accessToken)).toBe('reports:admin');
    expect((await postGraphQL(url, '{ report }', { token: first.accessToken })).body).toEqual({ data: { report: 'the numbers' } });

    const refreshed = await postGraphQL(url, 'mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }', { variables: { t: first.refreshToken } });
    const second = refreshed.body.data.refreshSession.accessToken as string;
    expect(scopeClaim(second)).toBe('reports:admin');
    const report = await postGraphQL(url, '{ report }', { token: second });
    expect([report.status, report.body]).toEqual([200, { data: { report: 'the numbers' } }]);
  });
});
