import type { TokenRef } from '../auth/token.js';
import { systemClock, type Clock } from '../auth/token.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { EventBusLogger, LiveEventBus, RevocationScope } from './revocation-events.js';

/** Options of {@link withRevocationEvents} and {@link createRevocationPublisher}. */
export interface RevocationEventOptions {
  events: LiveEventBus;
  logger?: EventBusLogger;
  now?: Clock;
  /** Told of every event that could not be published (metrics). */
  onPublishFailure?: () => void;
}

/**
 * Publishes one revocation event. For code that revokes without going through a wrapped
 * store (an operator tool writing with its own store, a custom sign-out): call it after
 * the write was acknowledged, never before (an instance that re-checks must find the
 * revocation in the store). Never throws: the revocation is already in force for every
 * request; a failed publish is logged and counted, and the sockets it would have closed
 * are closed by the next periodic re-check or at their token's expiry.
 */
export type RevocationPublisher = (userId: string, scope: RevocationScope) => Promise<void>;

/** Builds a {@link RevocationPublisher} on a bus. */
export function createRevocationPublisher(options: RevocationEventOptions): RevocationPublisher {
  const { events, logger, onPublishFailure } = options;
  const now = options.now ?? systemClock;
  return async (userId, scope) => {
    try {
      await events.publish({ type: 'revoked', userId, scope, at: now() });
    } catch (error) {
      onPublishFailure?.();
      logger?.error(
        { err: { message: (error as Error).message }, userId, scope: scope.kind },
        'revocation written but its live event could not be published: open sockets of this user are closed at the next re-check',
      );
    }
  };
}

/**
 * The store-level hook: a {@link RevocationStore} that publishes a revocation event after
 * every acknowledged revocation of the store it wraps: `revoke` → the token's jti,
 * `revokeAllForUser` → the whole user (the store decides which tokens survive). Reads and
 * failed writes publish nothing. Every path that revokes through it (resolvers, operator
 * actions, a CLI built on the same store) closes the live sockets concerned on every
 * instance, without knowing about sockets.
 */
export function withRevocationEvents(store: RevocationStore, options: RevocationEventOptions): RevocationStore {
  const publish = createRevocationPublisher(options);
  return {
    recordIssued: (token) => store.recordIssued(token),
    // The read path: the inner store's own method, no layer of this wrapper.
    isRevoked: store.isRevoked.bind(store),
    lookupBoundMs: store.lookupBoundMs,
    batchesLookups: store.batchesLookups,
    async revoke(token: TokenRef) {
      await store.revoke(token);
      await publish(token.userId, { kind: 'token', jti: token.jti });
    },
    async revokeAllForUser(userId: string, current?: TokenRef) {
      const count = await store.revokeAllForUser(userId, current);
      await publish(userId, { kind: 'user' });
      return count;
    },
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
