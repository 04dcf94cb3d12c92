/**
 * A client is never trapped by a stale Authorization header: with a refused token in it
 * (revoked, expired, malformed, not Bearer), signIn, signUp and refreshSession answer as they
 * would without the header; every other operation is refused 401 with its reason, as before.
 * The real API (createServer, real HTTP, Redis stores), and the library's node:http handler.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryRevocationStore,
  authorizationFromRequest,
  createContextBuilder,
  createNodeGraphQLHandler,
  createTokenIssuer,
  createTokenVerifier,
  type GraphQLContext,
} from '../../src/index.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { postGraphQL, startTestServer, TEST_SECRET, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';
import { hmacToken, secretKey } from '../helpers/tokens.js';

const PASSWORD = 'correct horse battery';
const SIGN_IN = 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken refreshToken user { username } } }';
const SIGN_UP = 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken user { username } } }';
const REFRESH = 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }';

function refusal(answer: HttpAnswer): string {
  const extensions = answer.body?.errors?.[0]?.extensions as { code?: string; reason?: string } | undefined;
  return `${answer.status} ${extensions?.code}/${extensions?.reason} ${answer.headers.get('www-authenticate')}`;
}

describe('a refused token in Authorization (the API)', () => {
  let server: TestServer;
  let username: string;
  let refreshToken: string;
  /** Each stale header, and the reason any other operation is refused with. */
  const stale: Array<{ name: string; authorization: string; reason: string; challenge: string }> = [];

  beforeAll(async () => {
    server = await startTestServer({ redisUrl: requireRedisUrl() });
    username = uniqueUsername('stale');
    const up = await server.graphql(SIGN_UP, { variables: { u: username, p: PASSWORD } });
    const revoked = up.body.data.signUp.accessToken as string;
    const signedIn = await server.graphql(SIGN_IN, { variables: { u: username, p: PASSWORD } });
    refreshToken = signedIn.body.data.signIn.refreshToken;
    expect((await server.graphql('mutation { cancelToken }', { token: revoked })).body).toEqual({ data: { cancelToken: true } });
    const now = Math.floor(Date.now() / 1000);
    const expired = hmacToken(
      { alg: 'HS256', typ: 'JWT' },
      { sub: randomUUID(), jti: randomUUID(), iat: now - 3600, exp: now - 1800, iss: 'graphql-revoke', aud: 'graphql-revoke' },
      TEST_SECRET,
    );
    stale.push(
      { name: 'revoked', authorization: `Bearer ${revoked}`, reason: 'TOKEN_REVOKED', challenge: 'Bearer error="invalid_token"' },
      { name: 'expired', authorization: `Bearer ${expired}`, reason: 'TOKEN_EXPIRED', challenge: 'Bearer error="invalid_token"' },
      { name: 'malformed', authorization: 'Bearer not.a.jwt', reason: 'TOKEN_INVALID', challenge: 'Bearer error="invalid_token"' },
      { name: 'not Bearer', authorization: 'Basic dXNlcjpwYXNz', reason: 'TOKEN_INVALID', challenge: 'Bearer error="invalid_request"' },
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses every other operation 401 with the reason, as before', async () => {
    for (const { name, authorization, reason, challenge } of stale) {
      const headers = { authorization };
      const me = await server.graphql('{ me { id } }', { headers });
      expect([name, refusal(me)]).toEqual([name, `401 UNAUTHENTICATED/${reason} ${challenge}`]);
      // A credential mutation next to anything else, or behind a fragment, is no exception.
      const mixed = await server.graphql(`mutation { signIn(username: "${username}", password: "${PASSWORD}") { accessToken } cancelAllMyTokens }`, { headers });
      expect([name, refusal(mixed)]).toEqual([name, `401 UNAUTHENTICATED/${reason} ${challenge}`]);
      const spread = await server.graphql(`mutation { ...F } fragment F on Mutation { signIn(username: "${username}", password: "${PASSWORD}") { accessToken } }`, { headers });
      expect([name, spread.status]).toEqual([name, 401]);
      const query = await server.graphql('query { signIn: me { id } }', { headers });
      expect([name, query.status]).toEqual([name, 401]);
    }
  });

  it('runs signIn, signUp and refreshSession as without the header', async () => {
    for (const { name, authorization } of stale) {
      const headers = { authorization };
      const signIn = await server.graphql(SIGN_IN, { variables: { u: username, p: PASSWORD }, headers });
      expect([name, signIn.status, signIn.body.errors]).toEqual([name, 200, undefined]);
      expect(signIn.body.data.signIn.user.username).toBe(username);
      // The new token works: the client is out of the trap.
      const me = await server.graphql('{ me { username } }', { token: signIn.body.data.signIn.accessToken });
      expect(me.body).toEqual({ data: { me: { username } } });

      const wrong = await server.graphql(SIGN_IN, { variables: { u: username, p: 'wrong password here' }, headers });
      expect([name, wrong.status, wrong.body.errors?.[0]?.extensions?.reason]).toEqual([name, 200, 'INVALID_CREDENTIALS']);

      const other = uniqueUsername('stale');
      const signUp = await server.graphql(SIGN_UP, { variables: { u: other, p: PASSWORD }, headers });
      expect([name, signUp.status, signUp.body.data?.signUp?.user]).toEqual([name, 200, { username: other }]);

      const refreshed = await server.graphql(REFRESH, { variables: { r: refreshToken }, headers });
      expect([name, refreshed.status, refreshed.body.errors]).toEqual([name, 200, undefined]);
      refreshToken = refreshed.body.data.refreshSession.refreshToken;
    }
  });

  it('reads a named operation among several: only the one that runs counts', async () => {
    const document = 'query Mine { me { id } } mutation Again($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }';
    const post = (operationName?: string) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: stale[0]!.authorization },
        body: JSON.stringify({ query: document, variables: { u: username, p: PASSWORD }, ...(operationName ? { operationName } : {}) }),
      });
    expect((await post('Again')).status).toBe(200);
    expect((await post('Mine')).status).toBe(401);
    // No operationName: Apollo could not pick one, and neither does the context builder.
    expect((await post()).status).toBe(401);
  });
});

describe('a refused token in Authorization (the library, createNodeGraphQLHandler)', () => {
  const key = secretKey(TEST_SECRET);
  const jwt = { issuer: 'my-api', audience: 'my-api' };
  const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...jwt });
  const issuer = createTokenIssuer({ key, algorithm: 'HS256', ...jwt, ttlSeconds: 900 });
  const revocations = new MemoryRevocationStore();
  let apollo: ApolloServer<GraphQLContext>;
  let http: Server;
  let url: string;

  beforeAll(async () => {
    const schema = makeExecutableSchema({
      typeDefs: 'type Query { whoami: String } type Mutation { signIn(username: String!): String! }',
      resolvers: {
        Query: { whoami: (_: unknown, __: unknown, { auth }: GraphQLContext) => (auth.kind === 'authenticated' ? auth.token.userId : 'anonymous') },
        Mutation: { signIn: (_: unknown, { username }: { username: string }) => issuer.issue({ id: username, username }).token },
      },
    });
    const buildContext = createContextBuilder({ verifier, revocations });
    apollo = new ApolloServer<GraphQLContext>({ schema });
    await apollo.start();
    const graphql = createNodeGraphQLHandler(apollo, {
      context: (req, _res, request) => buildContext({ authorization: authorizationFromRequest(req), request }),
    });
    http = createHttpServer((req, res) => void graphql(req, res));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    await new Promise((resolve) => http?.close(resolve));
    await apollo?.stop();
  });

  it('lets signIn through a revoked token and refuses the rest', async () => {
    const issued = issuer.issue({ id: 'u1', username: 'u1' });
    await revocations.revoke(issued);
    const whoami = await postGraphQL(url, '{ whoami }', { token: issued.token });
    expect(refusal(whoami)).toBe('401 UNAUTHENTICATED/TOKEN_REVOKED Bearer error="invalid_token"');
    const signIn = await postGraphQL(url, 'mutation { signIn(username: "u1") }', { token: issued.token });
    expect(signIn.status).toBe(200);
    expect(typeof signIn.body.data.signIn).toBe('string');
  });
});
