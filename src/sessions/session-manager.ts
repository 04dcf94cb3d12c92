/**
 * The sessions module's entry point: token pairs for a {@link SessionStore}. It signs
 * access tokens only after the store recorded them (with the store's time as iat_ms, see
 * revocation-markers.ts). Refresh tokens carry their session's generation under a MAC
 * (refresh-token.ts): the store keeps only the current generation.
 *
 * No state oracle (issue 18): a refresh token whose MAC does not verify is REFRESH_TOKEN_INVALID
 * before anything else is read, whatever the account's state; ACCOUNT_DISABLED is said only to
 * the holder of a token that verifies.
 */
import type { KeyObject } from 'node:crypto';
import { randomTokenId, type TokenIssuer } from '../auth/token-issuer.js';
import { accountDisabledError, refreshTokenError, sessionLimitReachedError } from '../errors.js';
import type { UserRecord } from '../users/user-store.js';
import { createRefreshTokens, newSessionId, type RefreshTokens } from './refresh-token.js';
import { SessionLimitError, type CurrentToken, type IssuedSession, type SessionClient, type SessionRecord, type SessionStore } from './session-store.js';

/** What {@link SessionManager.inspectRefreshToken} finds: the live session of a usable refresh token. */
export interface ActiveRefreshToken {
  readonly session: SessionRecord;
}

/** What {@link SessionManager.revokeRefreshToken} did. */
export interface RefreshTokenRevocation {
  readonly userId: string;
  readonly sessionId: string;
  /** False when the session had already ended (another revocation got there first). */
  readonly ended: boolean;
}

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
  /**
   * The key(s) of the refresh tokens' MAC (at least 32 bytes each): the first signs, each
   * verifies. Every instance of a deployment needs the same. The server derives it from the
   * JWT keys (src/server/refresh-token-keys.ts).
   */
  refreshTokenKey: Buffer | KeyObject | readonly (Buffer | KeyObject)[];
  /** Told when sessions of a user ended (to drop cached "not revoked" answers of this instance), evictions included. */
  onSessionsEnded?: (userId: string) => void;
  /**
   * The user records, read on each refresh: a disabled account is refused with ACCOUNT_DISABLED
   * (before the refresh token is even looked at), and the refreshed access token carries the
   * user's scopes of now. Required: a manager without it would hand out refreshed tokens
   * without the scopes the first token had (an admin would be an admin until the first
   * refresh). A `UserStore` fits; so does an adapter over your own users
   * (`{ findById: async (id) => ({ scopes: …, disabled: … }) }`).
   */
  users: SessionUserSource;
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

/** Where a refresh reads the user's scopes and disabled flag: `undefined` for an unknown id. */
export interface SessionUserSource {
  findById(id: string): Promise<Pick<UserRecord, 'scopes' | 'disabled'> | undefined>;
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
  /** signUp, signIn: a new session and its first pair; SESSION_LIMIT_REACHED under refuse-new at the cap. */
  start(user: SessionUser, client: SessionClient): Promise<SessionPair>;
  /** refreshSession: throws the GraphQL error with REFRESH_TOKEN_REUSED | INVALID | EXPIRED, or ACCOUNT_DISABLED (a verifying token only). */
  refresh(refreshToken: string, client: SessionClient): Promise<SessionPair>;
  /** The user's live sessions, newest first; `current` marks the one of `currentSessionId`. */
  list(userId: string, currentSessionId?: string): Promise<SessionView[]>;
  end(userId: string, sessionId: string): Promise<boolean>;
  endAll(userId: string, options: { current?: CurrentToken; exceptSessionId?: string | undefined }): Promise<number>;
  /**
   * Token introspection (RFC 7662) of a refresh token, read-only: its session while the token
   * is usable (the session's current token, or the one it replaced within the reuse grace);
   * undefined otherwise (unknown, replaced, expired, ended, not shaped like ours). Never
   * rotates, never counts as a use. Store failures reject with StoreUnavailableError.
   */
  inspectRefreshToken(refreshToken: string): Promise<ActiveRefreshToken | undefined>;
  /**
   * Token revocation (RFC 7009) of a refresh token: ends its session, as cancelSession does
   * (every access token of it refused, published to live sockets through the store), when the
   * token is one the session issued (current, or replaced: presenting a replaced token to
   * refreshSession would end the session as a reuse anyway). Undefined when no live session
   * knows the token.
   */
  revokeRefreshToken(refreshToken: string): Promise<RefreshTokenRevocation | undefined>;
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
  if (typeof users?.findById !== 'function') {
    throw new TypeError(
      'createSessionManager: `users` is required ({ findById(id) }): each refresh reads the scopes and disabled flag of the user ' +
        'from it; without it refreshed tokens would silently lose their scopes. Pass your UserStore, or an adapter over your own users.',
    );
  }
  const tokens: RefreshTokens = createRefreshTokens(options.refreshTokenKey);

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
    const jti = randomTokenId();
    let created;
    try {
      created = await store.createSession({ userId: user.id, username: user.username, sessionId, accessToken: { jti }, client });
    } catch (error) {
      if (error instanceof SessionLimitError) throw sessionLimitReachedError();
      throw error;
    }
    if (created.evicted.length > 0) onSessionsEnded?.(user.id);
    return pair(user, created, jti, tokens.issue(user.id, sessionId, created.generation));
  }

  async function end(userId: string, sessionId: string): Promise<boolean> {
    const ended = await store.endSession(userId, sessionId);
    if (ended) onSessionsEnded?.(userId);
    return ended;
  }

  return {
    store,
    start,

    async refresh(refreshToken, client) {
      beforeIssue?.();
      // The MAC first: a made-up token learns nothing, ends nothing (not even with a real session id).
      const parsed = tokens.verify(refreshToken);
      if (!parsed) throw refreshTokenError('REFRESH_TOKEN_INVALID');
      // Read before the store call: a change made after it is followed by the operator's
      // end-all, which ends this session or refuses the token it is about to get.
      const account = await users.findById(parsed.userId);
      if (account?.disabled) throw accountDisabledError();
      const scopes = account?.scopes;
      const jti = randomTokenId();
      const outcome = await store.refreshSession({
        userId: parsed.userId,
        sessionId: parsed.sessionId,
        presentedGeneration: parsed.generation,
        accessToken: { jti },
        client,
      });
      switch (outcome.kind) {
        case 'rotated':
        case 'grace':
          // grace: the session's current token (the one that replaced the one presented), rebuilt.
          return pair(
            { id: parsed.userId, username: outcome.session.username, scopes },
            outcome,
            jti,
            tokens.issue(parsed.userId, parsed.sessionId, outcome.generation),
          );
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

    async inspectRefreshToken(refreshToken) {
      const parsed = tokens.verify(refreshToken);
      if (!parsed) return undefined;
      const state = await store.inspectRefreshToken({ userId: parsed.userId, sessionId: parsed.sessionId, presentedGeneration: parsed.generation });
      return state.kind === 'current' || state.kind === 'grace' ? { session: state.session } : undefined;
    },

    async revokeRefreshToken(refreshToken) {
      const parsed = tokens.verify(refreshToken);
      if (!parsed) return undefined;
      const state = await store.inspectRefreshToken({ userId: parsed.userId, sessionId: parsed.sessionId, presentedGeneration: parsed.generation });
      if (state.kind === 'invalid' || state.kind === 'expired') return undefined;
      // Two steps, not one script: a rotation in between leaves the session live, and it is
      // ended all the same (the holder of one of its tokens asked for it). Through end(), so
      // the session-ended and revocation events go out as for cancelSession.
      const ended = await end(parsed.userId, parsed.sessionId);
      return { userId: parsed.userId, sessionId: parsed.sessionId, ended };
    },

    end,

    async endAll(userId, { current, exceptSessionId }) {
      const count = await store.endAllSessions(userId, { current, exceptSessionId });
      onSessionsEnded?.(userId);
      return count;
    },

    async renew(user, sessionId, client) {
      beforeIssue?.();
      if (sessionId !== undefined) {
        const jti = randomTokenId();
        const issued = await store.reissue({ userId: user.id, sessionId, accessToken: { jti }, client });
        if (issued) return pair(user, issued, jti, tokens.issue(user.id, sessionId, issued.generation));
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
