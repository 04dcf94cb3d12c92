import { randomUUID } from 'node:crypto';
import type { PasswordHasher } from '../auth/password.js';
import { systemClock, type Clock } from '../auth/token.js';
import type { TokenIssuer } from '../auth/token-issuer.js';
import type { GraphQLContext } from '../context/context.js';
import type { Resolvers, AuthPayload } from '../__generated__/resolvers-types.js';
import { accountDisabledError, badUserInputError, invalidCredentialsError, rateLimitedError } from '../errors.js';
import type { RefreshLimiter, SignInLimiter } from '../auth/sign-in-limiter.js';
import type { SignUpLimiter } from '../auth/sign-up-limiter.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { UsernameTakenError, type UserRecord, type UserStore } from '../users/user-store.js';
import { authenticatedToken, guarded, type ResolverLogger } from '../context/resolver-support.js';
import { createRevocationResolvers, type RevocationResolverOptions } from '../revocation/revocation-resolvers.js';
import type { SessionManager } from '../sessions/session-manager.js';
import { createSessionResolvers, sessionClient } from '../sessions/session-resolvers.js';

export type { ResolverLogger } from '../context/resolver-support.js';

/** What the account resolvers (signUp, signIn, me) need; every piece is swappable. */
export interface AccountResolverOptions {
  issuer: TokenIssuer;
  /** Every token handed out is recorded here first (so cancelAllMyTokens knows it). */
  revocations: RevocationStore;
  users: UserStore;
  passwords: PasswordHasher;
  logger?: ResolverLogger;
  now?: Clock;
  /**
   * Brute-force limit of signIn, per username and client address (the context's
   * clientAddress). Unset: no limit (a library user may limit elsewhere).
   */
  signInLimiter?: SignInLimiter;
  /** Failed refreshSession calls per client address (429 past it). Unset: no limit. */
  refreshLimiter?: RefreshLimiter;
  /**
   * signUp attempts per client address, counted after validation and before the password
   * hash. Unset: no limit.
   */
  signUpLimiter?: SignUpLimiter;
  /** signUp and signIn start a session here (src/sessions/): the pair has a refresh token. */
  sessions: SessionManager;
}

/** What {@link createAuthResolvers} needs: the account resolvers' options and the revocation resolvers'. */
export interface AuthResolverOptions extends AccountResolverOptions, Omit<RevocationResolverOptions, 'sessions'> {
  logger?: ResolverLogger;
  now?: Clock;
}
const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

/** signUp's rules for a username and a password (changePassword applies them to the new one); throws BAD_USER_INPUT. */
export function validateCredentials(username: string, password: string): void {
  if (!USERNAME.test(username)) {
    throw badUserInputError('Username must be 3 to 32 characters: letters, digits, "_", "." or "-".', 'username');
  }
  if (password.length < MIN_PASSWORD) {
    throw badUserInputError(`Password must be at least ${MIN_PASSWORD} characters.`, 'password');
  }
  if (password.length > MAX_PASSWORD) {
    throw badUserInputError(`Password must be at most ${MAX_PASSWORD} characters.`, 'password');
  }
}

/**
 * Resolvers for signUp, signIn and me on a {@link UserStore}: our accounts, for a server
 * that has none of its own. Every token they hand out is recorded in the revocation store.
 */
export function createAccountResolvers(options: AccountResolverOptions): Pick<Resolvers, 'Query' | 'Mutation'> {
  const { users, passwords, logger, signInLimiter, signUpLimiter, sessions } = options;
  const now = options.now ?? systemClock;
  let signUpRefusalLoggedAt = -Infinity;
  let signUpRefusals = 0;

  function issueFor(user: Pick<UserRecord, 'id' | 'username' | 'scopes'>, context: GraphQLContext): Promise<AuthPayload> {
    // A new session: its first access token is recorded before it is signed and handed
    // out, so a token that cancelAllMyTokens could miss is never returned. The user's
    // scopes go into the token's scope claim.
    return guarded(logger, 'startSession', () =>
      sessions.start({ id: user.id, username: user.username, scopes: user.scopes }, sessionClient(context)),
    );
  }

  /**
   * issueFor for an existing account (signIn), then the account read again: an operator who
   * disabled it, or changed its scopes, since it was read may have ended every session before
   * this one was created. Disabled: the new session is ended and ACCOUNT_DISABLED answered.
   * Other scopes: the session is ended and another started with the scopes of now. (A change
   * made after this re-read finds the session, and its end-all takes it.)
   */
  async function issueChecked(user: UserRecord, context: GraphQLContext): Promise<AuthPayload> {
    let current = user;
    for (let attempt = 1; ; attempt += 1) {
      const pair = await issueFor(current, context);
      const fresh = await guarded(logger, 'findUser', () => users.findById(user.id));
      const disabled = fresh?.disabled === true;
      const scopesChanged = fresh !== undefined && (fresh.scopes ?? []).join(' ') !== (current.scopes ?? []).join(' ');
      if (!disabled && (!scopesChanged || attempt === 3)) return pair;
      await guarded(logger, 'endSession', () => sessions.end(user.id, pair.session.id));
      if (disabled) throw accountDisabledError();
      current = fresh as UserRecord;
    }
  }

  return {
    Query: {
      // Not async: a token that names its user (ours do) is answered synchronously, and
      // graphql-js then completes the field without a promise per request, as for plain
      // Apollo's synchronous resolver (issue 19, docs/benchmarks.md).
      me(_parent, _args, context) {
        const token = authenticatedToken(context);
        if (token.username !== undefined) return { id: token.userId, username: token.username };
        return guarded(logger, 'findUser', () => users.findById(token.userId)).then((user) => (user ? { id: user.id, username: user.username } : null));
      },
    },
    Mutation: {
      async signUp(_parent, { username, password }, context) {
        // Cheap checks first, then the hash. The hash runs whether or not the name is taken
        // (the store says so only after), so both answers cost the same work.
        validateCredentials(username, password);
        if (signUpLimiter) {
          const address = context.clientAddress?.() ?? 'unknown';
          const permit = await guarded(logger, 'signUpLimit', () => signUpLimiter.attempt(address));
          if (!permit.allowed) {
            // A flood is thousands of refusals a second: one line every 10 s, with the count.
            const at = now();
            signUpRefusals += 1;
            if (at - signUpRefusalLoggedAt >= 10_000) {
              logger?.warn({ address, retryAfterSeconds: permit.retryAfterSeconds, refusedSinceLastLine: signUpRefusals }, 'sign-up refused: too many attempts from this address');
              signUpRefusalLoggedAt = at;
              signUpRefusals = 0;
            }
            throw rateLimitedError(permit.retryAfterSeconds, 'Too many sign-up attempts. Retry later.');
          }
        }
        const user: UserRecord = {
          id: randomUUID(),
          username,
          passwordHash: await passwords.hash(password),
          createdAt: new Date(now()).toISOString(),
        };
        try {
          await guarded(logger, 'createUser', () => users.create(user));
        } catch (error) {
          if (error instanceof UsernameTakenError) throw badUserInputError('This username is taken.', 'username');
          throw error;
        }
        logger?.info({ userId: user.id }, 'user signed up');
        return issueFor(user, context);
      },

      async signIn(_parent, { username, password }, context) {
        // Counted before anything else, so that every alias of a batch of guesses counts, and
        // refused while over the limit even with the right password.
        const address = context.clientAddress?.() ?? 'unknown';
        if (signInLimiter) {
          const permit = await guarded(logger, 'signInLimit', () => signInLimiter.attempt(username, address));
          if (!permit.allowed) {
            logger?.warn({ address, retryAfterSeconds: permit.retryAfterSeconds }, 'sign-in refused: too many failures');
            throw rateLimitedError(permit.retryAfterSeconds);
          }
        }
        // Bounded, like signUp, so a huge password can't buy a long hash; an unknown or
        // malformed username costs the same hash as a wrong password.
        if (password.length > MAX_PASSWORD || username.length > 256) throw invalidCredentialsError();
        const user = USERNAME.test(username)
          ? await guarded(logger, 'findUser', () => users.findByUsername(username))
          : undefined;
        const ok = user ? await passwords.verify(password, user.passwordHash) : await passwords.verifyDummy(password);
        if (!user || !ok) throw invalidCredentialsError();
        if (signInLimiter) await guarded(logger, 'signInLimit', () => signInLimiter.succeeded(username, address));
        // Only after the right password: the reason tells a guesser nothing.
        if (user.disabled) throw accountDisabledError();
        // Successful sign-ins are limited too: each one is a session (Redis memory, and at the
        // cap another session's end), so neither an account nor an address can churn them.
        if (signInLimiter?.admitSuccess) {
          const permit = await guarded(logger, 'signInSuccessLimit', () => signInLimiter.admitSuccess!(username, address));
          if (!permit.allowed) {
            logger?.warn({ userId: user.id, address, retryAfterSeconds: permit.retryAfterSeconds }, 'sign-in refused: too many successful sign-ins');
            throw rateLimitedError(permit.retryAfterSeconds, 'Too many sign-ins. Retry later.');
          }
        }
        return issueChecked(user, context);
      },
    },
  };
}

/**
 * Every resolver of the API: {@link createAccountResolvers} (signUp, signIn, me),
 * {@link createRevocationResolvers} (cancelToken, cancelAllMyTokens) and
 * {@link createSessionResolvers} (mySessions, refreshSession, cancelSession, changePassword), merged. Use it with
 * the whole SDL (`typeDefs`).
 */
export function createAuthResolvers(options: AuthResolverOptions): Resolvers {
  const account = createAccountResolvers(options);
  const revocation = createRevocationResolvers(options);
  const session = createSessionResolvers({ ...options, validateNewPassword: validateCredentials });
  return {
    Query: { ...account.Query, ...session.Query },
    Mutation: { ...account.Mutation, ...revocation.Mutation, ...session.Mutation },
  };
}
