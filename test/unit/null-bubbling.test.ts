import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  AUTHENTICATED_DIRECTIVE_TYPE_DEFS,
  authenticatedDirectiveTransformer,
  authenticatedDirectiveTypeDefs,
  findNullBubblingFields,
  typeDefs as apiTypeDefs,
} from '../../src/index.js';

const posts = [{ id: 'p1', title: 'Hello', comments: [{ id: 'c1', body: 'first' }] }];
const resolvers = { Query: { posts: () => posts, health: () => 'ok' } };
const anonymous = { auth: { kind: 'anonymous' as const } };

/** The schema: a protected type reached through non-null lists. */
const bubbling = /* GraphQL */ `
  ${AUTHENTICATED_DIRECTIVE_TYPE_DEFS}
  type Comment @authenticated { id: ID! body: String }
  type Post { id: ID! title: String! comments: [Comment!]! }
  type Query { health: String posts: [Post!]! }
`;

/** The documented fix: protect the nullable field that leads to the protected type. */
const fixed = /* GraphQL */ `
  ${AUTHENTICATED_DIRECTIVE_TYPE_DEFS}
  type Comment @authenticated { id: ID! body: String }
  type Post { id: ID! title: String! comments: [Comment!] @authenticated }
  type Query { health: String posts: [Post!]! }
`;

function build(typeDefs: string) {
  const warnings: string[] = [];
  const schema = authenticatedDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers }), {
    onWarning: (message) => warnings.push(message),
  });
  return { schema, warnings };
}

describe('null bubbling under @authenticated, found at schema build time', () => {
  it('warns, with the path an anonymous request takes, for a protected non-null field it can reach', async () => {
    const { schema, warnings } = build(bubbling);
    expect(warnings).toEqual([
      '@authenticated on Comment.id: ID! is non-null, so for an anonymous request (reached through Query.posts -> Post.comments) ' +
        'its null bubbles up to the nearest nullable parent field, or makes the whole data null. ' +
        'Make Comment.id nullable, or protect a nullable field that leads to Comment instead.',
    ]);
    // What the warning is about: the whole response is lost, public fields included.
    const result = await graphql({ schema, source: '{ health posts { title comments { id } } }', contextValue: anonymous });
    expect(result.data).toBeNull();
  });

  it('is silent for the documented pattern, which keeps the public data', async () => {
    const { schema, warnings } = build(fixed);
    expect(warnings).toEqual([]);
    const result = await graphql({ schema, source: '{ health posts { title comments { id } } }', contextValue: anonymous });
    expect(result.data).toEqual({ health: 'ok', posts: [{ title: 'Hello', comments: null }] });
    expect(result.errors?.map((e) => [e.path, e.extensions.reason])).toEqual([[['posts', 0, 'comments'], 'TOKEN_MISSING']]);
  });

  it('follows interfaces and unions to their object types, and names the directive it was given', () => {
    const schema = makeExecutableSchema({
      typeDefs: /* GraphQL */ `
        ${authenticatedDirectiveTypeDefs('signedIn')}
        interface Node { id: ID! }
        type Secret implements Node @signedIn { id: ID! }
        type Open implements Node { id: ID! note: String! @signedIn }
        union Thing = Secret | Open
        type Query { node: Node things: [Thing] me: String! @signedIn }
        type Mutation { act: Boolean! @signedIn }
      `,
    });
    expect(findNullBubblingFields(schema, 'signedIn').map((w) => [w.coordinate, w.reachedThrough])).toEqual([
      ['Query.me', []],
      ['Secret.id', ['Query.node']],
      ['Open.note', ['Query.node']],
    ]);
    expect(findNullBubblingFields(schema, 'authenticated')).toEqual([]);
  });

  it("finds in the API's own schema only the guarded non-null lists the contract fixes (mySessions, userSessions)", () => {
    const schema = makeExecutableSchema({ typeDefs: apiTypeDefs });
    expect(findNullBubblingFields(schema, 'authenticated').map((w) => w.coordinate)).toEqual(['Query.mySessions']);
    expect(findNullBubblingFields(schema, 'requiresScopes').map((w) => w.coordinate)).toEqual(['Query.userSessions']);
  });
});
