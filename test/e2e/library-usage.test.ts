import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTHENTICATED_DIRECTIVE_TYPE_DEFS,
  authenticatedDirectiveTransformer,
  authorizationFromRequest,
  createContextBuilder,
  createRedisClient,
  createTokenIssuer,
  createTokenVerifier,
  RedisRevocationStore,
  type GraphQLContext,
} from '../../src/index.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { postGraphQL, TEST_SECRET } from '../helpers/test-server.js';
import { secretKey } from '../helpers/tokens.js';

// docs/library.md's example, run for real.
describe('the library in someone else\'s Apollo Server (startStandaloneServer)', () => {
  const key = secretKey(TEST_SECRET);
  const jwt = { issuer: 'my-api', audience: 'my-api' };
  const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...jwt });
  const issuer = createTokenIssuer({ key, ...jwt, ttlSeconds: 900 });
  let redis: Redis;
  let revocations: RedisRevocationStore;
  let server: ApolloServer<GraphQLContext>;
  let url: string;
  const warnings: string[] = [];

  beforeAll(async () => {
    redis = createRedisClient({ url: requireRedisUrl() });
    // No offline queue: a command before the connection is ready would fail at once.
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    revocations = new RedisRevocationStore({ client: redis, keyPrefix: `lib${process.pid}` });
    const typeDefs = /* GraphQL */ `
      ${AUTHENTICATED_DIRECTIVE_TYPE_DEFS}
      type Invoice @authenticated { id: ID! total: Int! }
      type Query {
        health: String
        invoices: [Invoice!] @authenticated
        invoice: Invoice
      }
    `;
    const resolvers = {
      Query: {
        health: () => 'ok',
        invoices: (_: unknown, __: unknown, ctx: GraphQLContext) =>
          ctx.auth.kind === 'authenticated' ? [{ id: `inv-of-${ctx.auth.token.userId}`, total: 42 }] : [],
        invoice: () => ({ id: 'inv-1', total: 7 }),
      },
    };
    // Query.invoice leads anonymous callers into the protected Invoice: warned at build time.
    const schema = authenticatedDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers }), {
      onWarning: (message) => warnings.push(message),
    });
    const buildContext = createContextBuilder({ verifier, revocations });
    server = new ApolloServer<GraphQLContext>({ schema });
    ({ url } = await startStandaloneServer(server, {
      listen: { port: 0, host: '127.0.0.1' },
      context: ({ req }) => buildContext({ authorization: authorizationFromRequest(req) }),
    }));
  });
  afterAll(async () => {
    await server.stop();
    redis.disconnect();
  });

  const post = (query: string, token?: string) => postGraphQL(url, query, { token });

  it('warned at schema build time about the non-null protected fields Query.invoice exposes', () => {
    expect(warnings.map((w) => w.slice(0, w.indexOf(':')))).toEqual(['@authenticated on Invoice.id', '@authenticated on Invoice.total']);
  });

  it('serves public fields to anyone and protects annotated fields and types', async () => {
    const anonymous = await post('{ health invoices { id } invoice { id total } }');
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.data).toEqual({ health: 'ok', invoices: null, invoice: null });
    expect(anonymous.body.errors.map((e: { path: string[] }) => e.path)).toEqual([['invoices'], ['invoice', 'id']]);
  });

  it('resolves protected fields for a valid token and refuses it once revoked', async () => {
    const issued = issuer.issue({ id: 'user-7', username: 'seven' });
    await revocations.recordIssued(issued);
    const ok = await post('{ invoices { id total } }', issued.token);
    expect(ok.body).toEqual({ data: { invoices: [{ id: 'inv-of-user-7', total: 42 }] } });
    await revocations.revoke(issued);
    const refused = await post('{ invoices { id } }', issued.token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
  });
});
