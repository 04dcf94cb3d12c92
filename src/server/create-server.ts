import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLFormattedError } from 'graphql';
import { createPasswordHasher, type PasswordHasher } from '../auth/password.js';
import { systemClock, type Clock } from '../auth/token.js';
import { createTokenIssuer, type TokenIssuer } from '../auth/token-issuer.js';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import type { Config } from '../config.js';
import { authorizationFromRequest, createContextBuilder, type AuthOutcome } from '../context/context-builder.js';
import type { GraphQLContext } from '../context/context.js';
import { authenticatedDirectiveTransformer } from '../directives/authenticated.js';
import type { Logger } from '../logger.js';
import { createAuthResolvers } from '../resolvers/auth-resolvers.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { typeDefs } from '../schema.js';
import type { UserStore } from '../users/user-store.js';
import { BodyError, handleGraphQLRequest, sendGraphQLError, sendJson } from './http-graphql.js';

/** What {@link createServer} needs. Stores and logger are passed in: tests and main build them. */
export interface ServerOptions {
  config: Config;
  revocations: RevocationStore;
  users: UserStore;
  logger: Logger;
  /** Default: scrypt with the default cost. Tests pass a cheap one. */
  passwords?: PasswordHasher;
  now?: Clock;
}

/** The API: an HTTP server not yet listening, and the pieces tests want to reach. */
export interface AppServer {
  readonly httpServer: Server;
  readonly apollo: ApolloServer<GraphQLContext>;
  readonly issuer: TokenIssuer;
  readonly verifier: TokenVerifier;
  /** Listens and resolves with the URL of the GraphQL endpoint. */
  listen(port: number, host?: string): Promise<{ url: string; port: number }>;
  /** Stops taking requests, lets those in flight finish, stops Apollo. Does not close the stores. */
  close(): Promise<void>;
}

function maskError(production: boolean, logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (code !== 'INTERNAL_SERVER_ERROR') return formatted;
    logger.error({ err: error }, 'unexpected error while executing a request');
    if (!production) return formatted;
    // Clients get a stable code and no detail; the log has the detail.
    return { message: 'Internal server error', extensions: { code }, ...(formatted.path ? { path: formatted.path } : {}) };
  };
}

/** Builds the API server (without listening): schema, Apollo, context builder, HTTP routes. */
export async function createServer(options: ServerOptions): Promise<AppServer> {
  const { config, revocations, users, logger } = options;
  const now = options.now ?? systemClock;
  const jwtKey = { key: config.jwt.key, algorithm: 'HS256' as const };
  const issuer = createTokenIssuer({ ...jwtKey, issuer: config.jwt.issuer, audience: config.jwt.audience, ttlSeconds: config.jwt.ttlSeconds, now });
  const verifier = createTokenVerifier({
    keys: [jwtKey],
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    clockToleranceSeconds: config.jwt.clockToleranceSeconds,
    now,
  });

  const resolvers = createAuthResolvers({
    issuer,
    verifier,
    revocations,
    users,
    passwords: options.passwords ?? createPasswordHasher(),
    logger,
    expiryGraceSeconds: config.jwt.clockToleranceSeconds,
    now,
  });
  const schema = authenticatedDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers }));

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: !config.production,
    includeStacktraceInErrorResponses: !config.production,
    formatError: maskError(config.production, logger),
    logger,
  });
  await apollo.start();

  const onOutcome = (outcome: AuthOutcome, detail?: string, error?: unknown) => {
    if (outcome === 'ok' || outcome === 'missing') return;
    if (outcome === 'unavailable') logger.warn({ outcome, detail, err: error }, 'token check failed: store unavailable');
    else logger.debug({ outcome, detail }, 'token refused');
  };
  const buildContext = createContextBuilder({
    verifier,
    revocations,
    lookupTimeoutMs: config.redis.commandTimeoutMs + 500,
    onOutcome,
  });

  async function ready(res: ServerResponse): Promise<void> {
    try {
      await Promise.race([
        revocations.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref()),
      ]);
      sendJson(res, 200, { status: 'ready' });
    } catch {
      sendJson(res, 503, { status: 'unavailable', reason: 'token store does not answer' });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const search = q === -1 ? '' : url.slice(q);
    switch (path) {
      case '/graphql':
        if (req.method !== 'GET' && req.method !== 'POST') {
          res.setHeader('allow', 'GET, POST');
          return sendGraphQLError(res, 405, 'Only GET and POST are supported', 'METHOD_NOT_ALLOWED');
        }
        return handleGraphQLRequest(apollo, req, res, search, {
          maxBodyBytes: config.http.maxBodyBytes,
          context: () => buildContext({ authorization: authorizationFromRequest(req) }),
        });
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz':
        return ready(res);
      default:
        return sendJson(res, 404, { error: 'Not found. GraphQL is served at /graphql.' });
    }
  }

  const httpServer = createHttpServer(
    // Large enough for a hostile 64 KB token to reach the verifier and get a clean 401.
    { maxHeaderSize: 128 * 1024 },
    (req, res) => {
      route(req, res).catch((error: unknown) => {
        if (res.headersSent) return res.destroy();
        if (error instanceof BodyError) return sendGraphQLError(res, error.status, error.message, 'BAD_REQUEST');
        logger.error({ err: error }, 'unhandled error in request');
        sendGraphQLError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
      });
    },
  );
  httpServer.keepAliveTimeout = 65_000;

  return {
    httpServer,
    apollo,
    issuer,
    verifier,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const address = httpServer.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve({ url: `http://${shownHost}:${address.port}/graphql`, port: address.port });
        });
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        // Idle keep-alive sockets would hold close() open; in-flight requests finish.
        httpServer.closeIdleConnections();
      });
      await apollo.stop();
    },
  };
}
