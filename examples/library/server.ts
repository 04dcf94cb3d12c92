// graphql-revoke in your own Apollo Server: your users and sign-in, our revocation.
// Run: REDIS_URL=redis://127.0.0.1:6379 JWT_SECRET="$(openssl rand -base64 48)" node server.js
import { createSecretKey } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { makeExecutableSchema } from '@graphql-tools/schema';
import {
  DIRECTIVES_SDL, REVOCATION_SDL, authenticatedDirectiveTransformer, createAuthHttpPlugin,
  createContextBuilder, authorizationFromRequest, createTokenVerifier, createTokenIssuer,
  createRevocationResolvers, createRedisClient, createPasswordHasher, invalidCredentialsError,
  RedisRevocationStore, type GraphQLContext,
} from 'graphql-revoke';

const secret = process.env.JWT_SECRET ?? '';
if (Buffer.byteLength(secret) < 32) throw new Error('Set JWT_SECRET to at least 32 bytes');
const key = createSecretKey(Buffer.from(secret)); // built once, not per request
const jwt = { issuer: 'my-api', audience: 'my-api' };
const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...jwt });
const issuer = createTokenIssuer({ key, algorithm: 'HS256', ...jwt, ttlSeconds: 900 });

// A command timeout, no offline queue, no unhandled 'error' events: with Redis down or
// frozen a request is answered 503 within about half a second instead of hanging.
const redis = createRedisClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const revocations = new RedisRevocationStore({ client: redis });

// Your users: one here, for the example; yours come from your database.
const passwords = createPasswordHasher();
const users = [{ id: 'user-1', username: 'alice', passwordHash: await passwords.hash(process.env.ALICE_PASSWORD ?? 'alice-password') }];

const typeDefs = [
  DIRECTIVES_SDL, // directive @authenticated
  REVOCATION_SDL, // cancelToken, cancelAllMyTokens
  /* GraphQL */ `
    type Invoice @authenticated { id: ID! total: Int! }  # every field of the type
    type Query {
      health: String!                                    # public
      invoices: [Invoice!] @authenticated                # nullable: anonymous callers get null here
    }
    type Mutation {
      signIn(username: String!, password: String!): String!
    }
  `,
];

const resolvers = {
  Query: {
    health: () => 'ok',
    invoices: (_: unknown, __: unknown, { auth }: GraphQLContext) =>
      auth.kind === 'authenticated' ? [{ id: `invoice-of-${auth.token.userId}`, total: 42 }] : [],
  },
  Mutation: {
    ...createRevocationResolvers({ verifier, revocations }).Mutation,
    async signIn(_: unknown, args: { username: string; password: string }) {
      const user = users.find((u) => u.username === args.username);
      const ok = user ? await passwords.verify(args.password, user.passwordHash) : await passwords.verifyDummy(args.password);
      if (!user || !ok) throw invalidCredentialsError();
      const issued = issuer.issue(user);
      await revocations.recordIssued(issued); // so that cancelAllMyTokens knows this token
      return issued.token;
    },
  },
};

const schema = authenticatedDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers }));
const buildContext = createContextBuilder({ verifier, revocations });
const server = new ApolloServer<GraphQLContext>({
  schema,
  plugins: [createAuthHttpPlugin()], // a store failure in any resolver: 503 + Retry-After
});
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(process.env.PORT ?? 4000) },
  // request: a signIn with a stale (revoked, expired) token in the header runs as without it.
  context: ({ req }) => buildContext({ authorization: authorizationFromRequest(req), request: req }),
});
console.log(`GraphQL at ${url}`);

process.once('SIGTERM', () => {
  void server.stop().then(() => redis.quit());
});
