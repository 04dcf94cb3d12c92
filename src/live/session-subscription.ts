import { createConnectionRenewalResolvers } from './connection-renewal.js';
import type { Resolvers, SessionEvent } from '../__generated__/resolvers-types.js';
import type { GraphQLContext } from '../context/context.js';
import { authenticatedToken } from '../resolvers/resolver-support.js';
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
 * An async iterator over the session events of one user from the bus, unsubscribed when the
 * consumer returns (a client's complete, a closed socket). Bounded: see `maxQueued`.
 */
function sessionEventsOf(events: LiveEventBus, userId: string, maxQueued: number): AsyncGenerator<SessionLifecycleEvent> {
  const queue: SessionLifecycleEvent[] = [];
  let waiting: ((result: IteratorResult<SessionLifecycleEvent>) => void) | undefined;
  let failed: Error | undefined;
  let done = false;
  const unsubscribe = events.subscribe((event: LiveEvent) => {
    if (done || event.type !== 'session' || event.userId !== userId) return;
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: event, done: false });
    } else if (queue.length >= maxQueued) {
      failed = new Error(`More than ${maxQueued} session events were waiting for this subscriber: subscription ended`);
      finish();
    } else queue.push(event);
  });
  function finish(): void {
    if (done) return;
    done = true;
    unsubscribe();
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }
  const iterator: AsyncGenerator<SessionLifecycleEvent> = {
    async next() {
      const queued = queue.shift();
      if (queued) return { value: queued, done: false };
      if (failed) {
        const error = failed;
        failed = undefined;
        throw error;
      }
      if (done) return { value: undefined, done: true };
      return new Promise((resolve) => (waiting = resolve));
    },
    async return() {
      queue.length = 0;
      finish();
      return { value: undefined, done: true };
    },
    async throw(error: unknown) {
      queue.length = 0;
      finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
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
