import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import type { Clock } from '../auth/token.js';
import { areaDirectives, areaResolvers, type Area } from '../areas/area.js';
import { authenticatedDirectiveTransformer } from '../directives/authenticated.js';
import { requiresFreshAuthDirectiveTransformer } from '../directives/requires-fresh-auth.js';
import { requiresScopesDirectiveTransformer } from '../directives/requires-scopes.js';
import type { Logger } from '../logger.js';
import { typeDefs } from '../schema.js';

/** The executable schema of the shared SDL with the resolvers of `areas`, and our three directives applied once. */
export function buildSchema(areas: readonly Area[], options: { logger: Logger; now: Clock }): GraphQLSchema {
  const { logger, now } = options;
  // The contract fixes two guarded non-null lists on Query (mySessions, userSessions): an
  // anonymous or unscoped request for them gets `data: null`, as documented in docs/api.md.
  // Known, so not a warning at every start: debug.
  const onWarning = (message: string) => logger.debug({}, message);
  const { freshAuthFields, onScopeRefused } = areaDirectives(areas);
  // The outermost transformer checks first: scopes, then a token, then freshness (a caller who
  // may not use a field is told so, not asked for their password).
  return requiresScopesDirectiveTransformer(
    authenticatedDirectiveTransformer(
      requiresFreshAuthDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers: areaResolvers(areas) }), {
        onWarning,
        now,
        fields: freshAuthFields,
      }),
      { onWarning },
    ),
    { onWarning, onRefused: onScopeRefused },
  );
}
