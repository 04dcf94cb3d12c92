/**
 * Where sessions live. Implementations: {@link RedisSessionStore} (scripts under the user's
 * hash tag, shared by every instance) and {@link MemorySessionStore} (in process, over a
 * MemoryRevocationStore). Both write the markers the per-request check reads (one ZMSCORE:
 * src/sessions/revocation-markers.ts), so ending a session or setting a cutoff needs no
 * second lookup per request.
 *
 * The methods, and the events they are:
 * - createSession      session created: records its first access token's jti, generation 1
 *                      of its refresh token (refresh-token.ts); returns the store's time,
 *                      which the access token carries as iat_ms. At SESSIONS_MAX_PER_USER
 *                      live sessions: `evict-oldest` ends the least recently used one first
 *                      (returned in `evicted`: ended exactly as by endSession), `refuse-new`
 *                      rejects with {@link SessionLimitError} and changes nothing.
 * - refreshSession     rotation, the grace rule and reuse detection, decided in one atomic
 *                      step on the presented generation: `rotated` (the current one: the
 *                      generation goes up, new jti recorded), `grace` (the one before, within
 *                      REFRESH_REUSE_GRACE_SECONDS: new jti recorded, the current generation
 *                      answered), `reused` (any older one: session ended, same event as
 *                      endSession), `invalid`, `expired`.
 * - reissue            changePassword: the session's generation goes up and every earlier one
 *                      is forgotten (INVALID, not REUSED: the caller did not present it); a new
 *                      auth time (the password was checked).
 * - reauthenticate     reauthenticate: a new access token recorded in the session and a new
 *                      auth time; the refresh token (its generation) is left as it is.
 * - listSessions       the user's live sessions, newest first (admin: "list sessions of user X"),
 *                      read in chunks: at most SESSIONS_MAX_PER_USER of them in practice.
 * - inspectRefreshToken read-only: what a presented refresh token is to its session (token
 *                      introspection and revocation, src/oauth/): nothing is written, nothing rotates.
 * - endSession         session ended: its refresh token is refused, and every access token
 *                      issued in it (marker `#s:<sid>`). False if it was not live.
 * - endAllSessions     per-user cutoff: every access token issued before now is refused
 *                      (recorded or not), every session ends; the answer counts the recorded,
 *                      live access tokens it refused; `exceptSessionId` keeps one session
 *                      and its tokens (admin: "end every session of user X" without it).
 *
 * Bounded work (issue 18): no store call's work grows with the number of the user's sessions or
 * tokens past {@link STORE_CHUNK} per Redis script (expired entries are pruned at most that
 * many per call; listing reads that many per command; ending every session is O(1) in the
 * script: the keys are unlinked and freed by Redis in the background), so no script blocks
 * Redis for long whatever one user holds. A session remembers its last
 * {@link SESSION_TOKENS_KEPT} access tokens (the older ones of a session still die with it, by
 * its marker, and with the user's cutoff).
 *
 * Times are in milliseconds since the epoch, taken from the store's clock (Redis TIME).
 * Every method either completes or rejects with StoreUnavailableError.
 */

import type { Config } from '../config/index.js';
import { storeExpiryGraceSeconds } from '../config/derived.js';

/** A session as stored (times in ms). */
export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  /** The username at sign-in, written into the access tokens of the session. */
  readonly username: string;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** The earlier of the absolute end and the idle end. */
  readonly expiresAt: number;
  readonly userAgent?: string | undefined;
  readonly ipAddress?: string | undefined;
  /**
   * When the user last proved their password in this session (sign-in, changePassword,
   * reauthenticate), ms: the `auth_time` of its access tokens, unchanged by refreshes. A
   * session stored before this field existed reads its creation time.
   */
  readonly authTime: number;
}

/** Where a request came from, stored on the session. */
export interface SessionClient {
  /** At most 256 characters (longer is cut). */
  userAgent?: string | undefined;
  ipAddress?: string | undefined;
}

/** The access token about to be signed for a session: recorded first, signed with the store's time. */
export interface AccessTokenSlot {
  jti: string;
}

export interface CreateSessionInput {
  userId: string;
  username: string;
  sessionId: string;
  accessToken: AccessTokenSlot;
  client: SessionClient;
}

/** reissue's input: the session's refresh generation goes up. */
export type ReissueInput = Omit<CreateSessionInput, 'username'>;

/** reauthenticate's input: the same as reissue's, the generation left as it is. */
export type ReauthenticateInput = ReissueInput;

export interface RefreshSessionInput {
  userId: string;
  sessionId: string;
  /** The generation of the refresh token presented (its MAC verified by the caller: refresh-token.ts). */
  presentedGeneration: number;
  accessToken: AccessTokenSlot;
  client: SessionClient;
}

/** The answer of {@link SessionStore.refreshSession}. */
export type RefreshOutcome =
  /** `generation`: the session's new refresh generation. */
  | { readonly kind: 'rotated'; readonly session: SessionRecord; readonly issuedAtMs: number; readonly generation: number }
  /** `generation`: the session's current refresh generation (the token that replaced the one presented). */
  | { readonly kind: 'grace'; readonly session: SessionRecord; readonly issuedAtMs: number; readonly generation: number }
  /** `session`: the session this presentation ended, as it was (for the session-ended event, src/live/). */
  | { readonly kind: 'reused'; readonly session: SessionRecord }
  | { readonly kind: 'invalid' | 'expired' };

/** What {@link SessionStore.inspectRefreshToken} is asked: a refresh token whose MAC verified. */
export interface InspectRefreshTokenInput {
  userId: string;
  sessionId: string;
  /** The generation the presented token carries. */
  presentedGeneration: number;
}

/**
 * What a presented refresh token is, read without writing: `current` (the session's live
 * generation), `grace` (the one before, within REFRESH_REUSE_GRACE_SECONDS: a refresh with it
 * still succeeds), `replaced` (any older generation: a refresh with it would end the session as
 * a reuse), `expired` (its session ended by time), `invalid` (no live session knows it).
 */
export type RefreshTokenState =
  | { readonly kind: 'current' | 'grace' | 'replaced'; readonly session: SessionRecord }
  | { readonly kind: 'invalid' | 'expired' };

/** A session, the time its access token is stamped with and its refresh generation. */
export interface IssuedSession {
  readonly session: SessionRecord;
  readonly issuedAtMs: number;
  readonly generation: number;
}

/** createSession's answer: the new session, and the sessions evicted to make room for it (ended, as they were). */
export interface CreatedSession extends IssuedSession {
  readonly evicted: readonly SessionRecord[];
}

/** createSession under `refuse-new` at SESSIONS_MAX_PER_USER live sessions: nothing was changed. */
export class SessionLimitError extends Error {
  constructor(readonly maxSessions: number) {
    super(`session limit reached: ${maxSessions} live sessions`);
    this.name = 'SessionLimitError';
  }
}

/** Most work one Redis script does on a user's entries (pruning, listing): bounded, whatever the user holds. */
export const STORE_CHUNK = 500;

/** Access tokens a session remembers (for the end-all count and the kept session): the last this many. */
export const SESSION_TOKENS_KEPT = 8;

/** What endAllSessions needs to know of the caller's token. */
export interface CurrentToken {
  jti: string;
  expiresAt: number;
}

export interface EndAllSessionsOptions {
  /** The caller's token: revoked (and counted) even if it was never recorded, unless its session is kept. */
  current?: CurrentToken | undefined;
  /** This session and its tokens survive. */
  exceptSessionId?: string | undefined;
}

/** See the module comment. */
export interface SessionStore {
  /** Rejects with {@link SessionLimitError} under `refuse-new` at the cap. */
  createSession(input: CreateSessionInput): Promise<CreatedSession>;
  refreshSession(input: RefreshSessionInput): Promise<RefreshOutcome>;
  /** undefined when the session is not live. */
  reissue(input: ReissueInput): Promise<IssuedSession | undefined>;
  /**
   * The password was checked again: records the access token about to be signed in the
   * session and sets its auth time to now; the refresh token is unchanged. undefined when
   * the session is not live.
   */
  reauthenticate(input: ReauthenticateInput): Promise<IssuedSession | undefined>;
  listSessions(userId: string): Promise<SessionRecord[]>;
  /** Read-only: see {@link RefreshTokenState}. One round trip. */
  inspectRefreshToken(input: InspectRefreshTokenInput): Promise<RefreshTokenState>;
  endSession(userId: string, sessionId: string): Promise<boolean>;
  /** Returns how many recorded, live access tokens became revoked (cancelAllMyTokens' answer). */
  endAllSessions(userId: string, options?: EndAllSessionsOptions): Promise<number>;
}

/** Lifetimes, in seconds. */
export interface SessionLifetimes {
  /** REFRESH_TOKEN_TTL: absolute. Default 2,592,000 (30 days). */
  refreshTokenTtlSeconds?: number;
  /** SESSION_IDLE_TTL: since the last sign-in or refresh. Default 604,800 (7 days). */
  idleTtlSeconds?: number;
  /** REFRESH_REUSE_GRACE_SECONDS: the replaced token still works this long. Default 10; 0: off. */
  reuseGraceSeconds?: number;
  /** The access token lifetime (ACCESS_TOKEN_TTL). Default 900. */
  accessTokenTtlSeconds?: number;
  /** Seconds a token is accepted after exp (JWT_CLOCK_TOLERANCE). Default 5. */
  expiryGraceSeconds?: number;
  /** SESSIONS_MAX_PER_USER: live sessions per user. Default 50. */
  maxSessionsPerUser?: number;
  /** SESSIONS_LIMIT_POLICY: at the cap, end the least recently used session, or refuse the new one. Default 'evict-oldest'. */
  limitPolicy?: SessionLimitPolicy;
}

/** What happens to a sign-in at SESSIONS_MAX_PER_USER live sessions. */
export type SessionLimitPolicy = 'evict-oldest' | 'refuse-new';

export const SESSION_DEFAULTS = {
  refreshTokenTtlSeconds: 2_592_000,
  idleTtlSeconds: 604_800,
  reuseGraceSeconds: 10,
  accessTokenTtlSeconds: 900,
  expiryGraceSeconds: 5,
  maxSessionsPerUser: 50,
  limitPolicy: 'evict-oldest',
} as const;

/** Lifetimes with defaults, validated. */
export function sessionLifetimes(options: SessionLifetimes): Required<SessionLifetimes> {
  const l: Required<SessionLifetimes> = {
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds ?? SESSION_DEFAULTS.refreshTokenTtlSeconds,
    idleTtlSeconds: options.idleTtlSeconds ?? SESSION_DEFAULTS.idleTtlSeconds,
    reuseGraceSeconds: options.reuseGraceSeconds ?? SESSION_DEFAULTS.reuseGraceSeconds,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? SESSION_DEFAULTS.accessTokenTtlSeconds,
    expiryGraceSeconds: options.expiryGraceSeconds ?? SESSION_DEFAULTS.expiryGraceSeconds,
    maxSessionsPerUser: options.maxSessionsPerUser ?? SESSION_DEFAULTS.maxSessionsPerUser,
    limitPolicy: options.limitPolicy ?? SESSION_DEFAULTS.limitPolicy,
  };
  if (l.limitPolicy !== 'evict-oldest' && l.limitPolicy !== 'refuse-new') {
    throw new Error(`session store: limitPolicy must be 'evict-oldest' or 'refuse-new', got ${String(l.limitPolicy)}`);
  }
  for (const [name, value] of Object.entries(l)) {
    if (name === 'limitPolicy') continue;
    const min = name === 'reuseGraceSeconds' || name === 'expiryGraceSeconds' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new Error(`session store: ${name} must be an integer >= ${min}, got ${String(value)}`);
    }
  }
  return l;
}

/** At most 256 characters, as the Session type promises. */
export function clip(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  return value.length > 256 ? value.slice(0, 256) : value;
}

/** The lifetimes a server's configuration sets (REFRESH_TOKEN_TTL, SESSION_IDLE_TTL, ...). */
export function lifetimesFromConfig(config: {
  sessions: Config['sessions'];
  jwt: Pick<Config['jwt'], 'ttlSeconds' | 'clockToleranceSeconds' | 'maxClockSkewSeconds'>;
}): Required<SessionLifetimes> {
  return sessionLifetimes({
    refreshTokenTtlSeconds: config.sessions.refreshTokenTtlSeconds,
    idleTtlSeconds: config.sessions.idleTtlSeconds,
    reuseGraceSeconds: config.sessions.reuseGraceSeconds,
    maxSessionsPerUser: config.sessions.maxPerUser,
    limitPolicy: config.sessions.limitPolicy,
    accessTokenTtlSeconds: config.jwt.ttlSeconds,
    // Kept as long as the revocation store keeps its entries (the one grace rule).
    expiryGraceSeconds: storeExpiryGraceSeconds(config.jwt),
  });
}
