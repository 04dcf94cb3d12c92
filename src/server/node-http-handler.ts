import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServer, BaseContext } from '@apollo/server';
import { BodyError, handleGraphQLRequest, sendGraphQLError } from './http-graphql.js';

/** Options of {@link createNodeGraphQLHandler}. */
export interface NodeGraphQLHandlerOptions<TContext extends BaseContext> {
  /**
   * Builds the context of one request, e.g. `(req, res, request) => buildContext({ authorization:
   * authorizationFromRequest(req), request })`. `request` is the parsed JSON body and the URL, for the
   * context builder's rule that signIn, signUp and refreshSession run despite a refused header.
   */
  context: (req: IncomingMessage, res: ServerResponse, request: { body: unknown; url: string }) => Promise<TContext>;
  /** Largest accepted request body, in bytes: a larger one is a 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Told of an unexpected failure (answered 500 with no detail). Default console.error. */
  onError?: (error: unknown) => void;
}

/**
 * A `(req, res)` handler that runs GraphQL over plain `node:http` through Apollo Server's
 * integration API (`executeHTTPGraphQLRequest`), for a server without a framework: mount it
 * at your GraphQL path. GET and POST (JSON) are served; other methods get 405. The status and
 * headers Apollo decides (401 + WWW-Authenticate, 503 + Retry-After from the context builder
 * and createAuthHttpPlugin) are written as they are. Start the ApolloServer before the first
 * request (`await server.start()`).
 */
export function createNodeGraphQLHandler<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  options: NodeGraphQLHandlerOptions<TContext>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  const onError = options.onError ?? ((error: unknown) => console.error('graphql-revoke: unhandled error in a GraphQL request', error));
  return async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        return sendGraphQLError(res, 405, 'Only GET and POST are supported', 'METHOD_NOT_ALLOWED');
      }
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      await handleGraphQLRequest(apollo, req, res, q === -1 ? '' : url.slice(q), {
        maxBodyBytes,
        context: (request) => options.context(req, res, request),
      });
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof BodyError) return sendGraphQLError(res, error.status, error.message, 'BAD_REQUEST');
      onError(error);
      sendGraphQLError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
    }
  };
}
