/**
 * Our HTTP behaviour in anyone's Apollo Server, whatever carries it (startStandaloneServer,
 * expressMiddleware from @as-integrations/express5, or node:http with
 * createNodeGraphQLHandler).
 *
 * The context builder already refuses a bad token with 401 + `WWW-Authenticate` and an
 * unreachable store with 503 + `Retry-After`: it throws GraphQLErrors that carry
 * `extensions.http`, and Apollo Server honours those in every integration. What it cannot
 * see is a {@link StoreUnavailableError} thrown later, by a resolver: Apollo would answer
 * `200` with `INTERNAL_SERVER_ERROR` and the store's message. This plugin makes that a 503
 * `AUTH_UNAVAILABLE` with `Retry-After`, like every other store failure, and keeps the
 * detail for the log.
 *
 * How: `didEncounterErrors` sees the raw errors (with `originalError`) before they are
 * formatted, and sets the status and header; `willSendResponse` then replaces each of those
 * errors in the formatted body. Apollo formats the errors one for one, in order, so the
 * indexes agree. The listener keeps no state of its own (the raw errors stay on the request
 * context): one listener object serves every request, and a request without errors costs two
 * calls that return at once.
 */
import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import { AUTH_UNAVAILABLE_MESSAGE, AUTH_UNAVAILABLE_RETRY_AFTER_SECONDS, ErrorCode, StoreUnavailableError } from '../errors.js';

/** Options of {@link createAuthHttpPlugin}. */
export interface AuthHttpPluginOptions {
  /** Seconds sent in `Retry-After` (and `extensions.retryAfterSeconds`). Default 1. */
  retryAfterSeconds?: number;
  /**
   * Told of each store failure a resolver let through (with the store's error, for your
   * log). Default: Apollo's logger, at warn level.
   */
  onStoreUnavailable?: (error: Error) => void;
}

/**
 * Whether `error` (a GraphQLError from execution, or anything in its `originalError` /
 * `cause` chain) is a {@link StoreUnavailableError}. Compared by name too, so that one
 * thrown by a second copy of this package still counts.
 */
export function isStoreUnavailable(error: unknown): error is Error {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof StoreUnavailableError || current.name === 'StoreUnavailableError') return true;
    current = (current as GraphQLError).originalError ?? current.cause;
  }
  return false;
}

function storeCause(error: GraphQLError): Error {
  let current: unknown = error;
  while (current instanceof Error && !(current instanceof StoreUnavailableError || current.name === 'StoreUnavailableError')) {
    current = (current as GraphQLError).originalError ?? current.cause;
  }
  return current instanceof Error ? current : error;
}

/**
 * The request listener of {@link createAuthHttpPlugin}, one object for every request: for a
 * plugin of your own that also needs other hooks (src/server/request-plugin.ts).
 */
export function authHttpRequestListener<TContext extends BaseContext = BaseContext>(
  options: AuthHttpPluginOptions = {},
): Pick<GraphQLRequestListener<TContext>, 'didEncounterErrors' | 'willSendResponse'> {
  const retryAfterSeconds = options.retryAfterSeconds ?? AUTH_UNAVAILABLE_RETRY_AFTER_SECONDS;
  if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) {
    throw new Error(`createAuthHttpPlugin: retryAfterSeconds must be a non-negative integer, got ${retryAfterSeconds}`);
  }
  return {
    async didEncounterErrors(requestContext) {
      let unavailable = false;
      for (const error of requestContext.errors) {
        if (!isStoreUnavailable(error)) continue;
        unavailable = true;
        const cause = storeCause(error);
        if (options.onStoreUnavailable) options.onStoreUnavailable(cause);
        else requestContext.logger.warn(`token store unavailable in a resolver (answered 503 AUTH_UNAVAILABLE): ${cause.message}`);
      }
      if (!unavailable) return;
      requestContext.response.http.status = 503;
      requestContext.response.http.headers.set('retry-after', String(retryAfterSeconds));
    },
    async willSendResponse(requestContext) {
      // The raw errors of the last didEncounterErrors (none: nothing to replace).
      const raw = requestContext.errors;
      if (!raw || raw.length === 0) return;
      const unavailable = new Set<number>();
      raw.forEach((error, index) => {
        if (isStoreUnavailable(error)) unavailable.add(index);
      });
      if (unavailable.size === 0) return;
      const { body } = requestContext.response;
      const result = body.kind === 'single' ? body.singleResult : body.initialResult;
      const errors = result.errors;
      if (!errors) return;
      const replaced: GraphQLFormattedError[] = errors.map((formatted, index) =>
        unavailable.has(index)
          ? {
              message: AUTH_UNAVAILABLE_MESSAGE,
              ...(formatted.locations ? { locations: formatted.locations } : {}),
              ...(formatted.path ? { path: formatted.path } : {}),
              extensions: { code: ErrorCode.AuthUnavailable, retryAfterSeconds },
            }
          : formatted,
      );
      if (body.kind === 'single') body.singleResult = { ...body.singleResult, errors: replaced };
      else body.initialResult = { ...body.initialResult, errors: replaced };
    },
  };
}

/**
 * An Apollo Server plugin that answers a {@link StoreUnavailableError} thrown anywhere in
 * execution (your resolvers included) as our `503 AUTH_UNAVAILABLE` with `Retry-After`,
 * instead of `200 INTERNAL_SERVER_ERROR`. Add it to `plugins` next to the context builder.
 */
export function createAuthHttpPlugin<TContext extends BaseContext = BaseContext>(
  options: AuthHttpPluginOptions = {},
): ApolloServerPlugin<TContext> {
  const started = Promise.resolve(authHttpRequestListener<TContext>(options));
  return {
    requestDidStart: () => started,
  };
}
