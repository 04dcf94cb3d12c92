/**
 * Counts a session manager's events into the metrics (session_events_total), without changing
 * what it does: a wrapper, so the manager itself stays free of metrics.
 */
import type { SessionEvent } from '../metric-labels/session-events.js';
import type { SessionManager } from './session-manager.js';

/** The manager with each start, refresh (done or refused) and end counted by `record`. */
export function withSessionMetrics(manager: SessionManager, record: (event: SessionEvent) => void): SessionManager {
  return {
    store: manager.store,
    list: (userId, currentSessionId) => manager.list(userId, currentSessionId),
    inspectRefreshToken: (refreshToken) => manager.inspectRefreshToken(refreshToken),
    async revokeRefreshToken(refreshToken) {
      const revoked = await manager.revokeRefreshToken(refreshToken);
      if (revoked?.ended) record('ended');
      return revoked;
    },
    async start(user, client) {
      const pair = await manager.start(user, client);
      record('started');
      return pair;
    },
    async refresh(refreshToken, client) {
      try {
        const pair = await manager.refresh(refreshToken, client);
        record('refreshed');
        return pair;
      } catch (error) {
        // A refusal is a GraphQL error with a reason; a store failure is not a refusal.
        if ((error as { extensions?: { reason?: unknown } }).extensions?.reason !== undefined) record('refresh_refused');
        throw error;
      }
    },
    async end(userId, sessionId) {
      const ended = await manager.end(userId, sessionId);
      if (ended) record('ended');
      return ended;
    },
    async endAll(userId, options) {
      const count = await manager.endAll(userId, options);
      record('ended');
      return count;
    },
    reauthenticate: (user, sessionId, client) => manager.reauthenticate(user, sessionId, client),
    async renew(user, sessionId, client) {
      const pair = await manager.renew(user, sessionId, client);
      record('refreshed');
      return pair;
    },
  };
}
