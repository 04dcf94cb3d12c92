/**
 * The sessions module's entry point: token pairs for a {@link SessionStore}. It signs
 * access tokens only after the store recorded them (with the store's time as iat_ms, see
 * revocation-markers.ts), and never sees a refresh token again after handing it out: the
 * store gets hashes, and the successor sealed for the grace rule (refresh-token.ts).
 */
import { randomTokenId, type TokenIssuer } from '../auth/token-issuer.js';
import { accountDisabledError, refreshTokenError } from '../errors.js';
import type { UserRecord } from '../users/user-store.js';
import {
  hashRefreshToken,
  newRefreshToken,
  newSessionId,
  openSuccessor,
  parseRefreshToken,
  sealSuccessor,
} from './refresh-token.js';
import type { CurrentToken, IssuedSession, SessionClient, SessionRecord, SessionStore } from './session-store.js';

/** A session as the API shows it (the GraphQL `Session`). */
export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string | null;
  ipAddress: string | null;
  current: boolean;
}

/** A fresh pair (the GraphQL `AuthPayload`). */
export interface SessionPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
  session: SessionView;
  user: { id: string; username: string };
}

/** A fresh access token of the same session (reauthenticate): no refresh token, which stays as it was. */
export interface FreshAccessToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresAt: string;
  /** When the password was checked (the token's auth_time), ISO-8601. */
  authTime: string;
  session: SessionView;
}

/** Options of {@link createSessionManager}. */
export interface SessionManagerOptions {
  issuer: TokenIssuer;
  store: SessionStore;
  /** Told when sessions of a user ended (to drop cached "not revoked" answers of this instance). */
  onSessionsEnded?: (userId: string) => void;
  /**
   * The user records, read on each refresh: a disabled account is refused with ACCOUNT_DISABLED
   * (before the refresh token is even looked at), and the refreshed access token carries the
   * user's scopes of now. Unset: refreshed tokens carry no scope.
   */
  users?: { findById(id: string): Promise<Pick<UserRecord, 'scopes' | 'disabled'> | undefined> };
  /**
   * Called before a session write that hands out a token (start, refresh, renew): throws
   * StoreUnavailableError while no token may be issued (the safeguards: this host's clock
   * beyond MAX_CLOCK_SKEW from Redis').
   */
  beforeIssue?: () => void;
  /**
   * The earliest iat (ms) a new token may carry: the data-loss cutoff of the safeguards, so a
   * token issued just after a loss is not refused by it. Default: none.
   */
  issuedAtFloorMs?: () => number;
}

/** Whom a pair is for: `scopes` go into the access token's scope claim. */
export interface SessionUser {
  id: string;
  username: string;
  scopes?: readonly string[] | undefined;
}

/** See the module comment. Store failures reject with StoreUnavailableError. */
export interface SessionManager {
  readonly store: SessionStore;
  /** signUp, signIn: a new session and its first pair. */
  start(user: SessionUser, client: SessionClient): Promise<SessionPair>;
  /** refreshSession: throws the GraphQL error with REFRESH_TOKEN_REUSED | INVALID | EXPIRED. */
  refresh(refreshToken: string, client: SessionClient): Promise<SessionPair>;
  /** The user's live sessions, newest first; `current` marks the one of `currentSessionId`. */
  list(userId: string, currentSessionId?: string): Promise<SessionView[]>;
  end(userId: string, sessionId: string): Promise<boolean>;
  endAll(userId: string, options: { current?: CurrentToken; exceptSessionId?: string | undefined }): Promise<number>;
  /**
   * A fresh pair for the session (changePassword), or a new session if it is no longer live
   * (or `sessionId` is undefined).
   */
  renew(user: SessionUser, sessionId: string | undefined, client: SessionClient): Promise<SessionPair>;
  /**
   * reauthenticate (the caller checked the password): a fresh access token for the session,
   * whose auth_time is now; undefined when the session is no longer live.
   */
  reauthenticate(user: SessionUser, sessionId: string, client: SessionClient): Promise<FreshAccessToken | undefined>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The GraphQL view of a stored session. */
export function sessionView(session: SessionRecord, current: boolean): SessionView {
  return {
    id: session.id,
    createdAt: iso(session.createdAt),
    lastUsedAt: iso(session.lastUsedAt),
    expiresAt: iso(session.expiresAt),
    userAgent: session.userAgent ?? null,
    ipAddress: session.ipAddress ?? null,
    current,
  };
}

/** Builds a {@link SessionManager}. */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const { issuer, store, onSessionsEnded, users, beforeIssue, issuedAtFloorMs } = options;

  function sign(user: SessionUser, issued: IssuedSession, jti: string) {
    return issuer.issue(user, {
      sessionId: issued.session.id,
      issuedAtMs: Math.max(issued.issuedAtMs, issuedAtFloorMs?.() ?? 0),
      jti,
      // The session's, not now: a refreshed token proves no new password check.
      authTimeMs: issued.session.authTime,
    });
  }

  function pair(user: SessionUser, issued: IssuedSession, jti: string, refreshToken: string): SessionPair {
    const token = sign(user, issued, jti);
    return {
      accessToken: token.token,
      tokenType: 'Bearer',
      expiresAt: iso(token.expiresAt * 1000),
      refreshToken,
      refreshTokenExpiresAt: iso(issued.session.expiresAt),
      session: sessionView(issued.session, true),
      user: { id: user.id, username: user.username },
    };
  }

  async function start(user: SessionUser, client: SessionClient): Promise<SessionPair> {
    beforeIssue?.();
    const sessionId = newSessionId();
    const refreshToken = newRefreshToken(user.id, sessionId);
    const jti = randomTokenId();
    const issued = await store.createSession({
      userId: user.id,
      username: user.username,
      sessionId,
      refreshTokenHash: hashRefreshToken(refreshToken),
      accessToken: { jti },
      client,
    });
    return pair(user, issued, jti, refreshToken);
  }

  return {
    store,
    start,

    async refresh(refreshToken, client) {
      beforeIssue?.();
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) throw refreshTokenError('REFRESH_TOKEN_INVALID');
      // Read before the store call: a change made after it is followed by the operator's
      // end-all, which ends this session or refuses the token it is about to get.
      const account = users ? await users.findById(parsed.userId) : undefined;
      if (account?.disabled) throw accountDisabledError();
      const scopes = account?.scopes;
      const successor = newRefreshToken(parsed.userId, parsed.sessionId);
      const jti = randomTokenId();
      const outcome = await store.refreshSession({
        ...parsed,
        presentedHash: hashRefreshToken(refreshToken),
        successorHash: hashRefreshToken(successor),
        successorSealed: sealSuccessor(refreshToken, successor),
        accessToken: { jti },
        client,
      });
      switch (outcome.kind) {
        case 'rotated':
          return pair({ id: parsed.userId, username: outcome.session.username, scopes }, outcome, jti, successor);
        case 'grace': {
          // The session's current token, sealed by the rotation that replaced this one.
          const current = openSuccessor(refreshToken, outcome.successorSealed);
          if (current === undefined) throw refreshTokenError('REFRESH_TOKEN_INVALID');
          return pair({ id: parsed.userId, username: outcome.session.username, scopes }, outcome, jti, current);
        }
        case 'reused':
          onSessionsEnded?.(parsed.userId);
          throw refreshTokenError('REFRESH_TOKEN_REUSED');
        case 'expired':
          throw refreshTokenError('REFRESH_TOKEN_EXPIRED');
        default:
          throw refreshTokenError('REFRESH_TOKEN_INVALID');
      }
    },

    async list(userId, currentSessionId) {
      const sessions = await store.listSessions(userId);
      return sessions.map((s) => sessionView(s, s.id === currentSessionId));
    },

    async end(userId, sessionId) {
      const ended = await store.endSession(userId, sessionId);
      if (ended) onSessionsEnded?.(userId);
      return ended;
    },

    async endAll(userId, { current, exceptSessionId }) {
      const count = await store.endAllSessions(userId, { current, exceptSessionId });
      onSessionsEnded?.(userId);
      return count;
    },

    async renew(user, sessionId, client) {
      beforeIssue?.();
      if (sessionId !== undefined) {
        const refreshToken = newRefreshToken(user.id, sessionId);
        const jti = randomTokenId();
        const issued = await store.reissue({
          userId: user.id,
          sessionId,
          refreshTokenHash: hashRefreshToken(refreshToken),
          accessToken: { jti },
          client,
        });
        if (issued) return pair(user, issued, jti, refreshToken);
      }
      return start(user, client);
    },

    async reauthenticate(user, sessionId, client) {
      beforeIssue?.();
      const jti = randomTokenId();
      const issued = await store.reauthenticate({ userId: user.id, sessionId, accessToken: { jti }, client });
      if (!issued) return undefined;
      const token = sign(user, issued, jti);
      return {
        accessToken: token.token,
        tokenType: 'Bearer',
        expiresAt: iso(token.expiresAt * 1000),
        authTime: iso((token.authTime ?? token.issuedAt) * 1000),
        session: sessionView(issued.session, true),
      };
    },
  };
}
