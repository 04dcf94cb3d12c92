import { createKeySpace, type KeySpace } from '../revocation/keys.js';
import type { RedisClient } from '../revocation/redis-store.js';
import { runStoreCommand, waitForReplicas } from '../revocation/redis-writes.js';
import { CUTOFF_RETENTION_SECONDS } from './revocation-markers.js';
import {
  CREATE_SESSION,
  END_ALL_SESSIONS,
  END_SESSION,
  LIST_SESSIONS,
  REAUTHENTICATE_SESSION,
  REFRESH_SESSION,
  REISSUE_SESSION,
} from './session-scripts.js';
import {
  clip,
  sessionLifetimes,
  type CreateSessionInput,
  type EndAllSessionsOptions,
  type IssuedSession,
  type ReauthenticateInput,
  type RefreshOutcome,
  type RefreshSessionInput,
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
  grSessionReissue(...args: (string | number)[]): Promise<Reply>;
  grSessionReauthenticate(...args: (string | number)[]): Promise<Reply>;
  grSessionEnd(...args: (string | number)[]): Promise<number>;
  grSessionEndAll(...args: (string | number)[]): Promise<number>;
  grSessionList(...args: (string | number)[]): Promise<string[]>;
};

function defineScripts(client: RedisClient): Scripted {
  const scripted = client as Scripted;
  if (typeof scripted.grSessionReauthenticate !== 'function') {
    client.defineCommand('grSessionReauthenticate', { numberOfKeys: 4, lua: REAUTHENTICATE_SESSION });
  }
  if (typeof scripted.grSessionCreate !== 'function') {
    client.defineCommand('grSessionCreate', { numberOfKeys: 4, lua: CREATE_SESSION });
    client.defineCommand('grSessionRefresh', { numberOfKeys: 4, lua: REFRESH_SESSION });
    client.defineCommand('grSessionReissue', { numberOfKeys: 4, lua: REISSUE_SESSION });
    client.defineCommand('grSessionEnd', { numberOfKeys: 4, lua: END_SESSION });
    client.defineCommand('grSessionEndAll', { numberOfKeys: 4, lua: END_ALL_SESSIONS });
    client.defineCommand('grSessionList', { numberOfKeys: 2, lua: LIST_SESSIONS });
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
    // A session written before auth times were kept: its sign-in.
    authTime: Number(s.a ?? s.c),
    userAgent: s.ua,
    ipAddress: s.ip,
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

  private userKeys(userId: string): [string, string, string, string] {
    return [this.keys.userTokens(userId), this.keys.userRevoked(userId), this.keys.userSessions(userId), this.keys.userSessionData(userId)];
  }

  private run<T>(operation: string, key: string | undefined, command: () => Promise<T>): Promise<T> {
    return runStoreCommand(this.observe, operation, async () => {
      const result = await command();
      if (key !== undefined) {
        await waitForReplicas(this.writer, key, this.replicasToAck, this.replicaAckTimeoutMs, operation);
        // The shard's write sequence (src/revocation/data-loss-watcher.ts): a failover to a
        // replica that missed this write is then seen as a loss, as for revocations.
        await this.afterWrite?.(key);
      }
      return result;
    });
  }

  async createSession(input: CreateSessionInput): Promise<IssuedSession> {
    const l = this.lifetimes;
    const keys = this.userKeys(input.userId);
    const [now, json] = await this.run('createSession', keys[3], () =>
      this.writer.grSessionCreate(
        ...keys,
        input.sessionId,
        input.username,
        input.refreshTokenHash,
        input.accessToken.jti,
        l.accessTokenTtlSeconds,
        l.expiryGraceSeconds,
        l.refreshTokenTtlSeconds,
        l.idleTtlSeconds,
        this.retainMs,
        clip(input.client.userAgent) ?? '',
        input.client.ipAddress ?? '',
      ),
    );
    return { issuedAtMs: Number(now), session: toRecord(input.userId, input.sessionId, String(json)) };
  }

  async refreshSession(input: RefreshSessionInput): Promise<RefreshOutcome> {
    const l = this.lifetimes;
    const keys = this.userKeys(input.userId);
    const reply = await this.run('refreshSession', keys[3], () =>
      this.writer.grSessionRefresh(
        ...keys,
        input.sessionId,
        input.presentedHash,
        input.successorHash,
        input.successorSealed,
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
    const [kind, now, json, sealed] = reply;
    switch (kind) {
      case 'ROTATED':
        return { kind: 'rotated', issuedAtMs: Number(now), session: toRecord(input.userId, input.sessionId, String(json)) };
      case 'GRACE':
        return {
          kind: 'grace',
          issuedAtMs: Number(now),
          session: toRecord(input.userId, input.sessionId, String(json)),
          successorSealed: String(sealed),
        };
      case 'REUSED':
        return { kind: 'reused', session: toRecord(input.userId, input.sessionId, String(json)) };
      case 'EXPIRED':
        return { kind: 'expired' };
      default:
        return { kind: 'invalid' };
    }
  }

  async reissue(input: Omit<CreateSessionInput, 'username'>): Promise<IssuedSession | undefined> {
    const l = this.lifetimes;
    const keys = this.userKeys(input.userId);
    const reply = await this.run('reissueSession', keys[3], () =>
      this.writer.grSessionReissue(
        ...keys,
        input.sessionId,
        input.refreshTokenHash,
        input.accessToken.jti,
        l.accessTokenTtlSeconds,
        l.expiryGraceSeconds,
        l.idleTtlSeconds,
        this.retainMs,
        clip(input.client.userAgent) ?? '',
        input.client.ipAddress ?? '',
      ),
    );
    if (reply.length < 2) return undefined;
    return { issuedAtMs: Number(reply[0]), session: toRecord(input.userId, input.sessionId, String(reply[1])) };
  }

  async reauthenticate(input: ReauthenticateInput): Promise<IssuedSession | undefined> {
    const l = this.lifetimes;
    const keys = this.userKeys(input.userId);
    const reply = await this.run('reauthenticateSession', keys[3], () =>
      this.writer.grSessionReauthenticate(
        ...keys,
        input.sessionId,
        input.accessToken.jti,
        l.accessTokenTtlSeconds,
        l.expiryGraceSeconds,
        l.idleTtlSeconds,
        this.retainMs,
        clip(input.client.userAgent) ?? '',
        input.client.ipAddress ?? '',
      ),
    );
    if (reply.length < 2) return undefined;
    return { issuedAtMs: Number(reply[0]), session: toRecord(input.userId, input.sessionId, String(reply[1])) };
  }

  async listSessions(userId: string): Promise<SessionRecord[]> {
    const reply = await this.run('listSessions', undefined, () =>
      this.client.grSessionList(this.keys.userSessions(userId), this.keys.userSessionData(userId)),
    );
    const sessions: SessionRecord[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) sessions.push(toRecord(userId, reply[i] as string, reply[i + 1] as string));
    return sessions.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
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
    const count = await this.run('endAllSessions', keys[1], () =>
      this.writer.grSessionEndAll(
        ...keys,
        CUTOFF_RETENTION_SECONDS,
        this.retainMs,
        options.exceptSessionId ?? '',
        current?.jti ?? '',
        current ? current.expiresAt + this.lifetimes.expiryGraceSeconds : 0,
      ),
    );
    return Number(count);
  }
}
