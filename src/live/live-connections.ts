/**
 * GraphQL over WebSocket (`graphql-transport-ws`, the graphql-ws package on ws), on the
 * HTTP server's port and path, with sockets that end when their token is revoked. This module
 * is the composition, and nothing else; each part says its own guarantee:
 *
 * - ./ws-adapter.ts: the transport (upgrades, the socket's framing handed to graphql-ws's
 *   core server, close codes, keep-alive, shutdown), as graphql-ws's `use/ws.ts`;
 * - ./socket-guard.ts: the per-socket guard (sockets per process, per address and anonymous,
 *   the idle anonymous, the operation rate and RATE_LIMITED/4429, the message checks);
 * - ./socket-auth.ts: who a socket is, through the request pipeline's context builder at
 *   connection_init and at every operation; token expiry; renewConnection;
 * - ./event-fan-out.ts: revocation events and re-checks → the sockets they close (4403);
 * - ./operation-hooks.ts: graphql-ws's hooks over the request pipeline (the HTTP path's
 *   parse, validation, variables, masking), which the subscription fast path
 *   (./subscription-fast-path.ts: `sessionEvents`, one small record each) serves through too.
 *
 * Nothing here builds its own context or limits: they come from the request pipeline the
 * HTTP server uses (`pipeline`), or, for a host that gives only its rules, from one the
 * pipeline module builds over them (src/pipeline/pipeline-from-rules.ts).
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GraphQLFormattedError, GraphQLSchema, ParseOptions, ValidationRule } from 'graphql';
import { makeServer } from 'graphql-ws';
import { systemClock, type Clock } from '../auth/token.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { AuthOutcome } from '../context/context-builder.js';
import type { LiveCloseReason, RenewalOutcome } from '../metrics.js';
import { createPipelineFromRules } from '../pipeline/pipeline-from-rules.js';
import type { RequestPipeline } from '../pipeline/request-pipeline.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { createEventFanOut } from './event-fan-out.js';
import { lightSubscribe } from './light-subscribe.js';
import { resolveLimits, type LiveLimits } from './live-limits.js';
import { createShut, sendOn, type Extra, type LiveSocket, type LiveWsContext } from './live-socket.js';
import { createOperationHooks, type OperationHooks } from './operation-hooks.js';
import type { LiveEventBus } from './revocation-events.js';
import { createSocketAuth } from './socket-auth.js';
import { createSocketGuard } from './socket-guard.js';
import { SocketRegistry } from './socket-registry.js';
import { createSubscriptionFastPath } from './subscription-fast-path.js';
import { createWsAdapter, failedMessage } from './ws-adapter.js';

export type { LiveLimits } from './live-limits.js';

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

/**
 * graphql-ws's core server over the hooks, with the subscription fast path
 * (./subscription-fast-path.ts) hooked up: the same hooks, ~1 record per subscription.
 */
function coreServer(schema: GraphQLSchema, hooks: OperationHooks, connectionInitTimeoutMs: number, options: LiveConnectionsOptions) {
  const fastPath = options.subscriptionFastPath === false ? undefined : createSubscriptionFastPath<Extra>({
    schema,
    hooks,
    send: (ctx, data) => sendOn(ctx.extra.live.ws, data),
    onInternalError: (ctx, error) => failedMessage(ctx.extra.live, error, options.logger),
  });
  const server = makeServer<Record<string, unknown>, Extra>({
    schema,
    subscribe: (args) => lightSubscribe(args, fastPath?.sourceFor(args)),
    connectionInitWaitTimeout: connectionInitTimeoutMs,
    ...hooks,
    onSubscribe: (ctx, id, payload) => fastPath?.handedOver(ctx, id) ?? hooks.onSubscribe(ctx, id, payload),
  });
  // The fast path also takes the messages it serves before graphql-ws reads them (the adapter's takeMessage).
  const takeMessage = fastPath ? (ctx: LiveWsContext, text: string, handle: (message: string) => void) => fastPath.take(ctx, text, handle) : undefined;
  return { server, takeMessage };
}

/**
 * Builds the live endpoint. Throws at once on bad limits. See the module comment for the
 * guarantee; docs/live.md for the client's side.
 */
export function createLiveConnections(options: LiveConnectionsOptions): LiveConnections {
  const limits = resolveLimits(options.limits ?? {});
  const { schema, logger, metrics } = options;
  const now = options.now ?? systemClock;
  // The HTTP server's pipeline when given (createServer gives it): one place for every check.
  const pipeline = options.pipeline ?? createPipelineFromRules(options);
  const shut = createShut(now, metrics ? (seconds) => metrics.observeLiveFanOutDelay(seconds) : undefined);
  const registry = new SocketRegistry<LiveSocket>();
  const guard = createSocketGuard({ limits, pipeline, shut, now });
  const auth = createSocketAuth({
    buildContext: pipeline.buildContext,
    verifier: options.verifier,
    registry,
    guard,
    shut,
    // Only called once a renewal is applied: long after fanOut below exists.
    recheck: (socket) => fanOut.recheck([socket]).catch((error: unknown) => logger?.error({ err: error }, 'live re-check after renewal failed')),
    clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
    now,
    ...(metrics?.recordLiveRenewal ? { onRenewal: (outcome: RenewalOutcome) => metrics.recordLiveRenewal?.(outcome) } : {}),
    ...(logger ? { logger } : {}),
  });
  const fanOut = createEventFanOut({
    events: options.events,
    recheckStore: options.recheckStore ?? options.revocations,
    registry,
    shut,
    noteRevocation: (event) => auth.renewal.noteRevocation(event),
    recheckIntervalMs: limits.recheckIntervalMs,
    ...(logger ? { logger } : {}),
  });
  const hooks = createOperationHooks({ schema, pipeline, guard, auth, formatError: options.formatError });
  const { server, takeMessage } = coreServer(schema, hooks, limits.connectionInitTimeoutMs, options);
  const { maxPayloadBytes, keepAliveMs, maxOperationsPerSecond } = limits;
  const adapter = createWsAdapter({
    server, guard, shut, takeMessage, metrics, logger, now, maxPayloadBytes, keepAliveMs, maxOperationsPerSecond,
    path: options.path ?? '/graphql',
    clientAddress: options.clientAddress,
    onClosed: (socket) => auth.release(socket),
  });

  return {
    attach: adapter.attach,
    handleUpgrade: adapter.handleUpgrade,
    get size() {
      return guard.sockets.size;
    },
    get authenticated() {
      return registry.size;
    },
    recheckAll: fanOut.recheckAll,
    async close(graceMs = 1000) {
      if (adapter.closing) return;
      fanOut.stop();
      guard.stop();
      await adapter.close(graceMs);
    },
  };
}
