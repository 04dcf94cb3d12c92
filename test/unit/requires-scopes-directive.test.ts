import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type GraphQLContext } from '../../src/context/context.js';
import { AUTHENTICATED_DIRECTIVE_TYPE_DEFS, authenticatedDirectiveTransformer } from '../../src/directives/authenticated.js';
import {
  REQUIRES_SCOPES_DIRECTIVE_TYPE_DEFS,
  requiresScopesDirectiveTransformer,
  requiresScopesDirectiveTypeDefs,
  scopesSatisfy,
} from '../../src/directives/requires-scopes.js';

const typeDefs = /* GraphQL */ `
  ${AUTHENTICATED_DIRECTIVE_TYPE_DEFS}
  ${REQUIRES_SCOPES_DIRECTIVE_TYPE_DEFS}
  interface Audited @requiresScopes(scopes: [["audit:read"]]) { id: ID! }
  interface Priced { price: Int @requiresScopes(scopes: [["billing:read"]]) }
  type Entry implements Audited { id: ID! action: String }
  type Product implements Priced { name: String price: Int }
  type Payroll @requiresScopes(scopes: [["hr:read"]]) {
    total: Int
    ceo: Int @requiresScopes(scopes: [["hr:admin"]])
  }
  type Query {
    public: String
    either: String @requiresScopes(scopes: [["a", "b"], ["c"]])
    members: String @authenticated @requiresScopes(scopes: [["m"]])
    entry: Entry
    product: Product
    payroll: Payroll
  }
`;

const resolvers = {
  Query: {
    public: () => 'hello',
    either: () => 'granted',
    members: () => 'members only',
    entry: () => ({ id: 'e1', action: 'login' }),
    product: () => ({ name: 'mug', price: 12 }),
    payroll: () => ({ total: 100, ceo: 60 }),
  },
};

const base = () => makeExecutableSchema({ typeDefs, resolvers });
const schema = requiresScopesDirectiveTransformer(authenticatedDirectiveTransformer(base()));

function withScopes(scopes?: readonly string[]): GraphQLContext {
  return {
    auth: { kind: 'authenticated', token: { userId: 'u1', jti: 'j', issuedAt: 0, expiresAt: 1, ...(scopes ? { scopes } : {}) } },
  };
}
const anonymous: GraphQLContext = { auth: ANONYMOUS };

async function run(s: GraphQLSchema, source: string, contextValue: unknown) {
  return graphql({ schema: s, source, contextValue });
}

describe('scopesSatisfy: the outer list is OR, each inner list AND', () => {
  const rule = [[['a', 'b'], ['c']]] as const;
  it.each([
    [['a', 'b'], true],
    [['c'], true],
    [['a', 'b', 'c'], true],
    [['a'], false],
    [['b'], false],
    [[], false],
    [['A', 'B'], false],
  ])('granted %j -> %s', (granted, expected) => {
    expect(scopesSatisfy(rule, new Set(granted))).toBe(expected);
  });

  it('needs every requirement when several apply (a field and its type)', () => {
    expect(scopesSatisfy([[['x']], [['y']]], new Set(['x']))).toBe(false);
    expect(scopesSatisfy([[['x']], [['y']]], new Set(['x', 'y']))).toBe(true);
  });
});

describe('@requiresScopes', () => {
  it('nulls a field for an anonymous request with UNAUTHENTICATED / TOKEN_MISSING at its path, serving the rest', async () => {
    const result = await run(schema, '{ public either }', anonymous);
    expect(result.data).toEqual({ public: 'hello', either: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.path).toEqual(['either']);
    expect(result.errors![0]!.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
  });

  it('nulls a field for a token without the scopes with FORBIDDEN / INSUFFICIENT_SCOPE at its path, serving the rest', async () => {
    const result = await run(schema, '{ public either }', withScopes(['a']));
    expect(result.data).toEqual({ public: 'hello', either: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.path).toEqual(['either']);
    expect(result.errors![0]!.extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });
  });

  it('resolves a field for either alternative of its OR, and refuses a token with no scope claim', async () => {
    expect((await run(schema, '{ either }', withScopes(['a', 'b']))).data).toEqual({ either: 'granted' });
    expect((await run(schema, '{ either }', withScopes(['c']))).data).toEqual({ either: 'granted' });
    const none = await run(schema, '{ either }', withScopes());
    expect(none.data).toEqual({ either: null });
    expect(none.errors![0]!.extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });
  });

  it('on a type, guards every field of it; a field carrying its own directive needs both', async () => {
    const reader = await run(schema, '{ payroll { total ceo } }', withScopes(['hr:read']));
    expect(reader.data).toEqual({ payroll: { total: 100, ceo: null } });
    expect(reader.errors).toHaveLength(1);
    expect(reader.errors![0]!.path).toEqual(['payroll', 'ceo']);
    expect(reader.errors![0]!.extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });

    const adminOnly = await run(schema, '{ payroll { total ceo } }', withScopes(['hr:admin']));
    expect(adminOnly.data).toEqual({ payroll: { total: null, ceo: null } });
    expect(adminOnly.errors!.map((e) => e.path)).toEqual([['payroll', 'total'], ['payroll', 'ceo']]);

    const both = await run(schema, '{ payroll { total ceo } }', withScopes(['hr:admin', 'hr:read']));
    expect(both.errors).toBeUndefined();
    expect(both.data).toEqual({ payroll: { total: 100, ceo: 60 } });
  });

  it('on an interface, guards every field of its implementations; on an interface field, that field of theirs', async () => {
    const plain = await run(schema, '{ entry { action } product { name price } }', withScopes(['other']));
    expect(plain.data).toEqual({ entry: { action: null }, product: { name: 'mug', price: null } });
    expect(plain.errors!.map((e) => e.path)).toEqual([['entry', 'action'], ['product', 'price']]);
    for (const error of plain.errors!) expect(error.extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });

    const granted = await run(schema, '{ entry { id action } product { name price } }', withScopes(['audit:read', 'billing:read']));
    expect(granted.errors).toBeUndefined();
    expect(granted.data).toEqual({ entry: { id: 'e1', action: 'login' }, product: { name: 'mug', price: 12 } });
  });

  it('composes with @authenticated, applied in either order', async () => {
    const other = requiresScopesDirectiveTransformer(base());
    const reversed = authenticatedDirectiveTransformer(other);
    for (const s of [schema, reversed]) {
      const anon = await run(s, '{ members }', anonymous);
      expect(anon.data).toEqual({ members: null });
      expect(anon.errors).toHaveLength(1);
      expect(anon.errors![0]!.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
      const lacking = await run(s, '{ members }', withScopes(['x']));
      expect(lacking.errors![0]!.extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });
      expect((await run(s, '{ members }', withScopes(['m']))).data).toEqual({ members: 'members only' });
    }
  });

  it('reads scopes with a custom reader: a permissions array, or a space-separated string', async () => {
    const permissions = requiresScopesDirectiveTransformer(base(), {
      getScopes: (context: { auth: { kind: string }; permissions?: string[] }) => context.permissions,
    });
    const ctx = (permissions_: string[]) => ({ auth: { kind: 'authenticated' }, permissions: permissions_ });
    expect((await run(permissions, '{ either }', ctx(['c']))).data).toEqual({ either: 'granted' });
    expect((await run(permissions, '{ either }', ctx(['a']))).errors![0]!.extensions).toEqual({ code: 'FORBIDDEN', reason: 'INSUFFICIENT_SCOPE' });

    const claim = requiresScopesDirectiveTransformer(base(), { getScopes: (context: { scope: string }) => context.scope });
    const ctx2 = (scope: string) => ({ auth: { kind: 'authenticated' }, scope });
    expect((await run(claim, '{ either }', ctx2('b  a'))).data).toEqual({ either: 'granted' });
    expect((await run(claim, '{ either }', ctx2('ab'))).data).toEqual({ either: null });
  });

  it('takes another directive name and a custom isAuthenticated', async () => {
    const s = requiresScopesDirectiveTransformer(
      makeExecutableSchema({
        typeDefs: `${requiresScopesDirectiveTypeDefs('scoped')} type Query { x: String @scoped(scopes: [["s"]]) }`,
        resolvers: { Query: { x: () => 'x' } },
      }),
      { directiveName: 'scoped', isAuthenticated: (c: { user?: string }) => c.user !== undefined, getScopes: () => ['s'] },
    );
    expect((await run(s, '{ x }', { user: 'u' })).data).toEqual({ x: 'x' });
    expect((await run(s, '{ x }', {})).errors![0]!.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
  });

  it('refuses at build time a schema without the directive, or an empty scopes list', () => {
    expect(() => requiresScopesDirectiveTransformer(makeExecutableSchema({ typeDefs: 'type Query { x: String }' }))).toThrow(
      /does not declare @requiresScopes/,
    );
    expect(() =>
      requiresScopesDirectiveTransformer(
        makeExecutableSchema({ typeDefs: `${REQUIRES_SCOPES_DIRECTIVE_TYPE_DEFS} type Query { x: String @requiresScopes(scopes: []) }` }),
      ),
    ).toThrow(/Query\.x has an empty scopes list/);
  });
});
