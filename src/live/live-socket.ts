/**
 * One live socket's state, and how the server closes one: the record the parts of the live
 * endpoint share (the ws adapter that opens it, the per-socket guard that bounds it, the
 * authentication that judges it, the event fan-out that ends it).
 *
 * One plain object per socket with no closure of its own: memory per socket is a documented
 * figure (docs/benchmarks.md), and 10,000 sockets each holding a handful of closures would
 * show in it.
 */
import type { Context as WsContext } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Clock, VerifiedToken } from '../auth/token.js';
import type { GraphQLContext } from '../context/context.js';
import type { LiveCloseReason } from '../metrics.js';

/** One socket's state. */
export interface LiveSocket {
  readonly ws: WebSocket;
  /**
   * The context the socket's operations run with, kept while its token stays the same: every
   * operation is still checked (one lookup), but its 20 subscriptions share one context object
   * instead of holding one each (memory per socket).
   */
  operationContext: GraphQLContext | undefined;
  /** Read from the upgrade request once (the request itself is not kept: memory per socket). */
  readonly clientAddress: (() => string) | undefined;
  readonly userAgent: string | undefined;
  /** Set once connection_init verified a token (before its store lookup). */
  token: VerifiedToken;
  authorization: string | string[] | undefined;
  context: GraphQLContext | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  alive: boolean;
  /** Why the server closed it; unset while open or when the client closed it. */
  closedBy: LiveCloseReason | undefined;
  /** What the per-address cap counts it under. */
  readonly addressKey: string;
  /** Counted among the anonymous sockets (connection_init without a token). */
  anonymous: boolean;
  /** ms (now()) of its last operation started or ended: an idle anonymous socket is closed. */
  lastActivityAt: number;
  /** graphql-ws's context of the socket, from connection_init on (the fast path serves through it). */
  wsContext: LiveWsContext | undefined;
  /** The operation rate's token bucket: tokens left, refilled from `refilledAt` (ms). */
  bucket: number;
  refilledAt: number;
  /** Operations refused for the rate since the last one accepted. */
  refused: number;
}

/** What graphql-ws carries for each socket (its `extra`). */
export type Extra = { live: LiveSocket };

/** graphql-ws's context of one live socket. */
export type LiveWsContext = WsContext<Record<string, unknown>, Extra>;

/** What a new socket starts with: read from its upgrade request once. */
export interface NewSocket {
  readonly ws: WebSocket;
  readonly address: string | undefined;
  readonly addressKey: string;
  readonly userAgent: unknown;
  /** A full operation bucket (the rate per second). */
  readonly bucket: number;
  readonly now: number;
}

/** A socket's record, open and not yet through connection_init. */
export function newLiveSocket(init: NewSocket): LiveSocket {
  const { address } = init;
  return {
    ws: init.ws,
    operationContext: undefined,
    clientAddress: address === undefined ? undefined : () => address,
    userAgent: typeof init.userAgent === 'string' ? init.userAgent.slice(0, 256) : undefined,
    token: undefined as unknown as VerifiedToken,
    authorization: undefined,
    context: undefined,
    expiryTimer: undefined,
    alive: true,
    closedBy: undefined,
    addressKey: init.addressKey,
    anonymous: false,
    wsContext: undefined,
    lastActivityAt: init.now,
    bucket: init.bucket,
    refilledAt: init.now,
    refused: 0,
  };
}

/**
 * After a close frame, how long a peer has to answer it before its socket is cut: short for a
 * socket refused as it opens (it holds a connection and has nothing to finish), longer for one
 * that was in use (it may have messages to read before the close frame).
 */
export const REFUSED_CLOSE_GRACE_MS = 1000;
const CLOSE_GRACE_MS = 5000;

/** Closes `ws` with a close frame, and cuts it if the peer has not answered within `graceMs`. */
export function closeWs(ws: WebSocket, code: number, reason: string, graceMs = CLOSE_GRACE_MS): void {
  ws.close(code, reason);
  setTimeout(() => {
    if (ws.readyState !== ws.CLOSED) ws.terminate();
  }, graceMs).unref();
}

/** Writes `data` on `ws`; resolves once written (nothing to do on a socket no longer open). */
export function sendOn(ws: WebSocket, data: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (ws.readyState !== ws.OPEN) return resolve();
    ws.send(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Closes a socket (once) and says why; `publishedAt`: the event that closed it (the fan-out delay). */
export type Shut = (socket: LiveSocket, code: number, reason: string, why: LiveCloseReason, publishedAt?: number) => void;

/** The one way the server closes a live socket. `observeFanOutDelay`: seconds from an event's publication to the close. */
export function createShut(now: Clock, observeFanOutDelay?: (seconds: number) => void): Shut {
  return (socket, code, reason, why, publishedAt) => {
    if (socket.closedBy || socket.ws.readyState >= socket.ws.CLOSING) return;
    socket.closedBy = why;
    if (socket.expiryTimer) clearTimeout(socket.expiryTimer);
    socket.expiryTimer = undefined;
    if (why !== 'revoked' && why !== 'rate') return closeWs(socket.ws, code, reason);
    // A revocation: what this socket's subscriptions already produced from earlier events (its
    // session's ENDED event, published just before) is sent in this turn; then the close. A
    // rate close: the RATE_LIMITED answer of the operation that tipped it goes out first.
    setImmediate(() => {
      if (publishedAt !== undefined) observeFanOutDelay?.(Math.max(0, now() - publishedAt) / 1000);
      closeWs(socket.ws, code, reason);
    });
  };
}
