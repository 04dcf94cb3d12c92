/**
 * Revocation events: one small message per acknowledged revocation, from the instance that
 * wrote it to every instance, so each can close the live sockets it names.
 *
 * Guarantees, designed before the code:
 * - **Order with the store.** An event is published only after the store acknowledged the
 *   write (see {@link withRevocationEvents}). So an instance that reads the store after it
 *   missed an event sees the revocation anyway.
 * - **Lost messages.** Redis pub/sub is at-most-once: a subscriber that is disconnected
 *   misses what was published meanwhile. The bus therefore tells its listeners
 *   (`onResync`) each time its subscription is (again) confirmed live, and the listener
 *   re-checks every open socket against the store. "Confirmed live" means a probe message
 *   published after the (re)subscription came back through it: from then on every event is
 *   delivered, and every revocation written before it is in the store the re-check reads.
 *   A socket therefore outlives a revocation by at most the subscriber's reconnection (plus
 *   one re-check, a pipelined lookup per socket).
 * - **A half-open subscriber connection** (the Redis host gone without a FIN) raises no
 *   error on a connection that only listens; the periodic re-check of the live sockets
 *   (WS_RECHECK_INTERVAL_SECONDS) bounds that case.
 * - **Topology.** One channel, `<prefix>:v1:live`: PUBLISH/SUBSCRIBE on one Redis or
 *   Sentinel; sharded pub/sub (SPUBLISH/SSUBSCRIBE) on a Cluster, so a message travels to
 *   the one shard that owns the channel instead of being broadcast over the cluster bus to
 *   every node. ioredis 5 keeps one subscriber connection per master (`shardedSubscribers:
 *   true`) and re-subscribes after a reconnection or a slot move, then emits
 *   `subscribersReady`.
 * - **Clocks.** `at` is the publisher's wall clock (ms): the fan-out delay measured from it
 *   includes the skew between hosts.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../revocation/redis-store.js';

/** What a revocation made invalid. `user`: the store alone knows which tokens survive (a per-user cutoff, an excepted session). */
export type RevocationScope =
  | { readonly kind: 'token'; readonly jti: string }
  | { readonly kind: 'session'; readonly sessionId: string }
  | { readonly kind: 'user' };

/** One acknowledged revocation. */
export interface RevocationEvent {
  readonly type: 'revoked';
  readonly userId: string;
  readonly scope: RevocationScope;
  /** When it was published, ms since the epoch (publisher's clock): for the fan-out delay. */
  readonly at: number;
}

/** A session of a user started or ended (the `sessionEvents` subscription). */
export interface SessionLifecycleEvent {
  readonly type: 'session';
  readonly kind: 'CREATED' | 'ENDED';
  readonly userId: string;
  /** The session as the API shows it (without `current`, which depends on the reader). */
  readonly session: Readonly<Record<string, unknown>> & { readonly id: string };
  /** ENDED: why (the GraphQL SessionEndReason). */
  readonly reason?: SessionEndReason | undefined;
  readonly at: number;
}

/** Why a session ended (the GraphQL `SessionEndReason`). */
export type SessionEndReason = 'CANCELLED' | 'ALL_SESSIONS_ENDED' | 'REFRESH_TOKEN_REUSED' | 'SESSION_LIMIT_EVICTED';
const END_REASONS: readonly string[] = ['CANCELLED', 'ALL_SESSIONS_ENDED', 'REFRESH_TOKEN_REUSED', 'SESSION_LIMIT_EVICTED'];

/** Everything that travels on the live channel. */
export type LiveEvent = RevocationEvent | SessionLifecycleEvent;

/** Fan-out of {@link LiveEvent}s to every instance. */
export interface LiveEventBus {
  /** Sends an event to every instance, this one included. Rejects if it could not be sent. */
  publish(event: LiveEvent): Promise<void>;
  /** Calls `listener` with every event received. Returns the unsubscribe function. */
  subscribe(listener: (event: LiveEvent) => void): () => void;
  /**
   * Calls `listener` each time the subscription is confirmed live after being down or new:
   * events may have been missed before, so re-check against the store.
   */
  onResync(listener: () => void): () => void;
  /** True while the subscription is confirmed live. */
  readonly live: boolean;
  /** Stops listening. Does not close the Redis clients it was given. */
  close(): Promise<void>;
}

const MESSAGE_VERSION = 1;

/** The wire form: JSON with a version, so an older instance ignores what it does not know. */
export function encodeLiveEvent(event: LiveEvent): string {
  return JSON.stringify({ v: MESSAGE_VERSION, ...event });
}

/** Parses a message of the channel; undefined for anything malformed or of another version. */
export function decodeLiveEvent(message: string): LiveEvent | { type: 'probe'; id: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (m.v !== MESSAGE_VERSION) return undefined;
  if (m.type === 'probe' && typeof m.id === 'string') return { type: 'probe', id: m.id };
  if (typeof m.userId !== 'string' || typeof m.at !== 'number') return undefined;
  if (m.type === 'revoked') {
    const scope = m.scope as Record<string, unknown> | undefined;
    if (scope?.kind === 'token' && typeof scope.jti === 'string') return { type: 'revoked', userId: m.userId, scope: { kind: 'token', jti: scope.jti }, at: m.at };
    if (scope?.kind === 'session' && typeof scope.sessionId === 'string') {
      return { type: 'revoked', userId: m.userId, scope: { kind: 'session', sessionId: scope.sessionId }, at: m.at };
    }
    if (scope?.kind === 'user') return { type: 'revoked', userId: m.userId, scope: { kind: 'user' }, at: m.at };
    return undefined;
  }
  if (m.type === 'session' && (m.kind === 'CREATED' || m.kind === 'ENDED')) {
    const session = m.session as Record<string, unknown> | undefined;
    if (typeof session !== 'object' || session === null || typeof session.id !== 'string') return undefined;
    const reason = typeof m.reason === 'string' && END_REASONS.includes(m.reason) ? (m.reason as SessionEndReason) : undefined;
    return { type: 'session', kind: m.kind, userId: m.userId, session: session as SessionLifecycleEvent['session'], ...(reason ? { reason } : {}), at: m.at };
  }
  return undefined;
}

/**
 * The in-process bus, for the embedded (memory) store: one process, nothing to lose. Listeners
 * are called on the next turn, as a Redis delivery would be, never inside the publisher's call.
 */
export function createMemoryEventBus(): LiveEventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let closed = false;
  return {
    live: true,
    async publish(event) {
      if (closed) return;
      setImmediate(() => emitter.emit('event', event));
    },
    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
    onResync(listener) {
      // Never down: nothing to re-check.
      void listener;
      return () => {};
    },
    async close() {
      closed = true;
      emitter.removeAllListeners();
    },
  };
}

/** What the Redis bus logs. */
export interface EventBusLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Options of {@link createRedisEventBus}. */
export interface RedisEventBusOptions {
  /** Publishes (PUBLISH, or SPUBLISH on a Cluster): any connected client, e.g. the store's. */
  publisher: RedisClient;
  /**
   * A connection of its own that only listens (a subscribed connection can send nothing
   * else). On a Cluster, created with `shardedSubscribers: true`
   * (createRedisClient's option of that name). Not closed by close().
   */
  subscriber: RedisClient;
  /** Key prefix, as the store's. Default 'gr': the channel is `gr:v1:live`. */
  keyPrefix?: string;
  logger?: EventBusLogger;
  /** How long a probe may take to come back before another is sent, ms. Default 1000. */
  probeTimeoutMs?: number;
}

function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** The channel of the live events under `prefix`. */
export function liveChannel(prefix = 'gr'): string {
  return `${prefix}:v1:live`;
}

/**
 * The bus on Redis pub/sub (sharded on a Cluster). See the module comment for what it
 * guarantees on a lost message.
 */
export function createRedisEventBus(options: RedisEventBusOptions): LiveEventBus {
  const { publisher, subscriber, logger } = options;
  const channel = liveChannel(options.keyPrefix);
  const sharded = isCluster(subscriber);
  if (isCluster(publisher) !== sharded) throw new Error('createRedisEventBus: publisher and subscriber must both be Cluster clients, or neither');
  if (sharded && !(subscriber as Cluster).options.shardedSubscribers) {
    throw new Error('createRedisEventBus: a Cluster subscriber needs shardedSubscribers: true (createRedisClient({ ..., shardedSubscribers: true }))');
  }
  const probeTimeoutMs = options.probeTimeoutMs ?? 1000;
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let closed = false;
  let live = false;
  let subscribed = false;
  /** Bumped at every (re)connection: a probe of an older one is stale. */
  let generation = 0;
  const pendingProbes = new Map<string, () => void>();

  const send = (message: string): Promise<unknown> =>
    sharded ? (publisher as Cluster).spublish(channel, message) : (publisher as Redis).publish(channel, message);

  const onMessage = (received: string, message: string) => {
    if (received !== channel) return;
    const event = decodeLiveEvent(message);
    if (!event) return;
    if (event.type === 'probe') {
      pendingProbes.get(event.id)?.();
      return;
    }
    emitter.emit('event', event);
  };

  /** Probes until one comes back through the subscription, then reports a resync. */
  async function confirm(): Promise<void> {
    const mine = ++generation;
    live = false;
    while (!closed && mine === generation) {
      const id = randomUUID();
      const arrived = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), probeTimeoutMs);
        pendingProbes.set(id, () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      try {
        await send(JSON.stringify({ v: MESSAGE_VERSION, type: 'probe', id }));
      } catch {
        // The publisher is down too: the probe's timeout paces the next try.
      }
      const ok = await arrived;
      pendingProbes.delete(id);
      if (ok && !closed && mine === generation) {
        live = true;
        logger?.info({ channel }, 'live events: subscription confirmed; re-checking open sockets');
        emitter.emit('resync');
        return;
      }
    }
  }

  const subscribeOnce = async () => {
    if (subscribed || closed) return;
    try {
      if (sharded) await (subscriber as Cluster).ssubscribe(channel);
      else await (subscriber as Redis).subscribe(channel);
      subscribed = true;
      void confirm();
    } catch (error) {
      logger?.warn({ err: { message: (error as Error).message } }, 'live events: subscribe failed; retrying at the next connection');
    }
  };

  const onReady = () => {
    if (!subscribed) void subscribeOnce();
    // A single connection re-subscribes by itself (ioredis autoResubscribe) as it gets ready.
    else if (!sharded) void confirm();
  };
  // A Cluster's sharded subscribers are re-created node by node (a killed connection, a slot move).
  const onSubscribersReady = () => {
    if (subscribed) void confirm();
  };
  const onDown = () => {
    if (live) logger?.warn({ channel }, 'live events: subscriber connection lost; open sockets are re-checked once it is back');
    live = false;
    generation += 1;
  };

  // Every listener this bus adds to the subscriber, so close() takes off exactly these.
  type Listener = readonly [string, (...args: never[]) => void];
  const listeners: Listener[] = [
    [sharded ? 'smessage' : 'message', onMessage],
    ['ready', onReady],
    ['close', onDown],
    ...(sharded ? ([['subscribersReady', onSubscribersReady], ['-node', onDown]] as const) : []),
  ];
  for (const [event, listener] of listeners) subscriber.on(event, listener as (...args: unknown[]) => void);
  if (subscriber.status === 'ready') onReady();

  return {
    get live() {
      return live;
    },
    async publish(event) {
      await send(encodeLiveEvent(event));
    },
    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
    onResync(listener) {
      emitter.on('resync', listener);
      return () => emitter.off('resync', listener);
    },
    async close() {
      closed = true;
      live = false;
      for (const [event, listener] of listeners) subscriber.off(event, listener as (...args: unknown[]) => void);
      for (const resolve of pendingProbes.values()) resolve();
      pendingProbes.clear();
      emitter.removeAllListeners();
    },
  };
}

/**
 * A bus that only publishes, for a process that revokes but serves no socket (an operator
 * CLI): wrap its stores with withRevocationEvents / withSessionEvents on this bus and the API
 * instances close the sockets concerned. Nothing is ever delivered to its own listeners.
 */
export function createRedisEventPublisher(options: { publisher: RedisClient; keyPrefix?: string }): LiveEventBus {
  const { publisher } = options;
  const channel = liveChannel(options.keyPrefix);
  return {
    live: false,
    async publish(event) {
      const message = encodeLiveEvent(event);
      if (isCluster(publisher)) await publisher.spublish(channel, message);
      else await (publisher as Redis).publish(channel, message);
    },
    subscribe: () => () => {},
    onResync: () => () => {},
    async close() {},
  };
}
