/**
 * Null bubbling, found at schema build time.
 *
 * A field that refuses anonymous callers resolves to null with an error. When that field is
 * non-null (`id: ID!`), GraphQL cannot return null there: the null bubbles up to the nearest
 * nullable parent field, and with only non-null fields on the way up, `data` itself is null.
 * An anonymous `{ posts { comments { id } } }` against `type Comment @authenticated { id: ID! }`
 * reached through `posts: [Post!]!` and `comments: [Comment!]!` loses the whole response,
 * public posts included.
 *
 * The fix is in the schema: protect a nullable field (the field itself, or the field that
 * leads to the protected type: `comments: [Comment!] @authenticated`), so that anonymous
 * callers never enter the type. This module finds the fields where that was not done: the
 * protected non-null fields of the object types that an anonymous request can reach through
 * unprotected fields. It works for any directive with @authenticated's placement rules (on
 * a field, on its type, on an interface of its type or on that interface's field), so the
 * scope directive uses it too, with its own name.
 */
import { getDirective } from '@graphql-tools/utils';
import {
  getNamedType,
  isAbstractType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

/** One protected non-null field that anonymous callers can reach. */
export interface NullBubblingWarning {
  /** `Type.field`. */
  readonly coordinate: string;
  /** How an anonymous request reaches the type, e.g. `['Query.posts', 'Post.comments']`. */
  readonly reachedThrough: readonly string[];
  /** The whole warning, ready for a log. */
  readonly message: string;
}

/**
 * Tells whether `directiveName` protects `fieldName` of `type`: on the field, on the type,
 * on one of its interfaces or on that interface's field of the same name. The rule
 * authenticatedDirectiveTransformer applies.
 */
export function createProtectionCheck(
  schema: GraphQLSchema,
  directiveName: string,
): (type: GraphQLObjectType, field: GraphQLField<unknown, unknown>) => boolean {
  const marked = (node: Parameters<typeof getDirective>[1]): boolean => Boolean(getDirective(schema, node, directiveName)?.length);
  return (type, field) => {
    if (marked(field) || marked(type)) return true;
    return type.getInterfaces().some((iface) => {
      const inherited = iface.getFields()[field.name];
      return marked(iface) || (inherited !== undefined && marked(inherited));
    });
  };
}

/**
 * Every field protected by `directiveName` whose non-null type would make an anonymous
 * refusal bubble up, on an object type that anonymous requests can reach through
 * unprotected fields from Query. Fields of the Mutation and Subscription root types are not
 * reported: a refused root mutation or subscription makes `data` null, which is the refusal
 * a client expects (only the results of other mutations sent in the same document are lost).
 */
export function findNullBubblingFields(schema: GraphQLSchema, directiveName: string): NullBubblingWarning[] {
  const isProtected = createProtectionCheck(schema, directiveName);
  const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(
    (type): type is GraphQLObjectType => type !== null && type !== undefined,
  );
  const notReported = new Set<GraphQLObjectType>(roots.filter((root) => root !== schema.getQueryType()));

  // Breadth first, so that each type's path is a shortest way in.
  const reachedThrough = new Map<GraphQLObjectType, string[]>(roots.map((root) => [root, []]));
  const queue = [...roots];
  for (let type = queue.shift(); type; type = queue.shift()) {
    const path = reachedThrough.get(type) as string[];
    for (const field of Object.values(type.getFields())) {
      if (isProtected(type, field)) continue;
      const named = getNamedType(field.type);
      const next = isObjectType(named) ? [named] : isAbstractType(named) ? schema.getPossibleTypes(named) : [];
      for (const object of next) {
        if (reachedThrough.has(object)) continue;
        reachedThrough.set(object, [...path, `${type.name}.${field.name}`]);
        queue.push(object);
      }
    }
  }

  const warnings: NullBubblingWarning[] = [];
  for (const [type, path] of reachedThrough) {
    if (notReported.has(type)) continue;
    for (const field of Object.values(type.getFields())) {
      if (!isNonNullType(field.type) || !isProtected(type, field)) continue;
      const coordinate = `${type.name}.${field.name}`;
      const via = path.length > 0 ? ` (reached through ${path.join(' -> ')})` : '';
      warnings.push({
        coordinate,
        reachedThrough: path,
        message:
          `@${directiveName} on ${coordinate}: ${String(field.type)} is non-null, so for an anonymous request${via} ` +
          `its null bubbles up to the nearest nullable parent field, or makes the whole data null. ` +
          `Make ${coordinate} nullable, or protect a nullable field that leads to ${type.name} instead.`,
      });
    }
  }
  return warnings;
}

/** Where warnings go; default console.warn. */
export type WarningHandler = (message: string) => void;

/** Runs {@link findNullBubblingFields} and hands each warning's message to `onWarning`. */
export function warnNullBubbling(schema: GraphQLSchema, directiveName: string, onWarning: WarningHandler = console.warn): NullBubblingWarning[] {
  const warnings = findNullBubblingFields(schema, directiveName);
  for (const warning of warnings) onWarning(warning.message);
  return warnings;
}
