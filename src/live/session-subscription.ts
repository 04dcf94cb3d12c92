import { createConnectionRenewalResolvers } from './connection-renewal.js';
import type { Resolvers, SessionEvent } from '../__generated__/resolvers-types.js';
import type { GraphQLContext } from '../context/context.js';
import { authenticatedToken } from '../context/resolver-support.js';
import type { LiveEvent, LiveEventBus, SessionLifecycleEvent } from './revocation-events.js';

/** Options of {@link createSessionEventResolvers}. */
export interface SessionEventResolverOptions {
  events: LiveEventBus;
  /**
   * Events queued for one subscriber that reads slower than they come; past it the
   * subscription ends with an error rather than hold memory without bound. Default 100.
   */
  maxQueued?: number;
}

/**
 * The per-bus fan-out: ONE bus listener per bus (not one per subscription), dispatching a
 * session event to the subscribers of its user only (a Map by userId). Subscriptions are
 * small records; a user without subscribers leaves no entry (see {@link sessionSubscriberCount}).
 */
interface FanOut {
  byUser: Map<string, Set<Subscriber>>;
  unsubscribe: (() => void) | undefined;
  count: number;
}
const fanOuts = new WeakMap<LiveEventBus, FanOut>();

function fanOutOf(events: LiveEventBus): FanOut {
  let fan = fanOuts.get(events);
  if (!fan) {
    fan = { byUser: new Map(), unsubscribe: undefined, count: 0 };
    fanOuts.set(events, fan);
  }
  return fan;
}

/** Subscriptions currently held on `events` (and users with at least one): both 0 once every subscription has ended. */
export function sessionSubscriberCount(events: LiveEventBus): { subscriptions: number; users: number; listening: boolean } {
  const fan = fanOuts.get(events);
  return { subscriptions: fan?.count ?? 0, users: fan?.byUser.size ?? 0, listening: fan?.unsubscribe !== undefined };
}

/** Subscriptions on `events` in push mode (served by the WebSocket fast path): for tests and diagnostics, O(subscriptions). */
export function sessionSubscribersPushed(events: LiveEventBus): number {
  let pushed = 0;
  for (const set of fanOuts.get(events)?.byUser.values() ?? []) for (const s of set) if (s.sink) pushed += 1;
  return pushed;
}

function deliver(subscriber: Subscriber, event: SessionLifecycleEvent): void {
  if (subscriber.done) return;
  // Push mode (./subscription-fast-path.ts): the sink bounds what waits for the client itself.
  if (subscriber.sink) subscriber.sink.push(event);
  else if (subscriber.waiting) {
    const resolve = subscriber.waiting;
    subscriber.waiting = undefined;
    resolve({ value: event, done: false });
  } else if ((subscriber.queue?.length ?? 0) >= subscriber.maxQueued) {
    subscriber.failed = new Error(`More than ${subscriber.maxQueued} session events were waiting for this subscriber: subscription ended`);
    subscriber.end();
  } else (subscriber.queue ??= []).push(event);
}

/** Where a source in push mode hands each event, in order, as it comes (see {@link PushableSource.attach}). */
export interface EventSink<T> {
  push(event: T): void;
  /** The source ended with this error before it was attached (it overflowed while being set up). */
  fail(error: Error): void;
}

/**
 * A subscription source that can hand its events to a sink instead of being pulled: the
 * WebSocket fast path (./subscription-fast-path.ts) then holds no pending promise, no
 * suspended loop and no iterator result per subscription. `return()` still ends it.
 */
export interface PushableSource<T> extends AsyncIterableIterator<T> {
  /** From now on every event goes to `sink` (those queued first, in order); next() is no longer called. */
  attach(sink: EventSink<T>): void;
  /** Ends it: out of the fan-out at once. */
  return(): Promise<IteratorResult<T>>;
}

/** Whether `value` is a source that {@link PushableSource.attach} can switch to push mode. */
export function isPushableSource(value: unknown): value is PushableSource<unknown> {
  return value instanceof Subscriber;
}

/**
 * An async iterator over the session events of one user from the bus, removed from the fan-out
 * when the consumer returns (a client's complete, a closed socket). Bounded: see `maxQueued`.
 * The queue exists only while events wait (an idle subscription holds no array); the record is
 * a class instance, its methods shared on the prototype (no closures per subscription).
 */
class Subscriber implements PushableSource<SessionLifecycleEvent> {
  queue: SessionLifecycleEvent[] | undefined = undefined;
  sink: EventSink<SessionLifecycleEvent> | undefined = undefined;
  waiting: ((result: IteratorResult<SessionLifecycleEvent>) => void) | undefined = undefined;
  failed: Error | undefined = undefined;
  done = false;
  constructor(
    private readonly fan: FanOut,
    private readonly userId: string,
    readonly maxQueued: number,
  ) {}
  end(): void {
    if (this.done) return;
    this.done = true;
    const { fan } = this;
    const users = fan.byUser.get(this.userId);
    if (users?.delete(this)) {
      fan.count -= 1;
      if (users.size === 0) fan.byUser.delete(this.userId);
    }
    // The last subscription gone: the bus listener goes too (nothing is held between uses).
    if (fan.count === 0 && fan.unsubscribe) {
      fan.unsubscribe();
      fan.unsubscribe = undefined;
    }
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }
  attach(sink: EventSink<SessionLifecycleEvent>): void {
    const queued = this.queue;
    this.queue = undefined;
    this.sink = sink;
    for (const event of queued ?? []) sink.push(event);
    if (this.failed) sink.fail(this.failed);
    this.failed = undefined;
  }
  next(): Promise<IteratorResult<SessionLifecycleEvent>> {
    const queued = this.queue?.shift();
    if (this.queue?.length === 0) this.queue = undefined;
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.failed) {
      const error = this.failed;
      this.failed = undefined;
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }
  return(): Promise<IteratorResult<SessionLifecycleEvent>> {
    this.queue = undefined;
    this.sink = undefined;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }
  throw(error: unknown): Promise<IteratorResult<SessionLifecycleEvent>> {
    this.queue = undefined;
    this.end();
    return Promise.reject(error);
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
}

function sessionEventsOf(events: LiveEventBus, userId: string, maxQueued: number): AsyncIterableIterator<SessionLifecycleEvent> {
  const fan = fanOutOf(events);
  const subscriber = new Subscriber(fan, userId, maxQueued);
  let set = fan.byUser.get(userId);
  if (!set) {
    set = new Set();
    fan.byUser.set(userId, set);
  }
  set.add(subscriber);
  fan.count += 1;
  if (!fan.unsubscribe) {
    fan.unsubscribe = events.subscribe((event: LiveEvent) => {
      if (event.type !== 'session') return;
      const subscribers = fan.byUser.get(event.userId);
      if (!subscribers) return;
      // A copy: a subscriber that ends while being delivered to leaves the set.
      for (const s of [...subscribers]) deliver(s, event);
    });
  }
  return subscriber;
}

/**
 * The `sessionEvents` subscription (schema/live.graphql): the caller's sessions being created
 * or ended, from every instance, through the live event bus. `session.current` is true for
 * the session of the socket's token. With it, LIVE_SDL's `renewConnection` (./connection-renewal.ts).
 */
export function createSessionEventResolvers(options: SessionEventResolverOptions): Pick<Resolvers, 'Subscription' | 'Mutation'> {
  const maxQueued = options.maxQueued ?? 100;
  return {
    // LIVE_SDL's other field: renewConnection (./connection-renewal.ts).
    ...createConnectionRenewalResolvers(),
    Subscription: {
      sessionEvents: {
        subscribe(_parent, _args, context) {
          const token = authenticatedToken(context);
          return sessionEventsOf(options.events, token.userId, maxQueued);
        },
        resolve(event: SessionLifecycleEvent, _args: unknown, context: GraphQLContext): SessionEvent {
          const token = authenticatedToken(context);
          const s = event.session as unknown as Omit<SessionEvent['session'], 'current'>;
          return { kind: event.kind, session: { ...s, current: s.id === token.sessionId }, reason: event.reason ?? null };
        },
      },
    },
  };
}
