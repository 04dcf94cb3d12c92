import { randomBytes } from 'node:crypto';
import { createKeySpace, type KeySpace } from '../redis/keys.js';
import type { RedisClient } from '../redis/redis-client-type.js';
import { runStoreCommand, waitForReplicas } from '../redis/redis-writes.js';
import { CUTOFF_RETENTION_SECONDS } from './revocation-markers.js';
import { CREATE_SESSION, END_ALL_PREPARE, END_ALL_SESSIONS, END_SESSION, INSPECT_REFRESH_TOKEN, REFRESH_SESSION, RENEW_SESSION } from './session-scripts.js';
import {
  clip,
  SessionLimitError,
  sessionLifetimes,
  STORE_CHUNK,
  type CreatedSession,
  type CreateSessionInput,
  type ReissueInput,
  type ReauthenticateInput,
  type EndAllSessionsOptions,
  type InspectRefreshTokenInput,
  type IssuedSession,
  type RefreshOutcome,
  type RefreshSessionInput,
  type RefreshTokenState,
  type SessionLifetimes,
  type SessionRecord,
  type SessionStore,
} from './session-store.js';

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions extends SessionLifetimes {
  client: RedisClient;
  /** The connection for writes and their WAIT (see RedisRevocationStoreOptions.writeClient). Default `client`. */
  writeClient?: RedisClient;
  /** Key prefix: the same as the revocation store's. Default 'gr'. */
  keyPrefix?: string;
  /** After each write, wait until this many replicas have it (Redis WAIT). Default 0. */
  replicasToAck?: number;
  /** Default 500. */
  replicaAckTimeoutMs?: number;
  /** Called with the latency in seconds of each store command (metrics). */
  observeLatency?: (operation: string, seconds: number, ok: boolean) => void;
  /**
   * Called after each acknowledged write with a key of the user it wrote (the safeguards'
   * afterWrite: the shard's write sequence, for data-loss detection). Its failure fails the write.
   */
  afterWrite?: (key: string) => Promise<void>;
}

type Reply = (string | number | null)[];
type Scripted = RedisClient & {
  grSessionCreate(...args: (string | number)[]): Promise<Reply>;
  grSessionRefresh(...args: (string | number)[]): Promise<Reply>;
  grSessionRenew(...args: (string | number)[]): Promise<Reply>;
  grSessionEnd(...args: (string | number)[]): Promise<number>;
  grSessionEndAll(...args: (string | number)[]): Promise<Reply>;
  grSessionEndAllPrepare(...args: (string | number)[]): Promise<number>;
  grSessionInspect(...args: (string | number)[]): Promise<(string | null)[]>;
};

function defineScripts(client: RedisClient): Scripted {
  const scripted = client as Scripted;
  if (typeof scripted.grSessionCreate !== 'function') {
    client.defineCommand('grSessionCreate', { numberOfKeys: 5, lua: CREATE_SESSION });
    client.defineCommand('grSessionRefresh', { numberOfKeys: 5, lua: REFRESH_SESSION });
    client.defineCommand('grSessionRenew', { numberOfKeys: 5, lua: RENEW_SESSION });
    client.defineCommand('grSessionEnd', { numberOfKeys: 5, lua: END_SESSION });
    client.defineCommand('grSessionEndAll', { numberOfKeys: 9, lua: END_ALL_SESSIONS });
    client.defineCommand('grSessionEndAllPrepare', { numberOfKeys: 5, lua: END_ALL_PREPARE });
    client.defineCommand('grSessionInspect', { numberOfKeys: 1, lua: INSPECT_REFRESH_TOKEN });
  }
  return scripted;
}

interface StoredSession {
  n: string;
  c: number;
  u: number;
  ae: number;
  ie: number;
  a?: number;
  ua?: string;
  ip?: string;
}

function toRecord(userId: string, id: string, json: string): SessionRecord {
  const s = JSON.parse(json) as StoredSession;
  return {
    id,
    userId,
    username: s.n,
    createdAt: Number(s.c),
    lastUsedAt: Number(s.u),
    expiresAt: Math.min(Number(s.ae), Number(s.ie)),
    userAgent: s.ua,
    ipAddress: s.ip,
    // A session written before auth times were kept: its sign-in.
    authTime: Number(s.a ?? s.c),
  };
}

/**
 * Sessions on Redis, under the user's hash tag, next to the revocation store's keys (the
 * same prefix): see session-scripts.ts for the layout and session-store.ts for the contract.
 */
export class RedisSessionStore implements SessionStore {
  private readonly client: Scripted;
  private readonly writer: Scripted;
  private readonly keys: KeySpace;
  private readonly lifetimes: Required<SessionLifetimes>;
  /** How long an ended session is remembered (EXPIRED rather than INVALID), ms. */
  private readonly retainMs: number;
  private readonly replicasToAck: number;
  private readonly replicaAckTimeoutMs: number;
  private readonly observe: RedisSessionStoreOptions['observeLatency'];
  private readonly afterWrite: RedisSessionStoreOptions['afterWrite'];

  constructor(options: RedisSessionStoreOptions) {
    this.client = defineScripts(options.client);
    this.writer = options.writeClient ? defineScripts(options.writeClient) : this.client;
    this.keys = createKeySpace(options.keyPrefix);
    this.lifetimes = sessionLifetimes(options);
    this.retainMs = (this.lifetimes.accessTokenTtlSeconds + this.lifetimes.expiryGraceSeconds) * 1000;
    this.replicasToAck = options.replicasToAck ?? 0;
    this.replicaAckTimeoutMs = options.replicaAckTimeoutMs ?? 500;
    this.observe = options.observeLatency;
    this.afterWrite = options.afterWrite;
  }

  private userKeys(userId: string): [string, string, string, string, string] {
    return [
      this.keys.userTokens(userId),
      this.keys.userRevoked(userId),
      this.keys.userSessions(userId),
      this.keys.userSessionData(userId),
      this.keys.userSessionUse(userId),
    ];
  }

  private run<T>(operation: string, key: string | undefined, command: () => Promise<T>): Promise<T> {
    return runStoreCommand(this.observe, operation, async () => {
      const result = await command();
      if (key !== undefined) {
        await waitForReplicas(this.writer, key, this.replicasToAck, this.replicaAckTimeoutMs, operation);
        // The shard's write sequence (src/safeguards/data-loss-watcher.ts): a failover to a
        // replica that missed this write is then seen as a loss, as for revocations.
        await this.afterWrite?.(key);
      }
      return result;
    });
  }

  async createSession(input: CreateSessionInput): Promise<CreatedSession> {
    const l = this.lifetimes;
    const keys = this.userKeys(input.userId);
    const reply = await this.run('createSession', keys[3], () =>
      this.writer.grSessionCreate(
        ...keys,
        input.sessionId,
        input.username,
        input.accessToken.jti,
        l.accessTokenTtlSeconds,
        l.expiryGraceSeconds,
        l.refreshTokenTtlSeconds,
        l.idleTtlSeconds,
        this.retainMs,
        clip(input.client.userAgent) ?? '',
        input.client.ipAddress ?? '',
        l.maxSessionsPerUser,
        l.limitPolicy,
      ),
    );
    if (reply[0] === 'LIMIT') throw new SessionLimitError(l.maxSessionsPerUser);
    const evicted: SessionRecord[] = [];
    for (let i = 3; i + 1 < reply.length; i += 2) evicted.push(toRecord(input.userId, String(reply[i]), String(reply[i + 1])));
    return { issuedAtMs: Number(reply[1]), generation: 1, session: toRecord(input.userId, input.sessionId, String(reply[2])), evicted };
  }

  async refreshSession(input: RefreshSessionInput): Promise<RefreshOutcome> {
    const l = this.lifetimes;
    const keys = this.userKeys(input.userId);
    const reply = await this.run('refreshSession', keys[3], () =>
      this.writer.grSessionRefresh(
        ...keys,
        input.sessionId,
        input.presentedGeneration,
        input.accessToken.jti,
        l.accessTokenTtlSeconds,
        l.expiryGraceSeconds,
        l.idleTtlSeconds,
        l.reuseGraceSeconds,
        this.retainMs,
        clip(input.client.userAgent) ?? '',
        input.client.ipAddress ?? '',
      ),
    );
    const [kind, now, json, generation] = reply;
    switch (kind) {
      case 'ROTATED':
      case 'GRACE':
        return {
          kind: kind === 'ROTATED' ? 'rotated' : 'grace',
          issuedAtMs: Number(now),
          generation: Number(generation),
          session: toRecord(input.userId, input.sessionId, String(json)),
        };
      case 'REUSED':
        return { kind: 'reused', session: toRecord(input.userId, input.sessionId, String(json)) };
      case 'EXPIRED':
        return { kind: 'expired' };
      default:
        return { kind: 'invalid' };
    }
  }

  reissue(input: ReissueInput): Promise<IssuedSession | undefined> {
    return this.renew('reissue', input);
  }

  reauthenticate(input: ReauthenticateInput): Promise<IssuedSession | undefined> {
    return this.renew('reauthenticate', input);
  }

  /** A new password check in a live session (RENEW_SESSION): with a new generation or without. */
  private async renew(mode: 'reissue' | 'reauthenticate', input: ReauthenticateInput): Promise<IssuedSession | undefined> {
    const l = this.lifetimes;
    const keys = this.userKeys(input.userId);
    const reply = await this.run(`${mode}Session`, keys[3], () =>
      this.writer.grSessionRenew(
        ...keys,
        input.sessionId,
        input.accessToken.jti,
        l.accessTokenTtlSeconds,
        l.expiryGraceSeconds,
        l.idleTtlSeconds,
        this.retainMs,
        clip(input.client.userAgent) ?? '',
        input.client.ipAddress ?? '',
        mode,
      ),
    );
    if (reply.length < 3) return undefined;
    return { issuedAtMs: Number(reply[0]), generation: Number(reply[2]), session: toRecord(input.userId, input.sessionId, String(reply[1])) };
  }

  /**
   * Read in pages of STORE_CHUNK sessions (ZRANGE by rank, then HMGET of that page),
   * never one command over every session: no single command grows with the user's sessions.
   * Not one snapshot: a session created or ended meanwhile may be listed or not.
   */
  async listSessions(userId: string): Promise<SessionRecord[]> {
    const index = this.keys.userSessions(userId);
    const data = this.keys.userSessionData(userId);
    const sessions = await this.run('listSessions', undefined, async () => {
      const [seconds, micros] = await this.client.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const out: SessionRecord[] = [];
      // By rank (O(log N) to the page, whatever its offset), past the sessions already ended.
      const first = Number(await this.client.zcount(index, '-inf', now));
      for (let offset = first; ; offset += STORE_CHUNK) {
        const ids = await this.client.zrange(index, offset, offset + STORE_CHUNK - 1);
        if (ids.length === 0) break;
        const records = await this.client.hmget(data, ...ids);
        ids.forEach((id, i) => {
          const json = records[i];
          const record = json ? toRecord(userId, id, json) : undefined;
          if (record && record.expiresAt > now) out.push(record);
        });
        if (ids.length < STORE_CHUNK) break;
      }
      return out;
    });
    return sessions.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
  }

  async inspectRefreshToken(input: InspectRefreshTokenInput): Promise<RefreshTokenState> {
    const [kind, json] = await this.run('inspectRefreshToken', undefined, () =>
      this.client.grSessionInspect(this.keys.userSessionData(input.userId), input.sessionId, input.presentedGeneration, this.lifetimes.reuseGraceSeconds),
    );
    switch (kind) {
      case 'CURRENT':
      case 'GRACE':
      case 'REPLACED':
        return { kind: kind.toLowerCase() as 'current' | 'grace' | 'replaced', session: toRecord(input.userId, input.sessionId, String(json)) };
      case 'EXPIRED':
        return { kind: 'expired' };
      default:
        return { kind: 'invalid' };
    }
  }

  async endSession(userId: string, sessionId: string): Promise<boolean> {
    const l = this.lifetimes;
    const keys = this.userKeys(userId);
    const ended = await this.run('endSession', keys[1], () =>
      this.writer.grSessionEnd(...keys, sessionId, l.accessTokenTtlSeconds, l.expiryGraceSeconds, this.retainMs),
    );
    return Number(ended) === 1;
  }

  async endAllSessions(userId: string, options: EndAllSessionsOptions = {}): Promise<number> {
    const keys = this.userKeys(userId);
    const current = options.current;
    const kept = options.exceptSessionId ?? '';
    return this.run('endAllSessions', keys[1], async () => {
      // Normally one call. MORE only when more than STORE_CHUNK recorded tokens outlive the
      // cutoff's retention (ACCESS_TOKEN_TTL above it): they are moved to the revoked set a
      // chunk at a time first (revoking them early is safe), then the cutoff is set.
      const trash = [0, 1, 2, 3].map(() => this.keys.userTrash(userId, randomBytes(9).toString('base64url')));
      for (let round = 0; round < 10_000; round += 1) {
        const reply = await this.writer.grSessionEndAll(
          ...keys,
          ...trash,
          CUTOFF_RETENTION_SECONDS,
          this.retainMs,
          kept,
          current?.jti ?? '',
          current ? current.expiresAt + this.lifetimes.expiryGraceSeconds : 0,
        );
        if (reply[0] === 'DONE') {
          // Outside the script UNLINK frees in the background: no command here grows with the user's sessions.
          await this.writer.unlink(...trash);
          return Number(reply[1]);
        }
        await this.writer.grSessionEndAllPrepare(...keys, CUTOFF_RETENTION_SECONDS, kept);
      }
      throw new Error('endAllSessions: recorded tokens kept coming faster than they could be revoked');
    });
  }
}
