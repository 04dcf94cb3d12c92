import type { Resolvers } from '../__generated__/resolvers-types.js';
import { SelfDisableError, type AdminActor, type UserAdmin } from './user-admin.js';
import { forbiddenError } from '../errors.js';
import { authenticatedToken, guarded, type ResolverLogger } from '../context/resolver-support.js';

/** What the admin resolvers need: the operator actions (createUserAdmin). */
export interface AdminResolverOptions {
  admin: UserAdmin;
  logger?: ResolverLogger;
  /** Told of each revocation of all of a user's tokens, with how many (metrics). */
  onRevocation?: (kind: 'one' | 'all', count: number) => void;
}

/**
 * Resolvers for the operator fields of schema/admin.graphql (userSessions,
 * cancelAllUserTokens, setUserDisabled). Who may call them is the schema's business (`@requiresScopes` with
 * `tokens:admin`); the resolvers act, and the admin functions write the audit log.
 */
export function createAdminResolvers(options: AdminResolverOptions): Pick<Resolvers, 'Query' | 'Mutation'> {
  const { admin, logger, onRevocation } = options;
  const actorOf = (context: Parameters<typeof authenticatedToken>[0]): AdminActor => ({ kind: 'user', userId: authenticatedToken(context).userId });
  return {
    Query: {
      async userSessions(_parent, { userId }, context) {
        const token = authenticatedToken(context);
        const sessions = await guarded(logger, 'listSessions', () => admin.listSessions(actorOf(context), userId));
        // `current` is the session of this request's token: only ever one of the admin's own.
        return (sessions ?? []).map((session) => ({ ...session, current: userId === token.userId && session.id === token.sessionId }));
      },
    },
    Mutation: {
      async cancelAllUserTokens(_parent, { userId }, context) {
        const count = await guarded(logger, 'revokeUser', () => admin.revokeUser(actorOf(context), userId));
        onRevocation?.('all', count);
        return count;
      },

      async setUserDisabled(_parent, { userId, disabled }, context) {
        try {
          const result = await guarded(logger, 'setUserDisabled', () => admin.setDisabled(actorOf(context), userId, disabled));
          if (result && result.tokensRevoked > 0) onRevocation?.('all', result.tokensRevoked);
          return result !== undefined;
        } catch (error) {
          if (error instanceof SelfDisableError) throw forbiddenError(error.message);
          throw error;
        }
      },
    },
  };
}
