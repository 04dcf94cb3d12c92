import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * A validation rule: each listed field of `typeName` may be selected at most `limit` times
 * in one document, whatever the aliases and fragments. With `{ signIn: 1 }` a request of 200
 * aliased signIn calls is refused (HTTP 400, GRAPHQL_VALIDATION_FAILED) before any password
 * is hashed. Counted over the whole document (every operation, every fragment), so it may
 * refuse a document that would run fewer calls; never one that runs more.
 */
export function fieldCallLimitRule(limits: Readonly<Record<string, number>>, typeName = 'Mutation'): ValidationRule {
  return (context) => {
    const counts = new Map<string, number>();
    return {
      Field(node) {
        const limit = limits[node.name.value];
        if (limit === undefined || context.getParentType()?.name !== typeName) return;
        const count = (counts.get(node.name.value) ?? 0) + 1;
        counts.set(node.name.value, count);
        if (count === limit + 1) {
          context.reportError(
            new GraphQLError(`"${typeName}.${node.name.value}" may be selected at most ${limit} time(s) in one request.`, {
              nodes: [node],
            }),
          );
        }
      },
    };
  };
}
