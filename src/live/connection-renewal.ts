/**
 * In-band renewal of a live socket's authentication: the `renewConnection(accessToken)`
 * mutation, sent as a subscribe operation on the socket (graphql-ws executes mutations there
 * too). The socket and every subscription on it continue; from then on the socket is judged
 * by the new token.
 *
 * The rules, and how they are kept:
 * - The socket's own token must not be past its `exp` when the renewal arrives: otherwise the
 *   renewal is refused (TOKEN_EXPIRED) and the socket closed with 4403, as its expiry timer
 *   would have (a socket can't outlive its token by renewing late).
 * - The new token goes through the context builder of every request: it must verify
 *   (TOKEN_INVALID, TOKEN_EXPIRED) and pass the one-command store lookup (TOKEN_REVOKED;
 *   AUTH_UNAVAILABLE when the store does not answer: fail closed). Then it must name the same
 *   user (USER_MISMATCH) and the same session (SESSION_MISMATCH) as the socket's token: a
 *   renewal never moves a socket to another identity. Any refusal leaves the socket as it was.
 * - A revocation that happens while the new token's lookup is in flight: the socket is in the
 *   registry under its old token, so an event naming the new token's jti would not find it.
 *   Each renewal in flight is therefore noted, and an event that names its jti refuses it; a
 *   user-wide event (whose effect only the store knows) makes the socket be re-checked, under
 *   the new token, right after it is applied.
 * - Applied: the socket's token, its authorization (what each later operation is checked
 *   with) and its expiry timer (the new token's exp + tolerance) are replaced in one turn.
 *   Revocation events are matched against the socket's current token (jti, session), so the
 *   new token's revocation closes the socket with 4403.
 *
 * Over HTTP the mutation has no socket to renew: BAD_REQUEST with reason WEBSOCKET_REQUIRED.
 */
import { GraphQLError } from 'graphql';
import type { VerifiedToken } from '../auth/token.js';
import type { ConnectionHandle, GraphQLContext } from '../context/context.js';
import { authUnavailableError, ErrorCode } from '../errors.js';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import { authenticatedToken } from '../context/resolver-support.js';
import type { RenewalOutcome } from '../metrics.js';
import type { RevocationEvent } from './revocation-events.js';

// The outcomes are metric labels: declared beside the metrics (a floor below), re-exported here.
export { RENEWAL_OUTCOMES, type RenewalOutcome } from '../metrics.js';

/** Why a renewal was refused: `extensions.reason` (code UNAUTHENTICATED). */
export type RenewalRefusalReason = 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED' | 'USER_MISMATCH' | 'SESSION_MISMATCH';

const MESSAGES: Record<RenewalRefusalReason, string> = {
  TOKEN_INVALID: 'The new access token is invalid. The connection keeps its current token.',
  TOKEN_EXPIRED: 'The access token has expired.',
  TOKEN_REVOKED: 'The new access token has been revoked. The connection keeps its current token.',
  USER_MISMATCH: 'The new access token belongs to another user. The connection keeps its current token.',
  SESSION_MISMATCH: 'The new access token belongs to another session. The connection keeps its current token.',
};

/** A refused renewal: an error at the mutation's path (the socket stays open unless said otherwise). */
export function renewalRefusedError(reason: RenewalRefusalReason): GraphQLError {
  return new GraphQLError(MESSAGES[reason], { extensions: { code: ErrorCode.Unauthenticated, reason } });
}

/** renewConnection over HTTP: there is no socket to renew. */
export function websocketRequiredError(): GraphQLError {
  return new GraphQLError('renewConnection only has meaning on a WebSocket connection: send it as an operation on the socket to renew.', {
    extensions: { code: ErrorCode.BadRequest, reason: 'WEBSOCKET_REQUIRED' },
  });
}

/** What the renewal needs to know of a socket. */
export interface RenewableSocket {
  /** The token the socket is judged by now. */
  readonly token: VerifiedToken;
  /** Set once the server closes it. */
  readonly closedBy: unknown;
}

/** Options of {@link createConnectionRenewal}: the socket operations ./socket-auth.ts owns. */
export interface ConnectionRenewalOptions<S extends RenewableSocket> {
  /** The request path's check of an Authorization value (verify + one store lookup); throws its GraphQLError. */
  authenticate(authorization: string, socket: S): Promise<GraphQLContext>;
  /** Judge the socket by this token from now on: its token, authorization, context and expiry timer. */
  apply(socket: S, token: VerifiedToken, authorization: string, context: GraphQLContext): void;
  /** Close the socket with 4403: its token expired. */
  closeExpired(socket: S): void;
  /** Ask the store about the socket (now under its new token); closes it if revoked. */
  recheck(socket: S): void;
  /** Default Date.now. */
  now?: () => number;
  /** Told of each renewal's outcome (metrics). */
  onOutcome?: (outcome: RenewalOutcome) => void;
  logger?: { debug(object: object, message: string): void };
}

/** The renewal machinery of one live endpoint. */
export interface ConnectionRenewal<S extends RenewableSocket> {
  /** The context of one operation on `socket`, with the handle renewConnection uses. */
  contextFor(socket: S, context: GraphQLContext): GraphQLContext;
  /** Every revocation event, before the registry closes sockets: refuses renewals in flight it concerns. */
  noteRevocation(event: RevocationEvent): void;
  /** Renewals in flight now. */
  readonly pending: number;
}

interface Pending {
  readonly userId: string;
  readonly sessionId: string | undefined;
  /** jtis revoked while the lookup was in flight (the renewal's own is known only after it). */
  revokedJtis: Set<string> | undefined;
  sessionEnded: boolean;
  /** A user-wide revocation arrived: the store decides, once the new token is applied. */
  recheck: boolean;
}

/** Past this many jti events during one lookup, the store is asked instead (bounded memory). */
const MAX_NOTED_JTIS = 256;

/** The renewConnection resolver: add it to the resolvers of a schema that has LIVE_SDL. */
export function createConnectionRenewalResolvers(): Pick<Resolvers, 'Mutation'> {
  return {
    Mutation: {
      async renewConnection(_parent, { accessToken }, context) {
        authenticatedToken(context);
        if (!context.connection) throw websocketRequiredError();
        await context.connection.renew(accessToken);
        return true;
      },
    },
  };
}

function reasonOf(error: unknown): unknown {
  return error instanceof GraphQLError ? error.extensions?.reason : undefined;
}

/** Builds the renewal of one live endpoint (see the module comment). */
export function createConnectionRenewal<S extends RenewableSocket>(options: ConnectionRenewalOptions<S>): ConnectionRenewal<S> {
  const now = options.now ?? Date.now;
  const pending = new Set<Pending>();
  const handles = new WeakMap<S, ConnectionHandle>();

  function refuse(outcome: RenewalOutcome, reason: RenewalRefusalReason, socket: S): GraphQLError {
    options.onOutcome?.(outcome);
    options.logger?.debug({ userId: socket.token.userId, outcome }, 'live connection renewal refused');
    return renewalRefusedError(reason);
  }

  async function renew(socket: S, accessToken: string): Promise<void> {
    const current = socket.token;
    if (now() >= current.expiresAt * 1000) {
      options.closeExpired(socket);
      throw refuse('socket_expired', 'TOKEN_EXPIRED', socket);
    }
    const entry: Pending = { userId: current.userId, sessionId: current.sessionId, revokedJtis: undefined, sessionEnded: false, recheck: false };
    let context: GraphQLContext;
    // Noted from the start (matched by user and session: the new jti is known only after the
    // verification), so no event is missed between the verification and the lookup's answer.
    pending.add(entry);
    try {
      context = await options.authenticate(`Bearer ${accessToken}`, socket);
    } catch (error) {
      pending.delete(entry);
      const code = error instanceof GraphQLError ? error.extensions?.code : undefined;
      if (code === ErrorCode.AuthUnavailable) {
        options.onOutcome?.('unavailable');
        throw authUnavailableError();
      }
      const reason = reasonOf(error);
      if (reason === 'TOKEN_EXPIRED') throw refuse('expired', 'TOKEN_EXPIRED', socket);
      if (reason === 'TOKEN_REVOKED') throw refuse('revoked', 'TOKEN_REVOKED', socket);
      throw refuse('invalid', 'TOKEN_INVALID', socket);
    }
    pending.delete(entry);
    if (context.auth.kind !== 'authenticated') throw refuse('invalid', 'TOKEN_INVALID', socket);
    const token = context.auth.token;
    if (token.userId !== current.userId) throw refuse('user_mismatch', 'USER_MISMATCH', socket);
    if (token.sessionId !== current.sessionId) throw refuse('session_mismatch', 'SESSION_MISMATCH', socket);
    // An event naming this jti (or the session) arrived while the lookup was in flight.
    if (entry.sessionEnded || entry.revokedJtis?.has(token.jti)) throw refuse('revoked', 'TOKEN_REVOKED', socket);
    if (socket.closedBy) throw refuse('revoked', 'TOKEN_REVOKED', socket);
    options.apply(socket, token, `Bearer ${accessToken}`, context);
    options.onOutcome?.('renewed');
    options.logger?.debug({ userId: token.userId, sessionId: token.sessionId }, 'live connection renewed');
    if (entry.recheck) options.recheck(socket);
  }

  return {
    contextFor(socket, context) {
      let handle = handles.get(socket);
      if (!handle) {
        handle = { renew: (accessToken: string) => renew(socket, accessToken) };
        handles.set(socket, handle);
      }
      return { ...context, connection: handle };
    },
    noteRevocation(event) {
      if (pending.size === 0) return;
      for (const entry of pending) {
        if (entry.userId !== event.userId) continue;
        if (event.scope.kind === 'token') {
          entry.revokedJtis ??= new Set();
          if (entry.revokedJtis.size < MAX_NOTED_JTIS) entry.revokedJtis.add(event.scope.jti);
          else entry.recheck = true;
        } else if (event.scope.kind === 'session') {
          if (event.scope.sessionId === entry.sessionId) entry.sessionEnded = true;
        } else entry.recheck = true;
      }
    },
    get pending() {
      return pending.size;
    },
  };
}
