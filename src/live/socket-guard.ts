/**
 * The per-socket guard: what one client may hold and do on the live endpoint, so that
 * sockets can never starve plain HTTP nor one client starve another (issue 17).
 *
 * - Open sockets per process and per client address (IPv6 per /64, the adapter's key): past
 *   either cap a new socket is refused with 1013 before any state is kept for it.
 * - Anonymous sockets (connection_init without a token) are capped overall (1013 at
 *   connection_init) and closed with 1000 once idle: one sweep for all, not a timer each, so
 *   an idle crowd costs no timers.
 * - Operations per socket: a token bucket holding one second's worth. A refused operation
 *   costs no parse, no validation, no lookup, and gets RATE_LIMITED; a socket refused that many
 *   more without a pause is closed with 4429. A clock stepped back refills nothing.
 * - Operations running at once on one socket are capped (BAD_REQUEST).
 * - A message is refused before graphql-ws parses it: binary frames (4400) and the request
 *   pipeline's message check (JSON nesting: 1 MiB of `[` would cost JSON.parse ~1 s).
 */
import { GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import type { RawData } from 'ws';
import type { Clock } from '../auth/token.js';
import { ErrorCode } from '../errors.js';
import type { RequestPipeline } from '../pipeline/request-pipeline.js';
import type { LiveLimits } from './live-limits.js';
import type { LiveSocket, Shut } from './live-socket.js';

/** graphql-ws's close code for too many requests. */
const TOO_MANY_REQUESTS = 4429;

/** The bounds the guard keeps (./live-limits.ts, resolved). */
export type GuardLimits = Readonly<Pick<Required<LiveLimits>, 'maxConnections' | 'maxConnectionsPerAddress' | 'maxAnonymousConnections' | 'anonymousIdleMs' | 'maxOperationsPerSecond' | 'maxSubscriptionsPerSocket'>>;

/** Options of {@link createSocketGuard}. */
export interface SocketGuardOptions {
  limits: GuardLimits;
  /** The request pipeline's message check (the HTTP path's). */
  pipeline: Pick<RequestPipeline, 'checkMessage'>;
  shut: Shut;
  now: Clock;
}

/** Why a new socket is refused: its close code and reason. */
export interface SocketRefusal {
  readonly code: number;
  readonly reason: string;
}

/** The guard of one live endpoint. */
export interface SocketGuard {
  /** Every open socket the guard counts. */
  readonly sockets: ReadonlySet<LiveSocket>;
  /** Why a new socket from `addressKey` is refused, or undefined when it may open. */
  refusal(addressKey: string): SocketRefusal | undefined;
  /** Counts an opened socket (after {@link refusal} said yes). */
  admit(socket: LiveSocket): void;
  /** Forgets a closed socket. */
  release(socket: LiveSocket): void;
  /** At connection_init without a token: false (and the socket closed 1013) when the anonymous are at their cap. */
  roomForAnonymous(socket: LiveSocket): boolean;
  /** Counts a socket among the anonymous (its context built): idle, it is closed. */
  admitAnonymous(socket: LiveSocket): void;
  /** The text of a message to hand on, or undefined when it is dropped (the socket closing, or closed for it). */
  checkMessage(socket: LiveSocket, data: RawData, isBinary: boolean): string | undefined;
  /** At `subscribe` (`running` counts this one): the errors that refuse it, or undefined. */
  checkOperation(socket: LiveSocket, running: number): GraphQLError[] | undefined;
  /** An operation ended: the socket is not idle. */
  noteActivity(socket: LiveSocket): void;
  /** Stops the idle sweep. */
  stop(): void;
}

/** Takes one operation from the socket's bucket (refilled `rate` per second); false when it is empty. */
function takeOperation(socket: LiveSocket, rate: number, at: number): boolean {
  // A clock stepped back (NTP, a skewed host) refills nothing, and drains nothing either.
  socket.bucket = Math.min(rate, socket.bucket + (Math.max(0, at - socket.refilledAt) * rate) / 1000);
  socket.refilledAt = at;
  if (socket.bucket < 1) return false;
  socket.bucket -= 1;
  return true;
}

/** An operation past the rate: RATE_LIMITED, and close 4429 for a socket that keeps going without a pause. */
function rateLimited(socket: LiveSocket, rate: number, shut: Shut): GraphQLError[] {
  socket.refused += 1;
  if (socket.refused > rate) shut(socket, TOO_MANY_REQUESTS, 'Too many requests', 'rate');
  return [new GraphQLError(`At most ${rate} operations per second may start on one socket.`, { extensions: { code: ErrorCode.RateLimited, limit: rate } })];
}

/** One sweep for every anonymous socket (no timer per socket): idle past the limit, closed with 1000. */
function startIdleSweep(anonymous: ReadonlySet<LiveSocket>, options: SocketGuardOptions): NodeJS.Timeout {
  const { limits, shut, now } = options;
  return setInterval(
    () => {
      const cutoff = now() - limits.anonymousIdleMs;
      for (const socket of anonymous) if (socket.lastActivityAt <= cutoff) shut(socket, 1000, 'Idle anonymous socket', 'idle');
    },
    Math.max(50, Math.min(1000, Math.floor(limits.anonymousIdleMs / 4))),
  ).unref();
}

/** The text of a message to hand on, or undefined when it is dropped (binary and too deep: the socket closed 4400). */
function messageText(socket: LiveSocket, data: RawData, isBinary: boolean, options: SocketGuardOptions): string | undefined {
  const { shut } = options;
  // Messages already received on a socket being closed (a burst past the rate) cost nothing more.
  if (socket.closedBy) return undefined;
  if (isBinary) return void shut(socket, CloseCode.BadRequest, 'Binary messages are not accepted', 'protocol');
  const text = String(data);
  const refused = options.pipeline.checkMessage(text);
  if (refused) return void shut(socket, CloseCode.BadRequest, refused.message.slice(0, 120), 'protocol');
  return text;
}

/** Builds the guard; the idle sweep starts at once (unref'd). */
export function createSocketGuard(options: SocketGuardOptions): SocketGuard {
  const { limits, now } = options;
  const sockets = new Set<LiveSocket>();
  /** Open sockets per address key. */
  const perAddress = new Map<string, number>();
  const anonymous = new Set<LiveSocket>();
  const idleTimer = startIdleSweep(anonymous, options);
  return {
    sockets,
    refusal(addressKey) {
      if (sockets.size >= limits.maxConnections) return { code: 1013, reason: 'Too many connections, try again later' };
      if ((perAddress.get(addressKey) ?? 0) >= limits.maxConnectionsPerAddress) return { code: 1013, reason: 'Too many connections from this address' };
      return undefined;
    },
    admit(socket) {
      perAddress.set(socket.addressKey, (perAddress.get(socket.addressKey) ?? 0) + 1);
      sockets.add(socket);
    },
    release(socket) {
      sockets.delete(socket);
      anonymous.delete(socket);
      const left = (perAddress.get(socket.addressKey) ?? 1) - 1;
      if (left > 0) perAddress.set(socket.addressKey, left);
      else perAddress.delete(socket.addressKey);
    },
    roomForAnonymous(socket) {
      if (anonymous.size < limits.maxAnonymousConnections) return true;
      options.shut(socket, 1013, 'Too many anonymous connections, try again later', 'capacity');
      return false;
    },
    admitAnonymous(socket) {
      socket.anonymous = true;
      socket.lastActivityAt = now();
      anonymous.add(socket);
    },
    checkMessage: (socket, data, isBinary) => messageText(socket, data, isBinary, options),
    checkOperation(socket, running) {
      socket.lastActivityAt = now();
      // The rate first: a refused operation costs no parse, no validation, no lookup.
      if (!takeOperation(socket, limits.maxOperationsPerSecond, socket.lastActivityAt)) return rateLimited(socket, limits.maxOperationsPerSecond, options.shut);
      socket.refused = 0;
      if (running <= limits.maxSubscriptionsPerSocket) return undefined;
      const message = `At most ${limits.maxSubscriptionsPerSocket} operations may run at once on one socket.`;
      return [new GraphQLError(message, { extensions: { code: ErrorCode.BadRequest, limit: limits.maxSubscriptionsPerSocket } })];
    },
    noteActivity(socket) {
      socket.lastActivityAt = now();
    },
    stop: () => clearInterval(idleTimer),
  };
}
