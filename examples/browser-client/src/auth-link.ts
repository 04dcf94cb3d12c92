// Apollo Client 4 links for a graphql-revoke API: the token in every request, and what to
// do when the API refuses it. Put them in front of your HttpLink:
//   link: ApolloLink.from([createAuthErrorLink(session), createAuthHeaderLink(session), new HttpLink({ uri })])
import { ApolloLink } from '@apollo/client';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { Kind, type DocumentNode } from 'graphql';
import { from, mergeMap, throwError, timer } from 'rxjs';

/** What the links need from your app. */
export interface Session {
  /** The access token to send, or null when signed out. */
  getToken(): string | null;
  /**
   * Gets a new access token: your refreshSession call, sent without the expired token in
   * `Authorization` (one call at a time: share the one in flight). Null when the session is
   * over (REFRESH_TOKEN_INVALID, REFRESH_TOKEN_EXPIRED, REFRESH_TOKEN_REUSED).
   */
  refresh(): Promise<string | null>;
  /** Forget the tokens and show the signed-out state; `reason` says why (the first one may win). */
  signOut(reason: string): void;
  /**
   * A field needs a more recent password check (INSUFFICIENT_USER_AUTHENTICATION, within
   * `maxAge` seconds): ask the user for their password, call reauthenticate with it and keep
   * the access token it returns (and renew your live socket with it). Resolves with that
   * token, or null when the user cancelled or the password was refused. Unset: the error
   * goes to the caller.
   */
  reauthenticate?(maxAge: number): Promise<string | null>;
}

/** Reasons that end the session: no retry will make this token good again. */
const SESSION_OVER = new Set(['TOKEN_REVOKED', 'TOKEN_INVALID', 'REFRESH_TOKEN_REUSED', 'REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_EXPIRED']);
/** The code of `@requiresFreshAuth`'s refusal (RFC 9470's insufficient_user_authentication). */
const STEP_UP = 'INSUFFICIENT_USER_AUTHENTICATION';
/** How many times one operation is retried while authentication is unavailable. */
const MAX_UNAVAILABLE_RETRIES = 3;

/** The operations that need no token: a refused one in the header must never get in their way. */
const SIGN_IN_FIELDS = new Set(['signIn', 'signUp', 'refreshSession']);

/** True when every root field of the operation is signIn, signUp or refreshSession. */
function onlySignIn(query: DocumentNode): boolean {
  const operation = query.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const fields = operation?.selectionSet.selections ?? [];
  return fields.length > 0 && fields.every((s) => s.kind === Kind.FIELD && SIGN_IN_FIELDS.has(s.name.value));
}

/**
 * Sends `Authorization: Bearer <token>` when there is a token, except on signIn, signUp and
 * refreshSession, which go without it: a revoked or expired token still held must not stand
 * between the user and a new one (the API ignores a refused token there anyway).
 */
export function createAuthHeaderLink(session: Session): ApolloLink {
  return new SetContextLink(({ headers }, operation) => {
    const token = onlySignIn(operation.query) ? null : session.getToken();
    return { headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } };
  });
}

/**
 * Refreshes on TOKEN_EXPIRED and retries the operation once with the new token, signs out on
 * TOKEN_REVOKED, TOKEN_INVALID and the refresh token's REFRESH_TOKEN_* reasons (should
 * refreshSession itself go through this client), and retries AUTH_UNAVAILABLE (503) after
 * `retryAfterSeconds`, and answers INSUFFICIENT_USER_AUTHENTICATION by asking the user for their
 * password (`session.reauthenticate`) and retrying the operation once with the new token.
 * A wrong password is not a dead session: signIn's INVALID_CREDENTIALS is left to the form.
 */
export function createAuthErrorLink(session: Session): ApolloLink {
  return new ErrorLink(({ error, operation, forward }) => {
    const context = operation.getContext();
    let reason: unknown;
    let code: unknown;
    let retryAfterSeconds = 1;
    if (CombinedGraphQLErrors.is(error)) {
      // A refused token fails the whole request, so its error is the only one.
      const extensions = error.errors[0]?.extensions ?? {};
      ({ reason, code } = extensions);
      if (typeof extensions.retryAfterSeconds === 'number') retryAfterSeconds = extensions.retryAfterSeconds;
    } else if (ServerError.is(error) && error.statusCode === 503) {
      // A 503 without a GraphQL body (a proxy): Retry-After is readable when the API exposes it (CORS).
      code = 'AUTH_UNAVAILABLE';
      retryAfterSeconds = Number(error.response.headers.get('retry-after')) || 1;
    }

    // A field refused for freshness: the rest of the response may be fine, so look at every error.
    const stepUp = CombinedGraphQLErrors.is(error) ? error.errors.find((e) => e.extensions?.code === STEP_UP) : undefined;
    if (stepUp && session.reauthenticate && !context.reauthenticated) {
      operation.setContext({ reauthenticated: true });
      return from(session.reauthenticate(Number(stepUp.extensions?.maxAge))).pipe(
        mergeMap((token) => (token ? forward(operation) : throwError(() => error))),
      );
    }

    if (reason === 'TOKEN_EXPIRED' && !context.refreshed) {
      operation.setContext({ refreshed: true });
      return from(session.refresh()).pipe(
        mergeMap((token) => {
          if (token) return forward(operation); // the header link reads the new token
          session.signOut('TOKEN_EXPIRED');
          return throwError(() => error);
        }),
      );
    }
    if (typeof reason === 'string' && (SESSION_OVER.has(reason) || reason === 'TOKEN_EXPIRED')) {
      session.signOut(reason);
      return;
    }
    if (code === 'AUTH_UNAVAILABLE') {
      const attempt = (context.unavailableRetries as number | undefined) ?? 0;
      if (attempt >= MAX_UNAVAILABLE_RETRIES) return;
      operation.setContext({ unavailableRetries: attempt + 1 });
      return timer(retryAfterSeconds * 1000).pipe(mergeMap(() => forward(operation)));
    }
    return;
  });
}
