/**
 * The event fan-out: revocation events (./revocation-events.ts, from any instance) → the
 * sockets of this process they end.
 *
 * - An event that names a jti or a session closes its sockets with 4403 at once; a user-wide
 *   revocation asks the store which of the user's sockets are revoked (the store knows the
 *   cutoff and the excepted session). Closing a socket stops sending at once and completes its
 *   subscriptions.
 * - Pub/sub is at-most-once: when the event subscription is (again) confirmed live, and every
 *   `recheckIntervalMs`, every socket is checked against the store (lookups sent in one
 *   pipelined write per batch); a socket whose check fails is closed with 1013 (fail closed).
 * - A renewal in flight is told of every revocation first (./connection-renewal.ts), so a
 *   token revoked during its own lookup never becomes a socket's.
 */
import { CloseCode } from 'graphql-ws';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { LiveSocket, Shut } from './live-socket.js';
import type { LiveEvent, LiveEventBus, RevocationEvent } from './revocation-events.js';
import type { SocketRegistry } from './socket-registry.js';

/** Lookups sent per re-check batch (each batch leaves in one write). */
const RECHECK_BATCH = 1000;

/** Options of {@link createEventFanOut}. */
export interface EventFanOutOptions {
  events: LiveEventBus;
  /** What re-checks ask (without an answer cache: a cached "not revoked" would spare a revoked socket). */
  recheckStore: RevocationStore;
  /** The authenticated sockets, by user. */
  registry: SocketRegistry<LiveSocket>;
  shut: Shut;
  /** Told of every revocation before any socket is closed (the renewals in flight). */
  noteRevocation(event: RevocationEvent): void;
  /** ms between full re-checks; 0: none. */
  recheckIntervalMs: number;
  logger?: { warn(object: object, message: string): void; error(object: object, message: string): void; debug(object: object, message: string): void };
}

/** The fan-out of one live endpoint: subscribed from its creation on. */
export interface EventFanOut {
  /** Asks the store about each socket (pipelined per batch); closes the revoked (4403) and the unanswered (1013). */
  recheck(list: LiveSocket[], publishedAt?: number): Promise<void>;
  /** {@link recheck} of every authenticated socket. */
  recheckAll(): Promise<void>;
  /** Unsubscribes and stops the periodic re-check. */
  stop(): void;
}

/** One batch of {@link EventFanOut.recheck}: its lookups leave in one write. */
async function recheckBatch(batch: LiveSocket[], options: EventFanOutOptions, publishedAt?: number): Promise<void> {
  const { shut, logger } = options;
  const answers = await Promise.allSettled(batch.map((s) => options.recheckStore.isRevoked(s.token)));
  let unanswered = 0;
  let firstError: unknown;
  answers.forEach((answer, j) => {
    const socket = batch[j] as LiveSocket;
    if (answer.status === 'rejected') {
      unanswered += 1;
      firstError ??= answer.reason;
      shut(socket, 1013, 'Try again later', 'unavailable');
    } else if (answer.value) {
      shut(socket, CloseCode.Forbidden, 'Forbidden', 'revoked', publishedAt);
    }
  });
  // One line per batch, not per socket: an outage would otherwise log every socket.
  if (unanswered > 0) {
    logger?.warn({ sockets: unanswered, err: { message: (firstError as Error)?.message } }, 'live socket re-check failed: closed with 1013');
  }
}

/** Subscribes to `events` and starts the periodic re-check (unref'd). */
export function createEventFanOut(options: EventFanOutOptions): EventFanOut {
  const { registry, shut, logger } = options;
  const failed = (what: string) => (error: unknown) => logger?.error({ err: error }, what);

  async function recheck(list: LiveSocket[], publishedAt?: number): Promise<void> {
    for (let i = 0; i < list.length; i += RECHECK_BATCH) {
      await recheckBatch(list.slice(i, i + RECHECK_BATCH).filter((s) => !s.closedBy), options, publishedAt);
    }
  }

  function onRevocation(event: RevocationEvent): void {
    options.noteRevocation(event);
    const { sockets: affected, definitive } = registry.affectedBy(event);
    if (affected.length === 0) return;
    if (definitive) {
      for (const socket of affected) shut(socket, CloseCode.Forbidden, 'Forbidden', 'revoked', event.at);
      logger?.debug({ userId: event.userId, scope: event.scope.kind, closed: affected.length }, 'live sockets closed on revocation');
      return;
    }
    recheck(affected, event.at).catch(failed('live re-check failed'));
  }

  const recheckAll = () => recheck(registry.all());
  const unsubscribe = options.events.subscribe((event: LiveEvent) => {
    if (event.type === 'revoked') onRevocation(event);
  });
  const unresync = options.events.onResync(() => {
    recheckAll().catch(failed('live re-check after resync failed'));
  });
  const recheckTimer =
    options.recheckIntervalMs > 0
      ? setInterval(() => {
          recheckAll().catch(failed('periodic live re-check failed'));
        }, options.recheckIntervalMs).unref()
      : undefined;

  return {
    recheck,
    recheckAll,
    stop() {
      unsubscribe();
      unresync();
      if (recheckTimer) clearInterval(recheckTimer);
    },
  };
}
