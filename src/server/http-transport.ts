import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { areaRoutesFor, type Area } from '../areas/area.js';
import type { Config } from '../config/index.js';
import { authorizationFromRequest, type StartedAuthentication } from '../context/context-builder.js';
import type { GraphQLContext } from '../context/context.js';
import type { Logger } from '../logger.js';
import type { HttpRoute, Metrics } from '../metrics.js';
import { BodyError, sendGraphQLError, sendJson } from '../pipeline/http-body.js';
import type { RequestPipeline } from '../pipeline/request-pipeline.js';
import { clientAddress } from './client-address.js';
import { createCors } from './cors.js';
import { handleGraphQLRequest } from './http-graphql.js';
import { applyHttpLimits, httpServerOptions } from './http-limits.js';
import { createInFlight } from './in-flight.js';

/** What the HTTP transport needs: the pipeline and Apollo for /graphql, the areas for every other path. */
export interface HttpTransportOptions {
  config: Config;
  apollo: ApolloServer<GraphQLContext>;
  pipeline: RequestPipeline;
  areas: readonly Area[];
  logger: Logger;
  metrics?: Metrics | undefined;
  /** True once the server is shutting down. */
  draining: () => boolean;
}

/** The HTTP adapter: node:http, its limits and CORS, /graphql through the pipeline, the areas' routes. */
export interface HttpTransport {
  readonly httpServer: Server;
  /** Lets the requests in flight finish on connections that then close, and closes the server. */
  close(): Promise<void>;
}

/** Builds the HTTP server (not listening) of {@link HttpTransportOptions}. */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const { config, apollo, pipeline, areas, logger, metrics, draining } = options;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const routes = areaRoutesFor(areas, path);
    if (routes) return routes.handle(req, res);
    if (path !== '/graphql') return sendJson(res, 404, { error: 'Not found. GraphQL is served at /graphql.' });
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      return sendGraphQLError(res, 405, 'Only GET and POST are supported', 'METHOD_NOT_ALLOWED');
    }
    const authorization = authorizationFromRequest(req);
    let started: StartedAuthentication | undefined;
    return handleGraphQLRequest(apollo, req, res, q === -1 ? '' : url.slice(q), {
      maxBodyBytes: config.http.maxBodyBytes,
      pipeline,
      // The token check begins once the request is read and accepted, before Apollo's work
      // (context-builder.ts, ContextBuilder.start): its lookup travels meanwhile, and Apollo's
      // work waits for the turn's end (http-graphql.ts, beforeApollo), whatever the store.
      beforeApollo() {
        started = pipeline.buildContext.start?.(authorization);
        return started?.kind === 'checking';
      },
      context: (request) =>
        pipeline.buildContext({
          authorization,
          started,
          request,
          clientAddress: () => clientAddress(req, config.http.trustProxyHops),
          userAgent: req.headers['user-agent'],
        }),
    });
  }

  const cors = createCors(config.cors);
  // Not a Set: see in-flight.ts (a Set's replaced tables kept every request state alive past young GCs).
  const inFlight = createInFlight();
  const httpServer = createHttpServer(
    // Timeouts, header size (by default large enough for a hostile 64 KB token to reach the
    // verifier and get a clean 401): src/server/http-limits.ts.
    httpServerOptions(config.http.limits),
    (req, res) => {
      // While draining, answer what was sent on a kept-alive socket, then let the client reconnect elsewhere.
      if (draining()) res.setHeader('connection', 'close');
      // One listener per request (each `once` costs a wrapper): 'close' follows 'finish' on every
      // response sent, and alone ends an aborted one, which is not counted (nothing was answered).
      const release = inFlight.add(res);
      res.once('close', () => {
        release();
        if (metrics && res.writableFinished) metrics.recordHttpResponse(httpRoute(req.url), res.statusCode);
      });
      if (cors.handle(req, res)) return;
      route(req, res).catch((error: unknown) => {
        if (res.headersSent) return res.destroy();
        if (error instanceof BodyError) return sendGraphQLError(res, error.status, error.message, 'BAD_REQUEST');
        logger.error({ err: error }, 'unhandled error in request');
        sendGraphQLError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
      });
    },
  );
  applyHttpLimits(httpServer, config.http.limits, logger);

  return {
    httpServer,
    async close() {
      // Requests in flight finish, on a connection that then closes: a kept-alive socket would
      // otherwise hold close() open until keepAliveTimeout.
      inFlight.forEach((res) => {
        if (!res.headersSent) res.setHeader('connection', 'close');
      });
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        // Idle keep-alive sockets would hold close() open; in-flight requests finish.
        httpServer.closeIdleConnections();
      });
    },
  };
}

/** The route label of http_responses_total: a bounded set, whatever the URL. */
function httpRoute(url: string | undefined): HttpRoute {
  const path = (url ?? '/').split('?', 1)[0];
  if (path === '/graphql') return 'graphql';
  return path === '/healthz' || path === '/readyz' ? 'health' : 'other';
}
