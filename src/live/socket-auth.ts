/**
 * Who a live socket is, judged as an HTTP request is judged: through the request pipeline's
 * context builder (the same verifier, the same single store lookup), at connection_init and
 * again at every operation. Nothing here verifies or looks up on its own terms.
 *
 * - connection_init without `authorization` → anonymous (within the guard's cap); a refused
 *   token → close 4403; the store unavailable → close 1013.
 * - An authenticated socket is registered under its user before the lookup, so a revocation
 *   event that arrives while the lookup is in flight still finds it.
 * - At its token's exp + clock tolerance the socket is closed with 4403: one timer per
 *   authenticated socket, the only per-socket timer besides graphql-ws's connection_init wait.
 * - Each operation is checked again (one lookup, as one HTTP request); a token revoked or
 *   expired since ends the socket (4403), an unavailable store refuses only the operation.
 * - renewConnection (./connection-renewal.ts) replaces a socket's token in-band: from then on
 *   it is judged by the new one (its revocation, its exp).
 */
import { GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import type { Clock } from '../auth/token.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { bearerToken, type ContextBuilder } from '../context/context-builder.js';
import type { GraphQLContext } from '../context/context.js';
import { ErrorCode } from '../errors.js';
import type { RenewalOutcome } from '../metrics.js';
import { createConnectionRenewal, type ConnectionRenewal } from './connection-renewal.js';
import type { LiveSocket, LiveWsContext, Shut } from './live-socket.js';
import type { SocketGuard } from './socket-guard.js';
import type { SocketRegistry } from './socket-registry.js';

/** setTimeout's largest delay; a later expiry re-arms. */
const MAX_TIMER_MS = 2_147_483_647;

/** Options of {@link createSocketAuth}. */
export interface SocketAuthOptions {
  /** The request pipeline's context builder (the HTTP path's). */
  buildContext: ContextBuilder;
  verifier: TokenVerifier;
  registry: SocketRegistry<LiveSocket>;
  guard: Pick<SocketGuard, 'roomForAnonymous' | 'admitAnonymous'>;
  shut: Shut;
  /** Asks the store about one socket now (the event fan-out's re-check). */
  recheck(socket: LiveSocket): void;
  /** Seconds a token is accepted past exp (the verifier's). */
  clockToleranceSeconds: number;
  now: Clock;
  onRenewal?: (outcome: RenewalOutcome) => void;
  logger?: { debug(object: object, message: string): void };
}

/** The authentication of one live endpoint's sockets. */
export interface SocketAuth {
  /** graphql-ws's onConnect: true when the socket may stay (it is closed otherwise). */
  connect(ctx: LiveWsContext): Promise<boolean>;
  /** The context of one operation, or the errors that refuse it (the socket closed when its token no longer holds). */
  operationContext(socket: LiveSocket): Promise<GraphQLContext | GraphQLError[]>;
  /** Forgets a closed socket: its registration and its expiry timer. */
  release(socket: LiveSocket): void;
  readonly renewal: ConnectionRenewal<LiveSocket>;
}

/** The `authorization` (or `Authorization`) of a connection_init payload: both present counts as two values. */
function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): string | string[] | undefined {
  if (!params) return undefined;
  const values = [params.authorization, params.Authorization].filter((v) => v !== undefined && v !== null);
  if (values.length === 0) return undefined;
  // A non-string value is no Bearer token: refused like a malformed header.
  const strings = values.map((v) => (typeof v === 'string' ? v : ''));
  return strings.length === 1 ? strings[0] : strings;
}

function errorCode(error: unknown): unknown {
  return error instanceof GraphQLError ? error.extensions?.code : undefined;
}

/** Whether `held` was built for the same token (or both anonymous) as `fresh`: then it is reused. */
function sameToken(held: GraphQLContext | undefined, fresh: GraphQLContext): boolean {
  if (!held || held.auth.kind !== fresh.auth.kind) return false;
  return held.auth.kind === 'anonymous' || (fresh.auth.kind === 'authenticated' && held.auth.token.jti === fresh.auth.token.jti);
}

/** Closes the socket with 4403 at its token's exp + tolerance (re-armed past setTimeout's range). */
function armExpiry(socket: LiveSocket, options: SocketAuthOptions): void {
  const { shut, now } = options;
  const end = () => (socket.token.expiresAt + options.clockToleranceSeconds) * 1000;
  const delay = end() - now();
  if (delay <= 0) return shut(socket, CloseCode.Forbidden, 'Forbidden', 'expired');
  socket.expiryTimer = setTimeout(() => {
    socket.expiryTimer = undefined;
    if (end() <= now()) shut(socket, CloseCode.Forbidden, 'Forbidden', 'expired');
    else armExpiry(socket, options);
  }, Math.min(delay, MAX_TIMER_MS));
  // The socket keeps the process alive, not its timer.
  socket.expiryTimer.unref();
}

async function connectAnonymous(socket: LiveSocket, options: SocketAuthOptions): Promise<boolean> {
  if (!options.guard.roomForAnonymous(socket)) return false;
  socket.context = await options.buildContext({ clientAddress: socket.clientAddress, userAgent: socket.userAgent });
  if (socket.closedBy) return false;
  options.guard.admitAnonymous(socket);
  return true;
}

async function connectWithToken(socket: LiveSocket, authorization: string | string[], options: SocketAuthOptions): Promise<boolean> {
  const { registry, shut } = options;
  // Registered before the lookup: an event arriving meanwhile finds the socket.
  const bearer = typeof authorization === 'string' ? bearerToken(authorization) : undefined;
  if (bearer) {
    try {
      socket.token = options.verifier.verify(bearer);
      registry.add(socket);
    } catch {
      // Refused below by the context builder, with its outcome reported.
    }
  }
  try {
    const context = await options.buildContext({ authorization, clientAddress: socket.clientAddress, userAgent: socket.userAgent });
    if (socket.closedBy) return false;
    if (context.auth.kind !== 'authenticated') throw new Error('authenticated token expected');
    socket.token = context.auth.token;
    socket.authorization = authorization;
    socket.context = context;
    registry.add(socket);
    armExpiry(socket, options);
    return true;
  } catch (error) {
    if (errorCode(error) === ErrorCode.AuthUnavailable) shut(socket, 1013, 'Try again later', 'unavailable');
    else shut(socket, CloseCode.Forbidden, 'Forbidden', 'refused');
    // graphql-ws would close with 4403 too; the socket is already closing.
    return false;
  }
}

/** (Re)authenticates the socket for one operation, as one HTTP request: throws the HTTP path's error. */
async function freshContext(socket: LiveSocket, buildContext: ContextBuilder): Promise<GraphQLContext> {
  if (socket.authorization === undefined) return socket.context as GraphQLContext;
  return buildContext({ authorization: socket.authorization, clientAddress: socket.clientAddress, userAgent: socket.userAgent });
}

/** A socket whose token no longer holds: the socket ends, as the event or the timer would end it. */
function refused(socket: LiveSocket, error: unknown, shut: Shut): GraphQLError[] {
  const code = errorCode(error);
  if (code === ErrorCode.AuthUnavailable) return [error as GraphQLError];
  const reason = error instanceof GraphQLError ? error.extensions?.reason : undefined;
  shut(socket, CloseCode.Forbidden, 'Forbidden', reason === 'TOKEN_EXPIRED' ? 'expired' : code === ErrorCode.Unauthenticated ? 'revoked' : 'refused');
  // Not sent: the socket is closing.
  return [error instanceof GraphQLError ? error : new GraphQLError('Forbidden')];
}

/** renewConnection on this endpoint's sockets (./connection-renewal.ts), through the same context builder. */
function renewalOf(options: SocketAuthOptions): ConnectionRenewal<LiveSocket> {
  const { buildContext, shut } = options;
  return createConnectionRenewal<LiveSocket>({
    authenticate: (authorization, socket) => buildContext({ authorization, clientAddress: socket.clientAddress, userAgent: socket.userAgent }),
    apply(socket, token, authorization, context) {
      // Same user (checked): its place in the registry stays; events now match the new jti and session.
      socket.token = token;
      socket.authorization = authorization;
      socket.context = context;
      if (socket.expiryTimer) clearTimeout(socket.expiryTimer);
      socket.expiryTimer = undefined;
      armExpiry(socket, options);
    },
    closeExpired: (socket) => shut(socket, CloseCode.Forbidden, 'Forbidden', 'expired'),
    recheck: (socket) => options.recheck(socket),
    now: options.now,
    ...(options.onRenewal ? { onOutcome: options.onRenewal } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** Builds the sockets' authentication over the pipeline's context builder. */
export function createSocketAuth(options: SocketAuthOptions): SocketAuth {
  const renewal = renewalOf(options);
  return {
    async connect(ctx) {
      const socket = ctx.extra.live;
      socket.wsContext = ctx;
      const authorization = authorizationOf(ctx.connectionParams);
      return authorization === undefined ? connectAnonymous(socket, options) : connectWithToken(socket, authorization, options);
    },
    async operationContext(socket) {
      let context: GraphQLContext;
      try {
        context = await freshContext(socket, options.buildContext);
      } catch (error) {
        return refused(socket, error, options.shut);
      }
      // With the socket's handle: renewConnection renews this socket. Shared while the token is the same.
      if (sameToken(socket.operationContext, context)) return socket.operationContext as GraphQLContext;
      return (socket.operationContext = renewal.contextFor(socket, context));
    },
    release(socket) {
      if (socket.token) options.registry.delete(socket);
      if (socket.expiryTimer) clearTimeout(socket.expiryTimer);
      socket.expiryTimer = undefined;
    },
    renewal,
  };
}
