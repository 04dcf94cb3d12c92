/**
 * Our HTTP behaviour in someone else's server, in each way Apollo Server is served:
 * startStandaloneServer, expressMiddleware (express 5, @as-integrations/express5) and plain
 * node:http (createNodeGraphQLHandler). The host app has its own sign-in resolver that calls
 * the store itself: a store failure there must be our 503, not Apollo's 200 INTERNAL_SERVER_ERROR.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { expressMiddleware } from '@as-integrations/express5';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticatedDirectiveTransformer,
  authorizationFromRequest,
  createAuthHttpPlugin,
  createContextBuilder,
  createNodeGraphQLHandler,
  createRedisClient,
  createRevocationResolvers,
  createTokenIssuer,
  createTokenVerifier,
  DIRECTIVES_SDL,
  RedisRevocationStore,
  REVOCATION_SDL,
  type GraphQLContext,
} from '../../src/index.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { postGraphQL, TEST_SECRET } from '../helpers/test-server.js';
import { secretKey } from '../helpers/tokens.js';

const key = secretKey(TEST_SECRET);
const jwt = { issuer: 'host-app', audience: 'host-app' };
const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...jwt });
const issuer = createTokenIssuer({ key, algorithm: 'HS256', ...jwt });

const APP_SDL = /* GraphQL */ `
  type Query { health: String! me: String @authenticated }
  type Mutation { signIn(username: String!): String! }
`;

let redisServer: RedisServerProcess;
let redis: Redis;
let revocations: RedisRevocationStore;
const storeErrors: string[] = [];
const stops: Array<() => Promise<void>> = [];
const urls: Record<'standalone' | 'express' | 'node:http', string> = { standalone: '', express: '', 'node:http': '' };

function createApollo(): ApolloServer<GraphQLContext> {
  const resolvers = {
    Query: {
      health: () => 'ok',
      me: (_: unknown, __: unknown, { auth }: GraphQLContext) => (auth.kind === 'authenticated' ? auth.token.userId : null),
    },
    Mutation: {
      ...createRevocationResolvers({ verifier, revocations }).Mutation,
      // The host app's own sign-in: it records the token itself, and lets the store's error through.
      async signIn(_: unknown, { username }: { username: string }) {
        const issued = issuer.issue({ id: `id-${username}`, username });
        await revocations.recordIssued(issued);
        return issued.token;
      },
    },
  };
  const schema = authenticatedDirectiveTransformer(makeExecutableSchema({ typeDefs: [DIRECTIVES_SDL, REVOCATION_SDL, APP_SDL], resolvers }));
  return new ApolloServer<GraphQLContext>({
    schema,
    plugins: [createAuthHttpPlugin({ onStoreUnavailable: (error) => storeErrors.push(error.message) })],
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  redisServer = await startRedisServer({ appendonly: false });
  // The client every example uses: a command timeout, no offline queue, errors handled.
  redis = createRedisClient({ url: redisServer.url, commandTimeoutMs: 300 });
  // No offline queue: a command before the connection is ready would fail at once.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  revocations = new RedisRevocationStore({ client: redis, keyPrefix: `integrations${process.pid}` });
  const buildContext = createContextBuilder({ verifier, revocations, lookupTimeoutMs: 800 });

  const standalone = createApollo();
  urls.standalone = (
    await startStandaloneServer(standalone, {
      listen: { port: 0, host: '127.0.0.1' },
      context: ({ req }) => buildContext({ authorization: authorizationFromRequest(req) }),
    })
  ).url;
  stops.push(() => standalone.stop());

  const forExpress = createApollo();
  await forExpress.start();
  const app = express();
  app.use(
    '/graphql',
    express.json(),
    expressMiddleware(forExpress, { context: ({ req }) => buildContext({ authorization: authorizationFromRequest(req) }) }),
  );
  const expressServer = createHttpServer(app);
  urls.express = `http://127.0.0.1:${await listen(expressServer)}/graphql`;
  stops.push(async () => {
    expressServer.closeAllConnections();
    await new Promise((resolve) => expressServer.close(resolve));
    await forExpress.stop();
  });

  const forNode = createApollo();
  await forNode.start();
  const handler = createNodeGraphQLHandler(forNode, { context: (req) => buildContext({ authorization: authorizationFromRequest(req) }) });
  const nodeServer = createHttpServer((req, res) => {
    if (req.url?.startsWith('/graphql')) return void handler(req, res);
    res.writeHead(404).end();
  });
  urls['node:http'] = `http://127.0.0.1:${await listen(nodeServer)}/graphql`;
  stops.push(async () => {
    nodeServer.closeAllConnections();
    await new Promise((resolve) => nodeServer.close(resolve));
    await forNode.stop();
  });
});

afterAll(async () => {
  try {
    for (const stop of stops) await stop();
    redis?.disconnect();
  } finally {
    await redisServer?.cleanup();
  }
});

const transports = ['standalone', 'express', 'node:http'] as const;

describe.each(transports)('the library served by %s', (transport) => {
  const post = (query: string, token?: string) => postGraphQL(urls[transport], query, { token });

  it('answers 401 + WWW-Authenticate for a revoked or expired token, and serves a valid one', async () => {
    const signedIn = await post('mutation { signIn(username: "ann") }');
    expect(signedIn.status).toBe(200);
    const token = signedIn.body.data.signIn as string;
    expect((await post('{ me }', token)).body).toEqual({ data: { me: 'id-ann' } });
    expect((await post('mutation { cancelToken }', token)).body).toEqual({ data: { cancelToken: true } });

    const refused = await post('{ health }', token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });

    const expired = createTokenIssuer({ key, ...jwt, ttlSeconds: 1, now: () => Date.now() - 3_600_000 }).issue({ id: 'old', username: 'old' });
    const late = await post('{ health }', expired.token);
    expect(late.status).toBe(401);
    expect(late.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' });
  });

  it('answers 503 AUTH_UNAVAILABLE + Retry-After, not 200 INTERNAL_SERVER_ERROR, while Redis is frozen', async () => {
    const token = (await post('mutation { signIn(username: "bob") }')).body.data.signIn as string;
    process.kill(redisServer.pid, 'SIGSTOP');
    try {
      const before = storeErrors.length;
      const started = Date.now();
      const signIn = await post('mutation { signIn(username: "bob") }');
      // The command timeout (300 ms) ends it, not a 30 s hang; generous bound for a busy machine.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(signIn.status).toBe(503);
      expect(signIn.headers.get('retry-after')).toBe('1');
      expect(signIn.body).toEqual({
        data: null,
        errors: [
          {
            message: 'Authentication is temporarily unavailable. Retry shortly.',
            locations: [{ line: 1, column: 12 }],
            path: ['signIn'],
            extensions: { code: 'AUTH_UNAVAILABLE', retryAfterSeconds: 1 },
          },
        ],
      });
      // The store's detail went to the host's log, not to the client.
      expect(storeErrors.slice(before)).toEqual(['Token store unavailable during recordIssued']);

      const withToken = await post('{ me }', token);
      expect(withToken.status).toBe(503);
      expect(withToken.headers.get('retry-after')).toBe('1');
      expect(withToken.body.errors[0].extensions).toMatchObject({ code: 'AUTH_UNAVAILABLE', retryAfterSeconds: 1 });

      // Anonymous public fields do not need the store.
      expect((await post('{ health }')).body).toEqual({ data: { health: 'ok' } });
    } finally {
      process.kill(redisServer.pid, 'SIGCONT');
    }
  });
});

describe('with Redis stopped', () => {
  it('every transport answers a sign-in 503 at once (no offline queue), and recovers when Redis is back', async () => {
    await redisServer.stop();
    try {
      for (const transport of transports) {
        const answer = await postGraphQL(urls[transport], 'mutation { signIn(username: "cy") }');
        expect([transport, answer.status, answer.headers.get('retry-after'), answer.body.errors[0].extensions.code]).toEqual([
          transport,
          503,
          '1',
          'AUTH_UNAVAILABLE',
        ]);
      }
    } finally {
      await redisServer.restart();
    }
  });
});
