/**
 * The areas composed by a library user, as docs/library.md's "Compose our areas" section does:
 * the same entry functions createServer lists, on memory stores, behind a schema and a node:http
 * server of the user's own. Proves the list is enough: their resolvers answer, a revocation made
 * through one area is seen by the context builder, the admin area's scope refusals reach the
 * audit log, and the health area's routes answer beside the user's /graphql.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT_SDL,
  ADMIN_SDL,
  DIRECTIVES_SDL,
  REVOCATION_SDL,
  MemoryRevocationStore,
  MemorySessionStore,
  MemoryUserStore,
  SESSION_DEFAULTS,
  accountsArea,
  adminArea,
  areaDirectives,
  areaResolvers,
  areaRoutesFor,
  authenticatedDirectiveTransformer,
  createContextBuilder,
  createPasswordHasher,
  createSessionManager,
  createTokenIssuer,
  createTokenVerifier,
  healthArea,
  requiresScopesDirectiveTransformer,
  revocationArea,
  sessionsArea,
  type Area,
  type GraphQLContext,
} from '../../src/index.js';
import { TEST_SECRET } from '../helpers/test-server.js';
import { secretKey } from '../helpers/tokens.js';

const key = secretKey(TEST_SECRET);
const jwt = { issuer: 'my-api', audience: 'my-api' };

describe('a library server composed of our areas', () => {
  const audit: object[] = [];
  const logger = { info: (fields: object) => audit.push(fields), warn: () => {}, error: () => {} };
  const revocations = new MemoryRevocationStore();
  const store = new MemorySessionStore({ revocations, ...SESSION_DEFAULTS, sweepIntervalMs: 0 });
  const users = new MemoryUserStore();
  const issuer = createTokenIssuer({ key, algorithm: 'HS256', ...jwt, ttlSeconds: 900 });
  const verifier = createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...jwt });
  const sessions = createSessionManager({ issuer, users, store, refreshTokenKey: Buffer.alloc(32, 7) });
  const passwords = createPasswordHasher({ cost: 1024 });
  const areas: Area[] = [
    accountsArea({ issuer, revocations, users, passwords, sessions }),
    revocationArea({ verifier, revocations, sessions }),
    sessionsArea({ sessions, users, passwords }),
    adminArea({ users, revocations, sessions, logger }),
    healthArea({ revocations }),
  ];
  const schema = requiresScopesDirectiveTransformer(
    authenticatedDirectiveTransformer(
      makeExecutableSchema({ typeDefs: [DIRECTIVES_SDL, ACCOUNT_SDL, REVOCATION_SDL, ADMIN_SDL], resolvers: areaResolvers(areas) }),
      { onWarning: () => {} },
    ),
    { onWarning: () => {}, onRefused: areaDirectives(areas).onScopeRefused },
  );
  const apollo = new ApolloServer<GraphQLContext>({ schema });
  const buildContext = createContextBuilder({ verifier, revocations });
  let http: Server;
  let base: string;

  async function run(query: string, token?: string): Promise<{ data?: Record<string, unknown> | null; errors?: readonly { extensions?: Record<string, unknown> }[] }> {
    try {
      const contextValue = await buildContext({ authorization: token ? `Bearer ${token}` : undefined });
      const response = await apollo.executeOperation({ query }, { contextValue });
      if (response.body.kind !== 'single') throw new Error('incremental answer');
      return response.body.singleResult as never;
    } catch (error) {
      return { errors: [{ extensions: (error as { extensions?: Record<string, unknown> }).extensions ?? {} }] };
    }
  }

  beforeAll(async () => {
    await apollo.start();
    http = createServer((req, res) => {
      const routes = areaRoutesFor(areas, (req.url ?? '/').split('?', 1)[0] as string);
      if (routes) return void routes.handle(req, res);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await apollo.stop();
    await new Promise((resolve) => http.close(resolve));
    await store.close?.();
  });

  it('signs up through the accounts area and refuses the token after cancelToken (revocation area)', async () => {
    const signUp = await run('mutation { signUp(username: "alice", password: "alice-password") { accessToken } }');
    const token = (signUp.data?.signUp as { accessToken: string }).accessToken;
    expect((await run('{ me { username } }', token)).data).toEqual({ me: { username: 'alice' } });
    expect((await run('{ mySessions { current } }', token)).data).toEqual({ mySessions: [{ current: true }] });
    expect((await run('mutation { cancelToken }', token)).data).toEqual({ cancelToken: true });
    const refused = await run('{ me { username } }', token);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
  });

  it('writes the admin area audit line for a refused operator field', async () => {
    const signUp = await run('mutation { signUp(username: "bob", password: "bob-password") { accessToken } }');
    const token = (signUp.data?.signUp as { accessToken: string }).accessToken;
    const answer = await run('mutation { cancelAllUserTokens(userId: "someone") }', token);
    expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(audit).toContainEqual(expect.objectContaining({ audit: true, field: 'Mutation.cancelAllUserTokens', outcome: 'refused', reason: 'INSUFFICIENT_SCOPE' }));
  });

  it("answers the health area's routes beside the user's own", async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
    expect((await fetch(`${base}/graphql-elsewhere`)).status).toBe(404);
  });
});
