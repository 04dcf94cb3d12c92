/**
 * GraphQL over WebSocket (`graphql-transport-ws`, the graphql-ws package on ws), on the
 * HTTP server's port and path, with sockets that end when their token is revoked.
 *
 * The guarantee and how it is kept:
 * - `connection_init` goes through the HTTP context builder: same verifier, same single
 *   store lookup. No `authorization` → anonymous; refused token → close 4403; store
 *   unavailable → close 1013. Every later operation on the socket is checked again the same
 *   way (one lookup, as one HTTP request).
 * - An authenticated socket is registered under its user before the lookup, so a revocation
 *   event that arrives while the lookup is in flight still finds it.
 * - Revocation events (./revocation-events.ts) close the sockets they name with 4403 at once
 *   (a jti, a session), or after asking the store which of the user's sockets are revoked (a
 *   user-wide revocation: the store knows the cutoff and the excepted session). Closing a
 *   socket stops sending at once and completes its subscriptions.
 * - When the event subscription is (again) confirmed live, and every
 *   `recheckIntervalMs`, every socket is checked against the store (lookups sent in one
 *   pipelined write per batch); a socket whose check fails is closed with 1013 (fail closed).
 * - At its token's exp + clock tolerance, a socket is closed with 4403: one timer per
 *   authenticated socket, the only per-socket timer besides graphql-ws's connection_init wait.
 * - renewConnection (./connection-renewal.ts) replaces a socket's token in-band: from then
 *   on it is judged by the new one (its revocation, its exp).
 * - Keep-alive pings run from one process-wide interval, not a timer per socket.
 * - Subscriptions the fast path can plan (./subscription-fast-path.ts: `sessionEvents`) are
 *   served through the same hooks below with one small record each; everything else is
 *   graphql-ws's as before.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema, type ParseOptions, type ValidationRule } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type Context as WsContext, type ServerOptions, type SubscribePayload } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { systemClock, type Clock, type VerifiedToken } from '../auth/token.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { AuthOutcome } from '../context/context-builder.js';
import type { GraphQLContext } from '../context/context.js';
import { ErrorCode } from '../errors.js';
import { createDocumentStore } from '../graphql-limits/document-store.js';
import { createRequestPipeline, type RequestPipeline } from '../pipeline/request-pipeline.js';
import { addressKey } from '../server/client-address.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { LiveEvent, LiveEventBus, RevocationEvent } from './revocation-events.js';
import { SocketRegistry, type LiveCloseReason } from './socket-registry.js';
import { createConnectionRenewal, type RenewalOutcome } from './connection-renewal.js';
import { createSubscriptionFastPath, type FastPathHooks } from './subscription-fast-path.js';

/** The bounds of the live endpoint; each has a default. */
export interface LiveLimits {
  /**
   * Open sockets per process (WS_MAX_CONNECTIONS); past it a new socket is closed with 1013.
   * Default 900: keep it under the HTTP server's connection cap minus a reserve for plain
   * requests (upgraded sockets count against it). */
  maxConnections?: number;
  /** Open sockets per client address (IPv6: per /64), WS_MAX_CONNECTIONS_PER_ADDRESS; past it close 1013. Default 50. */
  maxConnectionsPerAddress?: number;
  /** Sockets without a token, all addresses together (WS_MAX_ANONYMOUS_CONNECTIONS); past it close 1013 at connection_init. Default 450. */
  maxAnonymousConnections?: number;
  /** ms an anonymous socket may go without an operation before it is closed with 1000 (WS_ANONYMOUS_IDLE_MS). Default 30,000. */
  anonymousIdleMs?: number;
  /**
   * Operations a socket may start per second (WS_MAX_OPERATIONS_PER_SECOND): a token bucket
   * holding one second's worth. Above it the operation gets RATE_LIMITED; a socket refused
   * that many operations more without a pause is closed with 4429. Default 50.
   */
  maxOperationsPerSecond?: number;
  /** Operations running at once on one socket (WS_MAX_SUBSCRIPTIONS_PER_SOCKET); past it the operation gets an error. Default 20. */
  maxSubscriptionsPerSocket?: number;
  /** ms to wait for connection_init before closing with 4408 (graphql-ws). Default 3000. */
  connectionInitTimeoutMs?: number;
  /** ms between keep-alive pings; a socket that did not answer the previous one is terminated. 0: none. Default 12,000. */
  keepAliveMs?: number;
  /** ms between full re-checks of every socket against the store (WS_RECHECK_INTERVAL_SECONDS). 0: none. Default 60,000. */
  recheckIntervalMs?: number;
  /** Largest message accepted, bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
}

/** The metrics the live endpoint feeds (src/metrics.ts implements them). */
export interface LiveMetrics {
  recordLiveSocketOpened(): void;
  recordLiveSocketClosed(reason: LiveCloseReason): void;
  /** Seconds from an event's publication to the socket's close. */
  observeLiveFanOutDelay(seconds: number): void;
  /** A renewConnection on a socket, and how it ended (./connection-renewal.ts). */
  recordLiveRenewal?(outcome: RenewalOutcome): void;
}

/** What {@link createLiveConnections} logs. */
export interface LiveLogger {
  debug(object: object, message: string): void;
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Options of {@link createLiveConnections}. */
export interface LiveConnectionsOptions {
  /** The executable schema, with `@authenticated` applied (the HTTP server's). */
  schema: GraphQLSchema;
  /**
   * The request pipeline the HTTP server uses (createRequestPipeline): size and depth checks,
   * limits, client mistakes, masking, the auth context. Unset: one is built from `verifier`,
   * `revocations`, `validationRules`, `parseOptions`, `introspection` and `hideSuggestions`.
   */
  pipeline?: RequestPipeline;
  verifier: TokenVerifier;
  /** What connection_init and every operation are checked against: the HTTP path's store (cached or not). */
  revocations: RevocationStore;
  /**
   * What re-checks after an event or a resync ask. Default `revocations`. Give the store
   * without an answer cache when `revocations` reuses "not revoked" answers.
   */
  recheckStore?: RevocationStore;
  events: LiveEventBus;
  limits?: LiveLimits;
  /** The HTTP server's validation rules and parse options (createGraphQLLimits), applied to every operation. */
  validationRules?: readonly ValidationRule[];
  parseOptions?: ParseOptions;
  /** Default true; false adds graphql-js's NoSchemaIntrospectionCustomRule, like Apollo's `introspection: false`. */
  introspection?: boolean;
  /** Seconds a token is accepted past exp (the verifier's). Default 5. */
  clockToleranceSeconds?: number;
  /** Upper bound of a store lookup, ms (the context builder's). Default 1000. */
  lookupTimeoutMs?: number;
  /** Told of every authentication outcome (the HTTP path's onOutcome: logs and metrics). */
  onOutcome?: (outcome: AuthOutcome, detail?: string, error?: unknown) => void;
  /** Strip graphql-js's "Did you mean ...?" from error messages (the HTTP server's hideSuggestions). Default false. */
  hideSuggestions?: boolean;
  /** Last say on every error sent (the HTTP server's masking). */
  formatError?: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** The client's address, from the upgrade request (for signIn's limiter). */
  clientAddress?: (request: IncomingMessage) => string;
  /** Path served. Default '/graphql'. */
  path?: string;
  logger?: LiveLogger;
  metrics?: LiveMetrics;
  now?: Clock;
  /**
   * Default true: subscriptions whose selection the fast path can plan are served with one
   * small record each instead of graphql-ws's suspended loop (./subscription-fast-path.ts),
   * through the same hooks. false: every operation goes through graphql-ws.
   */
  subscriptionFastPath?: boolean;
}

/** The live endpoint. */
export interface LiveConnections {
  /** Serves WebSocket upgrades of `server` on the path (any other path: 404). */
  attach(server: HttpServer): void;
  /** For a host that routes upgrades itself: takes one upgrade request. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open sockets now (authenticated or not). */
  readonly size: number;
  /** Authenticated sockets now. */
  readonly authenticated: number;
  /** Re-checks every authenticated socket against the store now; resolves when done. */
  recheckAll(): Promise<void>;
  /** Refuses new sockets, closes every open one with 1001 and waits (at most `graceMs`, default 1000) for them to go. */
  close(graceMs?: number): Promise<void>;
}

/** One socket's state. */
interface LiveSocket {
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
  wsContext: WsContext<Record<string, unknown>, Extra> | undefined;
  /** The operation rate's token bucket: tokens left, refilled from `refilledAt` (ms). */
  bucket: number;
  refilledAt: number;
  /** Operations refused for the rate since the last one accepted. */
  refused: number;
}

type Extra = { live: LiveSocket };

const DEFAULTS = {
  maxConnections: 900,
  maxConnectionsPerAddress: 50,
  maxAnonymousConnections: 450,
  anonymousIdleMs: 30_000,
  maxOperationsPerSecond: 50,
  maxSubscriptionsPerSocket: 20,
  connectionInitTimeoutMs: 3000,
  keepAliveMs: 12_000,
  recheckIntervalMs: 60_000,
  maxPayloadBytes: 1_048_576,
} satisfies Required<LiveLimits>;

/** setTimeout's largest delay; a later expiry re-arms. */
const MAX_TIMER_MS = 2_147_483_647;
/**
 * After a close frame, how long a peer has to answer it before its socket is cut: short for a
 * socket refused as it opens (it holds a connection and has nothing to finish), longer for one
 * that was in use (it may have messages to read before the close frame).
 */
const REFUSED_CLOSE_GRACE_MS = 1000;
const CLOSE_GRACE_MS = 5000;
/** graphql-ws's close code for too many requests. */
const TOO_MANY_REQUESTS = 4429;
/** Lookups sent per re-check batch (each batch leaves in one write). */
const RECHECK_BATCH = 1000;

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

/**
 * Builds the live endpoint. Throws at once on bad limits. See the module comment for the
 * guarantee; docs/live.md for the client's side.
 */
export function createLiveConnections(options: LiveConnectionsOptions): LiveConnections {
  const limits = { ...DEFAULTS, ...stripUndefined(options.limits ?? {}) };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`createLiveConnections: limits.${name} must be an integer >= 0, got ${value}`);
  }
  if (limits.maxSubscriptionsPerSocket < 1) throw new Error('createLiveConnections: limits.maxSubscriptionsPerSocket must be at least 1');
  const { schema, events, logger, metrics } = options;
  const now = options.now ?? systemClock;
  const path = options.path ?? '/graphql';
  const tolerance = options.clockToleranceSeconds ?? 5;
  const recheckStore = options.recheckStore ?? options.revocations;
  for (const name of ['maxConnectionsPerAddress', 'anonymousIdleMs', 'maxOperationsPerSecond'] as const) {
    if (limits[name] < 1) throw new Error(`createLiveConnections: limits.${name} must be at least 1`);
  }
  // The HTTP server's pipeline when given (createServer gives it): one place for every check.
  const pipeline =
    options.pipeline ??
    createRequestPipeline({
      schema,
      verifier: options.verifier,
      revocations: options.revocations,
      lookupTimeoutMs: options.lookupTimeoutMs ?? 1000,
      ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
      limits: { hideSuggestions: options.hideSuggestions ?? false },
      graphqlLimits: {
        validationRules: [...(options.validationRules ?? [])],
        plugins: [],
        parseOptions: options.parseOptions ?? {},
        documentStore: createDocumentStore(),
      },
      introspection: options.introspection ?? true,
      production: false,
      ...(logger ? { logger } : {}),
    });
  const buildContext = pipeline.buildContext;

  const sockets = new Set<LiveSocket>();
  const registry = new SocketRegistry<LiveSocket>();
  /** Open sockets per address key. */
  const perAddress = new Map<string, number>();
  const anonymous = new Set<LiveSocket>();
  let closing = false;

  /** Closes `ws` with a close frame, and cuts it if the peer has not answered within `graceMs`. */
  function closeWs(ws: WebSocket, code: number, reason: string, graceMs = CLOSE_GRACE_MS): void {
    ws.close(code, reason);
    setTimeout(() => {
      if (ws.readyState !== ws.CLOSED) ws.terminate();
    }, graceMs).unref();
  }

  /** Closes a socket (once) and says why. Sending stops at once; subscriptions complete on 'close'. */
  function shut(socket: LiveSocket, code: number, reason: string, why: LiveCloseReason, publishedAt?: number): void {
    if (socket.closedBy || socket.ws.readyState >= socket.ws.CLOSING) return;
    socket.closedBy = why;
    if (socket.expiryTimer) clearTimeout(socket.expiryTimer);
    socket.expiryTimer = undefined;
    if (why !== 'revoked' && why !== 'rate') return closeWs(socket.ws, code, reason);
    // A revocation: what this socket's subscriptions already produced from earlier events (its
    // session's ENDED event, published just before) is sent in this turn; then the close. A
    // rate close: the RATE_LIMITED answer of the operation that tipped it goes out first.
    setImmediate(() => {
      if (publishedAt !== undefined) metrics?.observeLiveFanOutDelay(Math.max(0, now() - publishedAt) / 1000);
      closeWs(socket.ws, code, reason);
    });
  }

  function armExpiry(socket: LiveSocket): void {
    const delay = (socket.token.expiresAt + tolerance) * 1000 - now();
    if (delay <= 0) return shut(socket, CloseCode.Forbidden, 'Forbidden', 'expired');
    socket.expiryTimer = setTimeout(() => {
      socket.expiryTimer = undefined;
      if ((socket.token.expiresAt + tolerance) * 1000 <= now()) shut(socket, CloseCode.Forbidden, 'Forbidden', 'expired');
      else armExpiry(socket);
    }, Math.min(delay, MAX_TIMER_MS));
    // The socket keeps the process alive, not its timer.
    socket.expiryTimer.unref();
  }

  const renewal = createConnectionRenewal<LiveSocket>({
    authenticate: (authorization, socket) => buildContext({ authorization, clientAddress: socket.clientAddress, userAgent: socket.userAgent }),
    apply(socket, token, authorization, context) {
      // Same user (checked): its place in the registry stays; events now match the new jti and session.
      socket.token = token;
      socket.authorization = authorization;
      socket.context = context;
      if (socket.expiryTimer) clearTimeout(socket.expiryTimer);
      socket.expiryTimer = undefined;
      armExpiry(socket);
    },
    closeExpired: (socket) => shut(socket, CloseCode.Forbidden, 'Forbidden', 'expired'),
    recheck: (socket) => {
      recheck([socket]).catch((error: unknown) => logger?.error({ err: error }, 'live re-check after renewal failed'));
    },
    now,
    ...(metrics?.recordLiveRenewal ? { onOutcome: (outcome: RenewalOutcome) => metrics.recordLiveRenewal?.(outcome) } : {}),
    ...(logger ? { logger } : {}),
  });

  /** Asks the store about each socket (pipelined per batch); closes the revoked (4403) and the unanswered (1013). */
  async function recheck(list: LiveSocket[], publishedAt?: number): Promise<void> {
    for (let i = 0; i < list.length; i += RECHECK_BATCH) {
      const batch = list.slice(i, i + RECHECK_BATCH).filter((s) => !s.closedBy);
      const answers = await Promise.allSettled(batch.map((s) => recheckStore.isRevoked(s.token)));
      let failed = 0;
      let firstError: unknown;
      answers.forEach((answer, j) => {
        const socket = batch[j] as LiveSocket;
        if (answer.status === 'rejected') {
          failed += 1;
          firstError ??= answer.reason;
          shut(socket, 1013, 'Try again later', 'unavailable');
        } else if (answer.value) {
          shut(socket, CloseCode.Forbidden, 'Forbidden', 'revoked', publishedAt);
        }
      });
      // One line per batch, not per socket: an outage would otherwise log every socket.
      if (failed > 0) {
        logger?.warn({ sockets: failed, err: { message: (firstError as Error)?.message } }, 'live socket re-check failed: closed with 1013');
      }
    }
  }

  function onRevocation(event: RevocationEvent): void {
    renewal.noteRevocation(event);
    const { sockets: affected, definitive } = registry.affectedBy(event);
    if (affected.length === 0) return;
    if (definitive) {
      for (const socket of affected) shut(socket, CloseCode.Forbidden, 'Forbidden', 'revoked', event.at);
      logger?.debug({ userId: event.userId, scope: event.scope.kind, closed: affected.length }, 'live sockets closed on revocation');
      return;
    }
    recheck(affected, event.at).catch((error: unknown) => logger?.error({ err: error }, 'live re-check failed'));
  }

  const unsubscribe = events.subscribe((event: LiveEvent) => {
    if (event.type === 'revoked') onRevocation(event);
  });
  const recheckAll = () => recheck(registry.all());
  const unresync = events.onResync(() => {
    recheckAll().catch((error: unknown) => logger?.error({ err: error }, 'live re-check after resync failed'));
  });
  const recheckTimer =
    limits.recheckIntervalMs > 0
      ? setInterval(() => {
          recheckAll().catch((error: unknown) => logger?.error({ err: error }, 'periodic live re-check failed'));
        }, limits.recheckIntervalMs).unref()
      : undefined;
  // One interval for every socket: a socket that did not answer the last ping is gone.
  const keepAliveTimer =
    limits.keepAliveMs > 0
      ? setInterval(() => {
          for (const socket of sockets) {
            if (socket.ws.readyState !== socket.ws.OPEN) continue;
            if (!socket.alive) {
              socket.ws.terminate();
              continue;
            }
            socket.alive = false;
            socket.ws.ping();
          }
        }, limits.keepAliveMs).unref()
      : undefined;

  // One sweep for every anonymous socket (no timer per socket): idle past the limit, closed.
  const idleTimer = setInterval(
    () => {
      const cutoff = now() - limits.anonymousIdleMs;
      for (const socket of anonymous) if (socket.lastActivityAt <= cutoff) shut(socket, 1000, 'Idle anonymous socket', 'idle');
    },
    Math.max(50, Math.min(1000, Math.floor(limits.anonymousIdleMs / 4))),
  ).unref();

  /** Apollo's codes for what graphql-js reports without one, then the pipeline's masking (the HTTP path's), then the host's. */
  function formatErrors(errors: readonly GraphQLError[], fallbackCode: string): GraphQLFormattedError[] {
    return errors.map((error) => {
      const json = error.toJSON();
      const { http: _http, ...extensions } = (json.extensions ?? {}) as Record<string, unknown>;
      const formatted = pipeline.formatError({ ...json, extensions: { ...extensions, code: extensions.code ?? fallbackCode } }, error);
      return options.formatError ? options.formatError(formatted, error) : formatted;
    });
  }

  /** A message's handling threw (a bug, not the client's doing): logged, and the socket closed 4500. */
  function failedMessage(socket: LiveSocket, error: unknown): void {
    logger?.error({ err: error }, 'error while handling a live message');
    socket.closedBy ??= 'protocol';
    socket.ws.close(CloseCode.InternalServerError, 'Internal server error');
  }

  /** Takes one operation from the socket's bucket; false when it is empty. */
  function takeOperation(socket: LiveSocket): boolean {
    const at = now();
    const rate = limits.maxOperationsPerSecond;
    // A clock stepped back (NTP, a skewed host) refills nothing, and drains nothing either.
    socket.bucket = Math.min(rate, socket.bucket + (Math.max(0, at - socket.refilledAt) * rate) / 1000);
    socket.refilledAt = at;
    if (socket.bucket < 1) return false;
    socket.bucket -= 1;
    return true;
  }

  /** (Re)authenticates the socket for one operation, as one HTTP request: throws the HTTP path's error. */
  async function operationContext(socket: LiveSocket): Promise<GraphQLContext> {
    if (socket.authorization === undefined) return socket.context as GraphQLContext;
    return buildContext({ authorization: socket.authorization, clientAddress: socket.clientAddress, userAgent: socket.userAgent });
  }

  const hooks = {
    async onConnect(ctx: WsContext<Record<string, unknown>, Extra>) {
      const socket = ctx.extra.live;
      socket.wsContext = ctx;
      const authorization = authorizationOf(ctx.connectionParams);
      const { clientAddress, userAgent } = socket;
      if (authorization === undefined) {
        if (anonymous.size >= limits.maxAnonymousConnections) {
          shut(socket, 1013, 'Too many anonymous connections, try again later', 'capacity');
          return false;
        }
        socket.context = await buildContext({ clientAddress, userAgent });
        if (socket.closedBy) return false;
        socket.anonymous = true;
        socket.lastActivityAt = now();
        anonymous.add(socket);
        return true;
      }
      // Registered before the lookup: an event arriving meanwhile finds the socket.
      const bearer = typeof authorization === 'string' ? /^Bearer +([^\s]+) *$/i.exec(authorization)?.[1] : undefined;
      if (bearer) {
        try {
          socket.token = options.verifier.verify(bearer);
          registry.add(socket);
        } catch {
          // Refused below by the context builder, with its outcome reported.
        }
      }
      try {
        const context = await buildContext({ authorization, clientAddress, userAgent });
        if (socket.closedBy) return false;
        if (context.auth.kind !== 'authenticated') throw new Error('authenticated token expected');
        socket.token = context.auth.token;
        socket.authorization = authorization;
        socket.context = context;
        registry.add(socket);
        armExpiry(socket);
        return true;
      } catch (error) {
        if (errorCode(error) === ErrorCode.AuthUnavailable) shut(socket, 1013, 'Try again later', 'unavailable');
        else shut(socket, CloseCode.Forbidden, 'Forbidden', 'refused');
        // graphql-ws would close with 4403 too; the socket is already closing.
        return false;
      }
    },
    async onSubscribe(ctx: WsContext<Record<string, unknown>, Extra>, _id: string, payload: SubscribePayload): Promise<ExecutionArgs | GraphQLError[]> {
      const socket = ctx.extra.live;
      socket.lastActivityAt = now();
      // The rate first: a refused operation costs no parse, no validation, no lookup.
      if (!takeOperation(socket)) {
        socket.refused += 1;
        if (socket.refused > limits.maxOperationsPerSecond) shut(socket, TOO_MANY_REQUESTS, 'Too many requests', 'rate');
        return [
          new GraphQLError(`At most ${limits.maxOperationsPerSecond} operations per second may start on one socket.`, {
            extensions: { code: ErrorCode.RateLimited, limit: limits.maxOperationsPerSecond },
          }),
        ];
      }
      socket.refused = 0;
      // This operation is already counted in ctx.subscriptions.
      if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptionsPerSocket) {
        return [
          new GraphQLError(`At most ${limits.maxSubscriptionsPerSocket} operations may run at once on one socket.`, {
            extensions: { code: ErrorCode.BadRequest, limit: limits.maxSubscriptionsPerSocket },
          }),
        ];
      }
      const prepared = pipeline.prepare(payload);
      if (Array.isArray(prepared)) return prepared;
      const document = prepared.document;
      let contextValue: GraphQLContext;
      try {
        contextValue = await operationContext(socket);
      } catch (error) {
        const code = errorCode(error);
        if (code === ErrorCode.AuthUnavailable) return [error as GraphQLError];
        // Revoked or expired since the socket opened: the socket ends, as the event or the timer would end it.
        const reason = error instanceof GraphQLError ? error.extensions?.reason : undefined;
        shut(socket, CloseCode.Forbidden, 'Forbidden', reason === 'TOKEN_EXPIRED' ? 'expired' : code === ErrorCode.Unauthenticated ? 'revoked' : 'refused');
        // Not sent: the socket is closing.
        return [error instanceof GraphQLError ? error : new GraphQLError('Forbidden')];
      }
      const args: ExecutionArgs = {
        schema,
        document,
        // With the socket's handle: renewConnection renews this socket. Shared while the token is the same.
        contextValue: sameToken(socket.operationContext, contextValue)
          ? (socket.operationContext as GraphQLContext)
          : (socket.operationContext = renewal.contextFor(socket, contextValue)),
        ...(payload.operationName ? { operationName: payload.operationName } : {}),
        ...(payload.variables ? { variableValues: payload.variables } : {}),
      };
      return args;
    },
    onComplete(ctx: WsContext<Record<string, unknown>, Extra>) {
      ctx.extra.live.lastActivityAt = now();
    },
    onNext(_ctx: unknown, _id: string, _payload: unknown, _args: unknown, result: ExecutionResult) {
      if (!result.errors?.length) return;
      return { ...result, errors: formatErrors(result.errors as readonly GraphQLError[], 'INTERNAL_SERVER_ERROR') };
    },
    onError(_ctx: unknown, _id: string, _payload: unknown, errors: readonly GraphQLError[]) {
      return formatErrors(errors, 'BAD_REQUEST');
    },
  } satisfies ServerOptions<Record<string, unknown>, Extra> & FastPathHooks<Extra>;

  // --- Subscription fast path (./subscription-fast-path.ts): the same hooks, ~1 record per subscription.
  const fastPath = options.subscriptionFastPath === false ? undefined : createSubscriptionFastPath<Extra>({
    schema,
    hooks,
    send: (ctx, data) => sendOn(ctx.extra.live.ws, data),
    onInternalError: (ctx, error) => failedMessage(ctx.extra.live, error),
  });
  const server = makeServer<Record<string, unknown>, Extra>({
    schema,
    subscribe: (args) => lightSubscribe(args, fastPath?.sourceFor(args)),
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    ...hooks,
    onSubscribe: (ctx, id, payload) => fastPath?.handedOver(ctx, id) ?? hooks.onSubscribe(ctx, id, payload),
  });
  // --- end of the fast path's hook-up (and `fastPath?.take` in onMessage below).

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols,
    maxPayload: limits.maxPayloadBytes,
    // Compression state costs ~300 KB per socket at the defaults: off.
    perMessageDeflate: false,
  });

  wss.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    const address = options.clientAddress ? options.clientAddress(request) : undefined;
    const key = addressKey(address ?? request.socket.remoteAddress ?? 'unknown');
    metrics?.recordLiveSocketOpened();
    // Refused before any state is kept: the socket only waits for the peer's close frame.
    const refusal = closing
      ? { code: 1001, reason: 'Going away', why: 'shutdown' as const }
      : sockets.size >= limits.maxConnections
        ? { code: 1013, reason: 'Too many connections, try again later', why: 'capacity' as const }
        : (perAddress.get(key) ?? 0) >= limits.maxConnectionsPerAddress
          ? { code: 1013, reason: 'Too many connections from this address', why: 'capacity' as const }
          : undefined;
    if (refusal) {
      ws.on('error', () => {});
      ws.once('close', () => metrics?.recordLiveSocketClosed(refusal.why));
      closeWs(ws, refusal.code, refusal.reason, REFUSED_CLOSE_GRACE_MS);
      return;
    }
    perAddress.set(key, (perAddress.get(key) ?? 0) + 1);
    const userAgent = request.headers['user-agent'];
    const socket: LiveSocket = {
      ws,
      operationContext: undefined,
      clientAddress: address === undefined ? undefined : () => address,
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 256) : undefined,
      token: undefined as unknown as VerifiedToken,
      authorization: undefined,
      context: undefined,
      expiryTimer: undefined,
      alive: true,
      closedBy: undefined,
      addressKey: key,
      anonymous: false,
      wsContext: undefined,
      lastActivityAt: now(),
      bucket: limits.maxOperationsPerSecond,
      refilledAt: now(),
      refused: 0,
    };
    sockets.add(socket);
    ws.on('pong', () => {
      socket.alive = true;
    });
    ws.on('error', (error) => {
      // ws closes the socket itself (1002, 1009 ...) after an error of the peer's.
      socket.closedBy ??= 'protocol';
      logger?.debug({ err: { message: error.message } }, 'live socket error');
    });
    const closed = server.opened(
      {
        protocol: ws.protocol,
        send: (data) => sendOn(ws, data),
        close: (code, reason) => {
          // graphql-ws's own closes: protocol violations and the init timeout.
          socket.closedBy ??= code === CloseCode.Forbidden ? 'refused' : 'protocol';
          ws.close(code, reason);
        },
        onMessage: (callback) =>
          ws.on('message', (data, isBinary) => {
            // Messages already received on a socket being closed (a burst past the rate) cost nothing more.
            if (socket.closedBy) return;
            if (isBinary) return shut(socket, CloseCode.BadRequest, 'Binary messages are not accepted', 'protocol');
            const text = String(data);
            // The pipeline's message check, before graphql-ws's JSON.parse (1 MiB of `[` would cost it ~1 s).
            const refusal = pipeline.checkMessage(text);
            if (refusal) return shut(socket, CloseCode.BadRequest, refusal.message.slice(0, 120), 'protocol');
            const handle = (message: string) => callback(message).catch((error: unknown) => failedMessage(socket, error));
            if (!socket.wsContext || !fastPath?.take(socket.wsContext, text, handle)) handle(text);
          }),
      },
      { live: socket },
    );
    ws.once('close', (code, reason) => {
      sockets.delete(socket);
      anonymous.delete(socket);
      const left = (perAddress.get(key) ?? 1) - 1;
      if (left > 0) perAddress.set(key, left);
      else perAddress.delete(key);
      if (socket.token) registry.delete(socket);
      if (socket.expiryTimer) clearTimeout(socket.expiryTimer);
      socket.expiryTimer = undefined;
      metrics?.recordLiveSocketClosed(socket.closedBy ?? 'client');
      closed(code, reason.toString()).catch((error: unknown) => logger?.error({ err: error }, 'error while completing live subscriptions'));
    });
  });

  function handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = request.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    if (closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  }

  return {
    attach(httpServer) {
      httpServer.on('upgrade', handleUpgrade);
    },
    handleUpgrade,
    get size() {
      return sockets.size;
    },
    get authenticated() {
      return registry.size;
    },
    recheckAll,
    async close(graceMs = 1000) {
      if (closing) return;
      closing = true;
      unsubscribe();
      unresync();
      if (recheckTimer) clearInterval(recheckTimer);
      if (keepAliveTimer) clearInterval(keepAliveTimer);
      clearInterval(idleTimer);
      const open = [...sockets];
      for (const socket of open) shut(socket, 1001, 'Going away', 'shutdown');
      const gone = Promise.all(open.map((s) => (s.ws.readyState === s.ws.CLOSED ? undefined : new Promise((resolve) => s.ws.once('close', resolve)))));
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([gone.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
      clearTimeout(timer);
      // A peer that does not answer the close frame is cut off.
      if (late) for (const socket of sockets) socket.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * graphql-js's `subscribe` without its mapAsyncIterator: the source stream (the resolver's
 * `subscribe`, after the same argument coercion and errors) mapped by a plain object whose
 * `next` chains one `then` — no async function suspended per waiting subscription (~1.4 KB
 * each). Each event runs `execute` with the event as root value, as graphql-js does.
 */
async function lightSubscribe(args: ExecutionArgs, created?: AsyncIterator<unknown>): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  // `created`: the source the fast path already made for these args before handing them over.
  if (created) return new MappedEvents(args, created);
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream as ExecutionResult;
  return new MappedEvents(args, (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]() as AsyncIterator<unknown>);
}

/** Writes `data` on `ws`; resolves once written (nothing to do on a socket no longer open). */
function sendOn(ws: WebSocket, data: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (ws.readyState !== ws.OPEN) return resolve();
    ws.send(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** A class, not an object of closures: its methods live once on the prototype, not once per subscription. */
class MappedEvents implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly args: ExecutionArgs,
    private readonly source: AsyncIterator<unknown>,
  ) {}
  private toResult(step: IteratorResult<unknown>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> {
    if (step.done) return step;
    const result = execute({ ...this.args, rootValue: step.value });
    return result instanceof Promise ? result.then((value) => ({ value, done: false })) : { value: result, done: false };
  }
  next(): Promise<IteratorResult<ExecutionResult>> {
    return this.source.next().then((step) => this.toResult(step));
  }
  return(): Promise<IteratorResult<ExecutionResult>> {
    return this.source.return ? this.source.return().then((step) => this.toResult(step)) : Promise.resolve({ value: undefined, done: true });
  }
  throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    return this.source.throw ? this.source.throw(error).then((step) => this.toResult(step)) : Promise.reject(error);
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Whether `held` was built for the same token (or both anonymous) as `fresh`: then it is reused. */
function sameToken(held: GraphQLContext | undefined, fresh: GraphQLContext): boolean {
  if (!held || held.auth.kind !== fresh.auth.kind) return false;
  return held.auth.kind === 'anonymous' || (fresh.auth.kind === 'authenticated' && held.auth.token.jti === fresh.auth.token.jti);
}

function stripUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;
}
