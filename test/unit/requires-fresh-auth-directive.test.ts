import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type GraphQLContext } from '../../src/context/context.js';
import { AUTHENTICATED_DIRECTIVE_TYPE_DEFS, authenticatedDirectiveTransformer } from '../../src/directives/authenticated.js';
import {
  REQUIRES_FRESH_AUTH_DIRECTIVE_TYPE_DEFS,
  requiresFreshAuthDirectiveTransformer,
  requiresFreshAuthDirectiveTypeDefs,
} from '../../src/directives/requires-fresh-auth.js';
import { REQUIRES_SCOPES_DIRECTIVE_TYPE_DEFS, requiresScopesDirectiveTransformer } from '../../src/directives/requires-scopes.js';

/** The clock of every schema here: 1,000,000 s after the epoch. */
const NOW_S = 1_000_000;
const now = () => NOW_S * 1000;

const typeDefs = /* GraphQL */ `
  ${AUTHENTICATED_DIRECTIVE_TYPE_DEFS}
  ${REQUIRES_SCOPES_DIRECTIVE_TYPE_DEFS}
  ${REQUIRES_FRESH_AUTH_DIRECTIVE_TYPE_DEFS}
  interface Sensitive @requiresFreshAuth(maxAge: 300) { id: ID }
  interface Billing { card: String @requiresFreshAuth(maxAge: 120) }
  type Secret implements Sensitive { id: ID note: String }
  type Account implements Billing { name: String card: String }
  type Vault @requiresFreshAuth(maxAge: 600) {
    total: Int
    keys: String @requiresFreshAuth(maxAge: 60)
  }
  type Query {
    public: String
    recent: String @requiresFreshAuth(maxAge: 300)
    strict: String @requiresFreshAuth(maxAge: 0)
    admin: String @requiresScopes(scopes: [["admin"]]) @requiresFreshAuth(maxAge: 300)
    members: String @authenticated @requiresFreshAuth(maxAge: 300)
    secret: Secret
    account: Account
    vault: Vault
    plain: String
  }
`;

const resolvers = {
  Query: {
    public: () => 'hello',
    recent: () => 'fresh enough',
    strict: () => 'this second',
    admin: () => 'admin',
    members: () => 'members',
    secret: () => ({ id: 's1', note: 'n' }),
    account: () => ({ name: 'alice', card: '4242' }),
    vault: () => ({ total: 3, keys: 'k' }),
    plain: () => 'plain',
  },
};

const base = () => makeExecutableSchema({ typeDefs, resolvers });
const quiet = { onWarning: () => {} };
const schema = requiresScopesDirectiveTransformer(authenticatedDirectiveTransformer(requiresFreshAuthDirectiveTransformer(base(), { now, ...quiet }), quiet), quiet);

/** A token whose password check was `age` seconds ago (undefined: no auth_time claim). */
function checkedAgo(age: number | undefined, scopes?: readonly string[]): GraphQLContext {
  return {
    auth: {
      kind: 'authenticated',
      token: { userId: 'u1', jti: 'j', issuedAt: 0, expiresAt: 1, ...(age !== undefined ? { authTime: NOW_S - age } : {}), ...(scopes ? { scopes } : {}) },
    },
  };
}
const anonymous: GraphQLContext = { auth: ANONYMOUS };

async function run(s: GraphQLSchema, source: string, contextValue: unknown) {
  return graphql({ schema: s, source, contextValue });
}

function stale(path: string[], maxAge: number) {
  return expect.objectContaining({ path, extensions: { code: 'INSUFFICIENT_USER_AUTHENTICATION', maxAge } });
}

describe('@requiresFreshAuth', () => {
  it('serves a field whose auth_time is within maxAge (the bound included)', async () => {
    for (const age of [0, 299, 300]) {
      expect(await run(schema, '{ recent }', checkedAgo(age))).toEqual({ data: { recent: 'fresh enough' } });
    }
  });

  it('refuses an older auth_time with INSUFFICIENT_USER_AUTHENTICATION and extensions.maxAge; the rest of the response is served', async () => {
    const result = await run(schema, '{ public recent plain }', checkedAgo(301));
    expect(result.data).toEqual({ public: 'hello', recent: null, plain: 'plain' });
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.path).toEqual(['recent']);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'INSUFFICIENT_USER_AUTHENTICATION', maxAge: 300 });
  });

  it('refuses a token without auth_time as too old, and maxAge 0 only within the same second', async () => {
    expect((await run(schema, '{ recent }', checkedAgo(undefined))).errors).toEqual([stale(['recent'], 300)]);
    expect(await run(schema, '{ strict }', checkedAgo(0))).toEqual({ data: { strict: 'this second' } });
    expect((await run(schema, '{ strict }', checkedAgo(1))).errors).toEqual([stale(['strict'], 0)]);
  });

  it('refuses an anonymous request with UNAUTHENTICATED / TOKEN_MISSING, like @authenticated', async () => {
    const result = await run(schema, '{ public recent }', anonymous);
    expect(result.data).toEqual({ public: 'hello', recent: null });
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
  });

  it('applies to every field of a marked type, the smallest maxAge winning where the field is marked too', async () => {
    expect(await run(schema, '{ vault { total keys } }', checkedAgo(59))).toEqual({ data: { vault: { total: 3, keys: 'k' } } });
    const result = await run(schema, '{ vault { total keys } }', checkedAgo(61));
    expect(result.data).toEqual({ vault: { total: 3, keys: null } });
    expect(result.errors).toEqual([stale(['vault', 'keys'], 60)]);
    expect((await run(schema, '{ vault { total } }', checkedAgo(601))).errors).toEqual([stale(['vault', 'total'], 600)]);
  });

  it('applies to the implementations of a marked interface and of a marked interface field', async () => {
    const result = await run(schema, '{ secret { id note } account { name card } }', checkedAgo(200));
    expect(result.data).toEqual({ secret: { id: 's1', note: 'n' }, account: { name: 'alice', card: null } });
    expect(result.errors).toEqual([stale(['account', 'card'], 120)]);
    expect((await run(schema, '{ secret { note } }', checkedAgo(301))).errors).toEqual([stale(['secret', 'note'], 300)]);
  });

  it('composes with @requiresScopes and @authenticated: the scope is checked first, then freshness', async () => {
    expect((await run(schema, '{ admin }', checkedAgo(1000))).errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });
    expect((await run(schema, '{ admin }', checkedAgo(1000, ['admin']))).errors).toEqual([stale(['admin'], 300)]);
    expect(await run(schema, '{ admin }', checkedAgo(10, ['admin']))).toEqual({ data: { admin: 'admin' } });
    expect(await run(schema, '{ members }', checkedAgo(10))).toEqual({ data: { members: 'members' } });
    expect((await run(schema, '{ members }', anonymous)).errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    // The other order of transformers gives the same answers.
    const reversed = requiresFreshAuthDirectiveTransformer(requiresScopesDirectiveTransformer(authenticatedDirectiveTransformer(base(), quiet), quiet), { now, ...quiet });
    expect(await run(reversed, '{ admin }', checkedAgo(10, ['admin']))).toEqual({ data: { admin: 'admin' } });
    expect((await run(reversed, '{ recent }', checkedAgo(301))).errors).toEqual([stale(['recent'], 300)]);
  });

  it('requires freshness of fields named in options.fields, as if they carried the directive', async () => {
    const configured = requiresFreshAuthDirectiveTransformer(base(), { now, fields: { 'Query.plain': 30, 'Query.recent': 10 }, ...quiet });
    expect((await run(configured, '{ plain }', checkedAgo(31))).errors).toEqual([stale(['plain'], 30)]);
    expect(await run(configured, '{ plain }', checkedAgo(30))).toEqual({ data: { plain: 'plain' } });
    // The smaller of the SDL's 300 and the option's 10.
    expect((await run(configured, '{ recent }', checkedAgo(11))).errors).toEqual([stale(['recent'], 10)]);
    expect(() => requiresFreshAuthDirectiveTransformer(base(), { fields: { 'Query.nope': 10 } })).toThrow(/no field of the schema/);
    expect(() => requiresFreshAuthDirectiveTransformer(base(), { fields: { 'Query.plain': -1 } })).toThrow(/maxAge must be an integer >= 0/);
  });

  it('takes another name and a custom auth time reader; refuses a schema that lacks the directive or has a negative maxAge', async () => {
    const custom = makeExecutableSchema({
      typeDefs: `${requiresFreshAuthDirectiveTypeDefs('stepUp')} type Query { x: String @stepUp(maxAge: 5) }`,
      resolvers: { Query: { x: () => 'x' } },
    });
    const transformed = requiresFreshAuthDirectiveTransformer<{ signedInAt: number }>(custom, {
      directiveName: 'stepUp',
      isAuthenticated: () => true,
      getAuthTime: (context) => context.signedInAt,
      now,
    });
    expect(await run(transformed, '{ x }', { signedInAt: NOW_S - 5 })).toEqual({ data: { x: 'x' } });
    expect((await run(transformed, '{ x }', { signedInAt: NOW_S - 6 })).errors).toEqual([stale(['x'], 5)]);
    expect(() => requiresFreshAuthDirectiveTransformer(custom)).toThrow(/does not declare @requiresFreshAuth/);
    const negative = makeExecutableSchema({ typeDefs: `${REQUIRES_FRESH_AUTH_DIRECTIVE_TYPE_DEFS} type Query { x: String @requiresFreshAuth(maxAge: -1) }` });
    expect(() => requiresFreshAuthDirectiveTransformer(negative, quiet)).toThrow(/maxAge must be an integer >= 0/);
  });

  it('warns at build time of a guarded non-null field whose null would bubble up, as the other directives do', () => {
    const warnings: string[] = [];
    const bubbling = makeExecutableSchema({
      typeDefs: `${REQUIRES_FRESH_AUTH_DIRECTIVE_TYPE_DEFS} type Item { id: ID! @requiresFreshAuth(maxAge: 60) } type Query { items: [Item!]! }`,
    });
    requiresFreshAuthDirectiveTransformer(bubbling, { onWarning: (message) => warnings.push(message) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^@requiresFreshAuth on Item\.id: ID! is non-null/);
  });

  it('checks subscriptions when they start', async () => {
    const subs = requiresFreshAuthDirectiveTransformer(
      makeExecutableSchema({
        typeDefs: `${REQUIRES_FRESH_AUTH_DIRECTIVE_TYPE_DEFS} type Query { x: String } type Subscription { tick: Int @requiresFreshAuth(maxAge: 60) }`,
        resolvers: {
          Subscription: {
            tick: {
              subscribe: async function* () {
                yield { tick: 1 };
              },
            },
          },
        },
      }),
      { now, ...quiet },
    );
    const field = subs.getSubscriptionType()?.getFields().tick;
    expect(() => field?.subscribe?.({}, {}, checkedAgo(61), {} as never)).toThrow(/password check within the last 60 seconds/);
    expect(() => field?.subscribe?.({}, {}, checkedAgo(59), {} as never)).not.toThrow();
  });
});
