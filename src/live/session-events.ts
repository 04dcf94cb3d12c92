import { systemClock } from '../auth/token.js';
import { sessionView } from '../sessions/session-manager.js';
import type { SessionRecord, SessionStore } from '../sessions/session-store.js';
import { createRevocationPublisher, type RevocationEventOptions } from './publishing-store.js';
import type { SessionEndReason } from './revocation-events.js';

/** A session as a `SessionEvent` carries it: the GraphQL `Session` without `current` (which depends on the reader). */
export interface SessionEventView {
  readonly id: string;
  readonly createdAt: string;
  readonly lastUsedAt: string;
  readonly expiresAt: string;
  readonly userAgent: string | null;
  readonly ipAddress: string | null;
}

/** The event form of a stored session: the GraphQL view without `current` (each receiver sets its own). */
export function sessionEventView(session: SessionRecord): SessionEventView {
  const { current: _current, ...view } = sessionView(session, false);
  return view;
}

/**
 * The session half of the store-level hook: a {@link SessionStore} that publishes, after each
 * acknowledged write of the store it wraps,
 * - `createSession` → for each session evicted to make room (SESSIONS_MAX_PER_USER): ENDED
 *   (SESSION_LIMIT_EVICTED), then its revocation, as endSession; then session CREATED;
 * - `endSession` → session ENDED, then the session's revocation (its sockets close);
 * - `endAllSessions` → ENDED for each session that was live, then a user-wide revocation
 *   (which sockets survive, a kept session's, is asked of the store by each instance);
 * - `refreshSession` answered `reused` (reuse detection) → ENDED, then the session's revocation.
 *
 * ENDED goes before the revocation, on the same connection, so a socket subscribed to
 * sessionEvents gets "your session ended" before it is closed with 4403.
 *
 * The sessions ended by endSession and endAllSessions are read just before the write (the
 * store deletes them): a session created between that read and the write is ended all the
 * same (its sockets close through the revocation) but gets no ENDED event. A failed read
 * only costs the ENDED events, never the write or the revocation event. Publication
 * failures are logged and counted (see {@link createRevocationPublisher}), never thrown.
 */
export function withSessionEvents(store: SessionStore, options: RevocationEventOptions): SessionStore {
  const { events, logger, onPublishFailure } = options;
  const now = options.now ?? systemClock;
  const revoked = createRevocationPublisher(options);

  async function session(kind: 'CREATED' | 'ENDED', record: SessionRecord, reason?: SessionEndReason): Promise<void> {
    try {
      await events.publish({ type: 'session', kind, userId: record.userId, session: { ...sessionEventView(record) }, ...(reason ? { reason } : {}), at: now() });
    } catch (error) {
      onPublishFailure?.();
      logger?.error({ err: { message: (error as Error).message }, userId: record.userId, kind }, 'session event could not be published');
    }
  }

  async function liveSessions(userId: string): Promise<SessionRecord[]> {
    try {
      return await store.listSessions(userId);
    } catch {
      return [];
    }
  }

  return {
    async createSession(input) {
      const issued = await store.createSession(input);
      for (const evicted of issued.evicted) {
        await session('ENDED', evicted, 'SESSION_LIMIT_EVICTED');
        await revoked(input.userId, { kind: 'session', sessionId: evicted.id });
      }
      await session('CREATED', issued.session);
      return issued;
    },
    async refreshSession(input) {
      const outcome = await store.refreshSession(input);
      if (outcome.kind === 'reused') {
        await session('ENDED', outcome.session, 'REFRESH_TOKEN_REUSED');
        await revoked(input.userId, { kind: 'session', sessionId: input.sessionId });
      }
      return outcome;
    },
    reissue: (input) => store.reissue(input),
    reauthenticate: (input) => store.reauthenticate(input),
    listSessions: (userId) => store.listSessions(userId),
    inspectRefreshToken: (input) => store.inspectRefreshToken(input),
    async endSession(userId, sessionId) {
      const before = (await liveSessions(userId)).find((s) => s.id === sessionId);
      const ended = await store.endSession(userId, sessionId);
      if (ended) {
        if (before) await session('ENDED', before, 'CANCELLED');
        await revoked(userId, { kind: 'session', sessionId });
      }
      return ended;
    },
    async endAllSessions(userId, endOptions) {
      const before = await liveSessions(userId);
      const count = await store.endAllSessions(userId, endOptions);
      // Published together (one pipeline): thousands of sessions must not mean thousands of round trips.
      await Promise.all(before.filter((s) => s.id !== endOptions?.exceptSessionId).map((s) => session('ENDED', s, 'ALL_SESSIONS_ENDED')));
      await revoked(userId, { kind: 'user' });
      return count;
    },
  };
}
