import type { Area } from '../areas/area.js';
import type { GraphQLContext } from '../context/context.js';
import type { ResolverLogger } from '../context/resolver-support.js';
import { createAdminResolvers } from './admin-resolvers.js';
import { safeText } from './log-text.js';
import { createUserAdmin, type UserAdminOptions } from './user-admin.js';

/** What {@link adminArea} needs: the operator actions' options, and how fresh an operator's sign-in must be. */
export interface AdminAreaOptions extends UserAdminOptions {
  logger?: ResolverLogger & NonNullable<UserAdminOptions['logger']>;
  /** Told of each revocation of all of a user's tokens, with how many (metrics). */
  onRevocation?: (kind: 'one' | 'all', count: number) => void;
  /**
   * ADMIN_FRESH_AUTH_MAX_AGE: cancelAllUserTokens and setUserDisabled as if they carried
   * `@requiresFreshAuth(maxAge:)`, so a stolen operator token alone can't use them. Unset: no step-up.
   */
  freshAuthMaxAgeSeconds?: number | undefined;
}

/**
 * The admin area: userSessions, cancelAllUserTokens and setUserDisabled (who may call them is
 * the schema's `@requiresScopes`), and an audit line for every refused attempt.
 */
export function adminArea(options: AdminAreaOptions): Area {
  const { logger, freshAuthMaxAgeSeconds: maxAge } = options;
  return {
    name: 'admin',
    resolvers: createAdminResolvers({
      admin: createUserAdmin(options),
      ...(logger ? { logger } : {}),
      ...(options.onRevocation ? { onRevocation: options.onRevocation } : {}),
    }),
    directives: {
      ...(maxAge !== undefined ? { freshAuthFields: { 'Mutation.cancelAllUserTokens': maxAge, 'Mutation.setUserDisabled': maxAge } } : {}),
      // Every refused admin attempt leaves an audit line (issue 18): who, which field, why.
      onScopeRefused: (context: GraphQLContext, field, reason) => {
        const actor = context.auth.kind === 'authenticated' ? { kind: 'user', userId: safeText(context.auth.token.userId) } : { kind: 'anonymous' };
        logger?.info({ audit: true, actor, field, outcome: 'refused', reason }, 'admin: refused');
      },
    },
  };
}
