import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GraphQLContext } from '../../src/context/context.js';
import { ANONYMOUS } from '../../src/context/context.js';
import {
  AUTHENTICATED_DIRECTIVE_TYPE_DEFS,
  authenticatedDirectiveTransformer,
  authenticatedDirectiveTypeDefs,
} from '../../src/directives/authenticated.js';

const typeDefs = /* GraphQL */ `
  ${AUTHENTICATED_DIRECTIVE_TYPE_DEFS}
  interface Node @authenticated { id: ID! }
  interface Named { name: String @authenticated }
  type Doc implements Node { id: ID! title: String }
  type Pet implements Named { name: String kind: String }
  type Secret @authenticated { code: String note: String }
  type Query {
    public: String
    private: String @authenticated
    secret: Secret
    doc: Doc
    pet: Pet
  }
`;

const resolvers = {
  Query: {
    public: () => 'hello',
    private: () => 'for members',
    secret: () => ({ code: 'c0de', note: 'n' }),
    doc: () => ({ id: 'd1', title: 'T' }),
    pet: () => ({ name: 'Rex', kind: 'dog' }),
  },
};

// Doc.id is protected and non-null on purpose (null bubbling is part of what is tested): the
// build-time warning about it is expected, and checked in null-bubbling.test.ts.
const schema = authenticatedDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers }), { onWarning: () => {} });
const member: GraphQLContext = {
  auth: { kind: 'authenticated', token: { userId: 'u1', jti: 'j', issuedAt: 0, expiresAt: 1 } },
};
const anonymous: GraphQLContext = { auth: ANONYMOUS };

async function run(s: GraphQLSchema, source: string, contextValue: unknown) {
  return graphql({ schema: s, source, contextValue });
}

describe('@authenticated', () => {
  it('lets public fields resolve and nulls a protected field with TOKEN_MISSING at its path', async () => {
    const result = await run(schema, '{ public private }', anonymous);
    expect(result.data).toEqual({ public: 'hello', private: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.path).toEqual(['private']);
    expect(result.errors![0]!.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
  });

  it('resolves protected fields for an authenticated context', async () => {
    const result = await run(schema, '{ private secret { code } doc { id title } pet { name } }', member);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ private: 'for members', secret: { code: 'c0de' }, doc: { id: 'd1', title: 'T' }, pet: { name: 'Rex' } });
  });

  it('on a type, protects every field of the type (default resolvers included)', async () => {
    const result = await run(schema, '{ secret { code note } }', anonymous);
    expect(result.data).toEqual({ secret: { code: null, note: null } });
    expect(result.errors!.map((e) => e.path)).toEqual([['secret', 'code'], ['secret', 'note']]);
  });

  it('on an interface, protects the fields of every implementing type', async () => {
    const result = await run(schema, '{ doc { title } }', anonymous);
    expect(result.data).toEqual({ doc: { title: null } });
    expect(result.errors!.map((e) => [e.path, e.extensions?.reason])).toEqual([[['doc', 'title'], 'TOKEN_MISSING']]);
    // A non-null protected field nulls its parent, as GraphQL requires.
    const nonNull = await run(schema, '{ doc { id } }', anonymous);
    expect(nonNull.data).toEqual({ doc: null });
    expect(nonNull.errors!.map((e) => e.path)).toEqual([['doc', 'id']]);
  });

  it('on an interface field, protects that field on implementing types only', async () => {
    const result = await run(schema, '{ pet { name kind } }', anonymous);
    expect(result.data).toEqual({ pet: { name: null, kind: 'dog' } });
    expect(result.errors!.map((e) => e.path)).toEqual([['pet', 'name']]);
  });

  it('does no work for a context without auth: fails closed', async () => {
    const result = await run(schema, '{ private }', {});
    expect(result.data).toEqual({ private: null });
    expect(result.errors![0]!.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('takes another directive name and a custom check', async () => {
    const custom = authenticatedDirectiveTransformer(
      makeExecutableSchema({
        typeDefs: `${authenticatedDirectiveTypeDefs('signedIn')} type Query { a: String @signedIn b: String }`,
        resolvers: { Query: { a: () => 'A', b: () => 'B' } },
      }),
      { directiveName: 'signedIn', isAuthenticated: (ctx: { user?: string }) => Boolean(ctx.user) },
    );
    expect((await run(custom, '{ a b }', { user: 'x' })).data).toEqual({ a: 'A', b: 'B' });
    expect((await run(custom, '{ a b }', {})).data).toEqual({ a: null, b: 'B' });
  });

  it('refuses to transform a schema that does not declare the directive', () => {
    const plain = makeExecutableSchema({ typeDefs: 'type Query { a: String }' });
    expect(() => authenticatedDirectiveTransformer(plain)).toThrow(/does not declare @authenticated/);
  });
});
