/**
 * Where sessions live. Implementations: {@link RedisSessionStore} (scripts under the user's
 * hash tag, shared by every instance) and {@link MemorySessionStore} (in process, over a
 * MemoryRevocationStore). Both write the markers the per-request check reads (one ZMSCORE:
 * src/sessions/revocation-markers.ts), so ending a session or setting a cutoff needs no
 * second lookup per request.
 *
 * The methods, and the events they are:
 * - createSession      session created: records its first access token's jti and the hash
 *                      of its first refresh token; returns the store's time, which the
 *                      access token carries as iat_ms.
 * - refreshSession     rotation, the grace rule and reuse detection, decided in one atomic
 *                      step: `rotated` (new refresh hash stored, new jti recorded), `grace`
 *                      (the replaced token within REFRESH_REUSE_GRACE_SECONDS: new jti
 *                      recorded, the current refresh token handed back encrypted), `reused`
 *                      (session ended: same event as endSession), `invalid`, `expired`.
 * - reissue            changePassword: the session gets a new refresh hash unconditionally,
 *                      and a new auth time (the password was checked).
 * - reauthenticate     reauthenticate: a new access token recorded in the session and a new
 *                      auth time; the refresh token is left as it is.
 * - listSessions       the user's live sessions, newest first (admin: "list sessions of user X").
 * - endSession         session ended: its refresh token is refused, and every access token
 *                      issued in it (marker `#s:<sid>`). False if it was not live.
 * - endAllSessions     per-user cutoff: every access token issued before now is refused
 *                      (recorded or not), every recorded one is moved to the revoked set
 *                      (the count), every session ends; `exceptSessionId` keeps one session
 *                      and its tokens (admin: "end every session of user X" without it).
 *
 * Times are in milliseconds since the epoch, taken from the store's clock (Redis TIME).
 * Every method either completes or rejects with StoreUnavailableError.
 */

import type { Config } from '../config.js';

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
  /**
   * When the user last proved their password in this session (sign-in, changePassword,
   * reauthenticate), ms: the `auth_time` of its access tokens, unchanged by refreshes. A
   * session stored before this field existed reads its creation time.
   */
  readonly authTime: number;
  readonly userAgent?: string | undefined;
  readonly ipAddress?: string | undefined;
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
  /** SHA-256 (base64url) of the first refresh token. */
  refreshTokenHash: string;
  accessToken: AccessTokenSlot;
  client: SessionClient;
}

export interface RefreshSessionInput {
  userId: string;
  sessionId: string;
  /** SHA-256 (base64url) of the refresh token presented. */
  presentedHash: string;
  /** SHA-256 (base64url) of the successor, stored if this call rotates. */
  successorHash: string;
  /** The successor encrypted under a key only the presented token derives (refresh-token.ts), for the grace rule. */
  successorSealed: string;
  accessToken: AccessTokenSlot;
  client: SessionClient;
}

export interface ReauthenticateInput {
  userId: string;
  sessionId: string;
  accessToken: AccessTokenSlot;
  client: SessionClient;
}

/** The answer of {@link SessionStore.refreshSession}. */
export type RefreshOutcome =
  | { readonly kind: 'rotated'; readonly session: SessionRecord; readonly issuedAtMs: number }
  | {
      readonly kind: 'grace';
      readonly session: SessionRecord;
      readonly issuedAtMs: number;
      /** The current refresh token, sealed by the rotation that replaced the one presented. */
      readonly successorSealed: string;
    }
  /** `session`: the session this presentation ended, as it was (for the session-ended event, src/live/). */
  | { readonly kind: 'reused'; readonly session: SessionRecord }
  | { readonly kind: 'invalid' | 'expired' };

/** A session and the time its access token is stamped with. */
export interface IssuedSession {
  readonly session: SessionRecord;
  readonly issuedAtMs: number;
}

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
  createSession(input: CreateSessionInput): Promise<IssuedSession>;
  refreshSession(input: RefreshSessionInput): Promise<RefreshOutcome>;
  /** undefined when the session is not live. Sets the auth time to now. */
  reissue(input: Omit<CreateSessionInput, 'username'>): Promise<IssuedSession | undefined>;
  /**
   * The password was checked again: records the access token about to be signed in the
   * session and sets its auth time to now; the refresh token is unchanged. undefined when
   * the session is not live.
   */
  reauthenticate(input: ReauthenticateInput): Promise<IssuedSession | undefined>;
  listSessions(userId: string): Promise<SessionRecord[]>;
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
}

export const SESSION_DEFAULTS = {
  refreshTokenTtlSeconds: 2_592_000,
  idleTtlSeconds: 604_800,
  reuseGraceSeconds: 10,
  accessTokenTtlSeconds: 900,
  expiryGraceSeconds: 5,
} as const;

/** Lifetimes with defaults, validated. */
export function sessionLifetimes(options: SessionLifetimes): Required<SessionLifetimes> {
  const l: Required<SessionLifetimes> = {
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds ?? SESSION_DEFAULTS.refreshTokenTtlSeconds,
    idleTtlSeconds: options.idleTtlSeconds ?? SESSION_DEFAULTS.idleTtlSeconds,
    reuseGraceSeconds: options.reuseGraceSeconds ?? SESSION_DEFAULTS.reuseGraceSeconds,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? SESSION_DEFAULTS.accessTokenTtlSeconds,
    expiryGraceSeconds: options.expiryGraceSeconds ?? SESSION_DEFAULTS.expiryGraceSeconds,
  };
  for (const [name, value] of Object.entries(l)) {
    const min = name === 'reuseGraceSeconds' || name === 'expiryGraceSeconds' ? 0 : 1;
    if (!Number.isInteger(value) || value < min) throw new Error(`session store: ${name} must be an integer >= ${min}, got ${value}`);
  }
  return l;
}

/** At most 256 characters, as the Session type promises. */
export function clip(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  return value.length > 256 ? value.slice(0, 256) : value;
}

/** The lifetimes a server's configuration sets (REFRESH_TOKEN_TTL, SESSION_IDLE_TTL, ...). */
export function lifetimesFromConfig(config: Pick<Config, 'sessions' | 'jwt'>): Required<SessionLifetimes> {
  return sessionLifetimes({
    ...config.sessions,
    accessTokenTtlSeconds: config.jwt.ttlSeconds,
    // Kept as long as the revocation store keeps its entries: an instance whose clock is up to
    // MAX_CLOCK_SKEW behind still accepts a token that long after its exp (issue 10).
    expiryGraceSeconds: config.jwt.clockToleranceSeconds + config.jwt.maxClockSkewSeconds,
  });
}
