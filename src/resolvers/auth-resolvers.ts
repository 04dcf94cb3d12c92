import { randomUUID } from 'node:crypto';
import type { PasswordHasher } from '../auth/password.js';
import { systemClock, type Clock, type TokenRef } from '../auth/token.js';
import type { IssuedToken, TokenIssuer } from '../auth/token-issuer.js';
import { TokenVerificationError, type TokenVerifier } from '../auth/token-verifier.js';
import type { Resolvers, AuthPayload } from '../__generated__/resolvers-types.js';
import type { GraphQLContext } from '../context/context.js';
import {
  authUnavailableError,
  badUserInputError,
  forbiddenError,
  invalidCredentialsError,
  rateLimitedError,
  StoreUnavailableError,
  unauthenticatedFieldError,
} from '../errors.js';
import type { SignInLimiter } from '../auth/sign-in-limiter.js';
import type { SignUpLimiter } from '../auth/sign-up-limiter.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { UsernameTakenError, type UserRecord, type UserStore } from '../users/user-store.js';

/** A structured logger (pino's shape). */
export interface ResolverLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** What the resolvers need; every piece is swappable. */
export interface AuthResolverOptions {
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  revocations: RevocationStore;
  users: UserStore;
  passwords: PasswordHasher;
  logger?: ResolverLogger;
  /** Seconds a token is accepted after exp (the verifier's clock tolerance). Default 5. */
  expiryGraceSeconds?: number;
  now?: Clock;
  /**
   * Brute-force limit of signIn, per username and client address (the context's
   * clientAddress). Unset: no limit (a library user may limit elsewhere).
   */
  signInLimiter?: SignInLimiter;
  /**
   * signUp attempts per client address, counted after validation and before the password
   * hash. Unset: no limit.
   */
  signUpLimiter?: SignUpLimiter;
  /** Told of each revocation: `one` or `all`, and how many tokens. */
  onRevocation?: (kind: 'one' | 'all', count: number) => void;
}

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

function validateCredentials(username: string, password: string): void {
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

/** Runs a store call; a store failure becomes AUTH_UNAVAILABLE (503), never a success. */
async function guarded<T>(logger: ResolverLogger | undefined, operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof StoreUnavailableError) {
      logger?.error({ err: error.cause ?? error, operation }, 'token store unavailable');
      throw authUnavailableError();
    }
    throw error;
  }
}

function authenticatedToken(context: GraphQLContext) {
  // @authenticated guarantees this; checked again because a resolver must never act
  // on a missing token if someone removes the directive from the SDL.
  if (context.auth.kind !== 'authenticated') throw unauthenticatedFieldError('TOKEN_MISSING');
  return context.auth.token;
}

/**
 * Resolvers for signUp, signIn, me, cancelToken and cancelAllMyTokens. Merge them into
 * your own resolver map, with the schema/*.graphql SDL.
 */
export function createAuthResolvers(options: AuthResolverOptions): Resolvers {
  const { issuer, verifier, revocations, users, passwords, logger, onRevocation, signInLimiter, signUpLimiter } = options;
  const grace = options.expiryGraceSeconds ?? 5;
  const now = options.now ?? systemClock;
  let signUpRefusalLoggedAt = -Infinity;
  let signUpRefusals = 0;

  async function issueFor(user: Pick<UserRecord, 'id' | 'username'>): Promise<AuthPayload> {
    const issued: IssuedToken = issuer.issue(user);
    // Recorded before it is handed out: a token that cancelAllMyTokens could miss is never returned.
    await guarded(logger, 'recordIssued', () => revocations.recordIssued(issued));
    return {
      accessToken: issued.token,
      tokenType: 'Bearer',
      expiresAt: new Date(issued.expiresAt * 1000).toISOString(),
      user: { id: user.id, username: user.username },
    };
  }

  return {
    Query: {
      async me(_parent, _args, context) {
        const token = authenticatedToken(context);
        if (token.username !== undefined) return { id: token.userId, username: token.username };
        const user = await guarded(logger, 'findUser', () => users.findById(token.userId));
        return user ? { id: user.id, username: user.username } : null;
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
        return issueFor(user);
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
        return issueFor(user);
      },

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

      async cancelAllMyTokens(_parent, _args, context) {
        const current = authenticatedToken(context);
        const count = await guarded(logger, 'revokeAll', () => revocations.revokeAllForUser(current.userId, current));
        logger?.info({ userId: current.userId, jti: current.jti, count }, 'all tokens of user revoked');
        onRevocation?.('all', count);
        return count;
      },
    },
  };
}
