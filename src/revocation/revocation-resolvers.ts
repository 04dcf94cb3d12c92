import { systemClock, type Clock, type TokenRef } from '../auth/token.js';
import { TokenVerificationError, type TokenVerifier } from '../auth/token-verifier.js';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import { badUserInputError, forbiddenError } from '../errors.js';
import type { RevocationStore } from './revocation-store.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { authenticatedToken, guarded, type ResolverLogger } from '../context/resolver-support.js';

/** What the revocation resolvers need: a verifier and a store, nothing of users or passwords. */
export interface RevocationResolverOptions {
  /** Checks the token passed to cancelToken(token:) (its expiry is ignored). */
  verifier: TokenVerifier;
  revocations: RevocationStore;
  logger?: ResolverLogger;
  /** Seconds a token is accepted after exp (the verifier's clock tolerance). Default 5. */
  expiryGraceSeconds?: number;
  now?: Clock;
  /** Told of each revocation: `one` or `all`, and how many tokens. */
  onRevocation?: (kind: 'one' | 'all', count: number) => void;
  /**
   * With sessions, cancelAllMyTokens also ends them and sets the per-user cutoff (tokens
   * never recorded are refused too); exceptCurrentSession keeps this request's session.
   */
  sessions?: Pick<SessionManager, 'endAll'>;
}

/**
 * Resolvers for `cancelToken` and `cancelAllMyTokens` alone, for a server that has its own
 * users and sign-in: merge them into your resolver map, with those two fields of our SDL
 * (REVOCATION_SDL) in yours.
 */
export function createRevocationResolvers(options: RevocationResolverOptions): Pick<Resolvers, 'Mutation'> {
  const { verifier, revocations, logger, onRevocation, sessions } = options;
  const grace = options.expiryGraceSeconds ?? 5;
  const now = options.now ?? systemClock;
  return {
    Mutation: {
      async cancelToken(_parent, { token }, context) {
        const current = authenticatedToken(context);
        let target: TokenRef = current;
        if (token !== undefined && token !== null) {
          try {
            target = verifier.verifyIgnoringExpiry(token);
          } catch (error) {
            if (error instanceof TokenVerificationError) throw badUserInputError('The token to cancel is not a valid token.', 'token');
            throw error;
          }
          if (target.userId !== current.userId) throw forbiddenError('You can only cancel your own tokens.');
          // Past its expiry (and the clock tolerance) no instance accepts it any more.
          if (target.expiresAt + grace < Math.floor(now() / 1000)) return true;
        }
        await guarded(logger, 'revoke', () => revocations.revoke(target));
        logger?.info({ userId: target.userId, jti: target.jti }, 'token revoked');
        onRevocation?.('one', 1);
        return true;
      },

      async cancelAllMyTokens(_parent, { exceptCurrentSession }, context) {
        const current = authenticatedToken(context);
        if (exceptCurrentSession && (!sessions || current.sessionId === undefined)) {
          throw badUserInputError('exceptCurrentSession needs a token issued in a session.', 'exceptCurrentSession');
        }
        const count = await guarded(logger, 'revokeAll', () =>
          sessions
            ? sessions.endAll(current.userId, exceptCurrentSession ? { exceptSessionId: current.sessionId } : { current })
            : revocations.revokeAllForUser(current.userId, current),
        );
        logger?.info({ userId: current.userId, jti: current.jti, count }, 'all tokens of user revoked');
        onRevocation?.('all', count);
        return count;
      },
    },
  };
}
