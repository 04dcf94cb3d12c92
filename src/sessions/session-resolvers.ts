import type { PasswordHasher } from '../auth/password.js';
import type { RefreshLimiter, SignInLimiter } from '../auth/sign-in-limiter.js';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import type { GraphQLContext } from '../context/context.js';
import { accountDisabledError, invalidCredentialsError, wrongCurrentPasswordError, rateLimitedError, unauthenticatedFieldError } from '../errors.js';
import type { SessionClient } from './session-store.js';
import type { SessionManager } from './session-manager.js';
import type { UserStore } from '../users/user-store.js';
import { authenticatedToken, guarded, type ResolverLogger } from '../context/resolver-support.js';

/** What the session resolvers need. */
export interface SessionResolverOptions {
  sessions: SessionManager;
  /** For changePassword: the user's record and the new hash. */
  users: UserStore;
  passwords: PasswordHasher;
  /** changePassword's current password is counted like a sign-in. */
  signInLimiter?: SignInLimiter;
  /** Failed refreshes per client address: past the limit every refresh from it is 429. */
  refreshLimiter?: RefreshLimiter;
  /** The rules a new password must meet (signUp's); throws BAD_USER_INPUT. */
  validateNewPassword: (username: string, password: string) => void;
  logger?: ResolverLogger;
}

/** Where the request came from, for the session record. */
export function sessionClient(context: GraphQLContext): SessionClient {
  return { userAgent: context.userAgent, ipAddress: context.clientAddress?.() };
}

/**
 * Resolvers for mySessions, refreshSession, cancelSession, changePassword and reauthenticate. signUp and
 * signIn start sessions (auth-resolvers.ts); cancelAllMyTokens ends them (revocation-resolvers.ts).
 */
export function createSessionResolvers(options: SessionResolverOptions): Pick<Resolvers, 'Query' | 'Mutation'> {
  const { sessions, users, passwords, signInLimiter, refreshLimiter, validateNewPassword, logger } = options;
  return {
    Query: {
      async mySessions(_parent, _args, context) {
        const token = authenticatedToken(context);
        return guarded(logger, 'listSessions', () => sessions.list(token.userId, token.sessionId));
      },
    },
    Mutation: {
      async refreshSession(_parent, { refreshToken }, context) {
        // Counted before the token is looked at (a success gives its point back): guessing or
        // replaying refresh tokens from one address is bounded, whatever they name.
        const address = context.clientAddress?.() ?? 'unknown';
        if (refreshLimiter) {
          const permit = await guarded(logger, 'refreshLimit', () => refreshLimiter.attempt(address));
          if (!permit.allowed) {
            logger?.warn({ address, retryAfterSeconds: permit.retryAfterSeconds }, 'refresh refused: too many failed refreshes from this address');
            throw rateLimitedError(permit.retryAfterSeconds, 'Too many failed refreshes. Retry later.');
          }
        }
        try {
          const pair = await guarded(logger, 'refreshSession', () => sessions.refresh(refreshToken, sessionClient(context)));
          if (refreshLimiter) await guarded(logger, 'refreshLimit', () => refreshLimiter.succeeded(address));
          return pair;
        } catch (error) {
          const reason = (error as { extensions?: { reason?: unknown } }).extensions?.reason;
          if (reason === 'REFRESH_TOKEN_REUSED') logger?.warn({ reason }, 'refresh token reused: session ended');
          throw error;
        }
      },

      async cancelSession(_parent, { id }, context) {
        const token = authenticatedToken(context);
        const sessionId = id ?? token.sessionId;
        if (sessionId === undefined || sessionId === null) return false;
        const ended = await guarded(logger, 'endSession', () => sessions.end(token.userId, sessionId));
        if (ended) logger?.info({ userId: token.userId, sessionId }, 'session ended');
        return ended;
      },

      async changePassword(_parent, { currentPassword, newPassword }, context) {
        const token = authenticatedToken(context);
        const user = await guarded(logger, 'findUser', () => users.findById(token.userId));
        if (!user) throw invalidCredentialsError();
        const address = context.clientAddress?.() ?? 'unknown';
        if (signInLimiter) {
          const permit = await guarded(logger, 'signInLimit', () => signInLimiter.attempt(user.username, address));
          if (!permit.allowed) throw rateLimitedError(permit.retryAfterSeconds);
        }
        if (currentPassword.length > 1024 || !(await passwords.verify(currentPassword, user.passwordHash))) throw wrongCurrentPasswordError();
        if (signInLimiter) await guarded(logger, 'signInLimit', () => signInLimiter.succeeded(user.username, address));
        // Only after the right password, as signIn.
        if (user.disabled) throw accountDisabledError();
        validateNewPassword(user.username, newPassword);
        if (!users.updatePasswordHash) throw new Error('changePassword: the user store has no updatePasswordHash');
        const hash = await passwords.hash(newPassword);
        await guarded(logger, 'updatePassword', () => users.updatePasswordHash!(user.id, hash));
        // Every other session ends, with every token issued before now that is not of this session.
        await guarded(logger, 'endAllSessions', () =>
          sessions.endAll(user.id, token.sessionId !== undefined ? { exceptSessionId: token.sessionId } : { current: token }),
        );
        logger?.info({ userId: user.id }, 'password changed: other sessions ended');
        return guarded(logger, 'renewSession', () => sessions.renew(user, token.sessionId, sessionClient(context)));
      },

      async reauthenticate(_parent, { password }, context) {
        const token = authenticatedToken(context);
        // A token of no session has no auth time to renew.
        if (token.sessionId === undefined) throw unauthenticatedFieldError('TOKEN_INVALID');
        const user = await guarded(logger, 'findUser', () => users.findById(token.userId));
        if (!user) throw invalidCredentialsError();
        // Counted like a sign-in, before the hash: a stolen session can't guess the password
        // faster than signIn could.
        const address = context.clientAddress?.() ?? 'unknown';
        if (signInLimiter) {
          const permit = await guarded(logger, 'signInLimit', () => signInLimiter.attempt(user.username, address));
          if (!permit.allowed) {
            logger?.warn({ address, retryAfterSeconds: permit.retryAfterSeconds }, 'reauthenticate refused: too many failures');
            throw rateLimitedError(permit.retryAfterSeconds);
          }
        }
        if (password.length > 1024 || !(await passwords.verify(password, user.passwordHash))) throw invalidCredentialsError();
        if (signInLimiter) await guarded(logger, 'signInLimit', () => signInLimiter.succeeded(user.username, address));
        if (user.disabled) throw accountDisabledError();
        const fresh = await guarded(logger, 'reauthenticateSession', () =>
          sessions.reauthenticate({ id: user.id, username: user.username, scopes: user.scopes }, token.sessionId as string, sessionClient(context)),
        );
        // The session ended since this request's token was checked.
        if (!fresh) throw unauthenticatedFieldError('TOKEN_REVOKED');
        logger?.info({ userId: user.id, sessionId: token.sessionId }, 'reauthenticated');
        return fresh;
      },
    },
  };
}
