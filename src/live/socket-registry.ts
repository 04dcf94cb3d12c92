import type { VerifiedToken } from '../auth/token.js';
import type { RevocationEvent } from './revocation-events.js';

// The close reasons are metric labels: declared beside the metrics (a floor below), re-exported here.
export { LIVE_CLOSE_REASONS, type LiveCloseReason } from '../metrics.js';

/** What the registry knows of one authenticated socket. */
export interface RegisteredSocket {
  /** The token the socket was opened with (its `sid` claim, when the issuer writes one, names the session). */
  readonly token: VerifiedToken;
}

/** The session a token belongs to: its `sid` claim when it has one. */
export function sessionOf(token: VerifiedToken): string | undefined {
  return token.sessionId;
}

/**
 * The authenticated sockets of this process, indexed by user: an event names a user, and a
 * user has a handful of sockets, so "which of them does this event close" is a scan of that
 * handful (by jti, by session) rather than three indexes to keep in step.
 */
export class SocketRegistry<S extends RegisteredSocket> {
  private readonly byUser = new Map<string, Set<S>>();
  private count = 0;

  /** Authenticated sockets registered now. */
  get size(): number {
    return this.count;
  }

  add(socket: S): void {
    let set = this.byUser.get(socket.token.userId);
    if (!set) {
      set = new Set();
      this.byUser.set(socket.token.userId, set);
    }
    if (!set.has(socket)) {
      set.add(socket);
      this.count += 1;
    }
  }

  delete(socket: S): void {
    const set = this.byUser.get(socket.token.userId);
    if (!set?.delete(socket)) return;
    this.count -= 1;
    if (set.size === 0) this.byUser.delete(socket.token.userId);
  }

  /** The user's sockets (a copy: closing them edits the registry). */
  ofUser(userId: string): S[] {
    const set = this.byUser.get(userId);
    return set ? [...set] : [];
  }

  /**
   * The sockets an event concerns, and whether the event alone settles their fate:
   * a revoked jti or an ended session closes them outright; a user-wide revocation must be
   * asked of the store for each (a cutoff or an excepted session spares some tokens).
   */
  affectedBy(event: RevocationEvent): { sockets: S[]; definitive: boolean } {
    const sockets = this.ofUser(event.userId);
    switch (event.scope.kind) {
      case 'token': {
        const { jti } = event.scope;
        return { sockets: sockets.filter((s) => s.token.jti === jti), definitive: true };
      }
      case 'session': {
        const { sessionId } = event.scope;
        return { sockets: sockets.filter((s) => sessionOf(s.token) === sessionId), definitive: true };
      }
      default:
        return { sockets, definitive: false };
    }
  }

  /** Every registered socket (a copy). */
  all(): S[] {
    const out: S[] = [];
    for (const set of this.byUser.values()) for (const s of set) out.push(s);
    return out;
  }
}
