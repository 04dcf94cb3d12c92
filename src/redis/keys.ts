/**
 * Every Redis key of the project is built here. Keys carry a prefix and a layout
 * version, and all keys of one user share the hash tag `{userId}`, so the multi-key
 * scripts run unchanged on Redis Cluster.
 */
export interface KeySpace {
  /** Sorted set of the user's issued, unexpired, unrevoked tokens: member jti, score exp. Expires. */
  userTokens(userId: string): string;
  /** Sorted set of the user's revoked, unexpired tokens: member jti, score exp. Expires. */
  userRevoked(userId: string): string;
  /**
   * Sorted set of the user's sessions: member session id, score the session's end (ms).
   * Expires with its last session (src/sessions/).
   */
  userSessions(userId: string): string;
  /** Hash of the user's sessions: field session id, value the session record (JSON). Expires with userSessions. */
  userSessionData(userId: string): string;
  /** Sorted set of the user's sessions by last use (ms): the eviction order at SESSIONS_MAX_PER_USER. Expires with userSessions. */
  userSessionUse(userId: string): string;
  /**
   * A key of the user's that endAllSessions renames a whole set or hash to (in its script:
   * O(1)) before unlinking it outside the script, where Redis frees it in the background
   * (UNLINK inside a script frees synchronously). `name` is random; the key expires in 60 s
   * should the UNLINK never come.
   */
  userTrash(userId: string, name: string): string;
  /**
   * The user record (permanent): hash of id, username, passwordHash, createdAt, and when set
   * scopes (sorted, space-separated) and disabled ('1').
   */
  user(userId: string): string;
  /** Username (normalized) to user id (permanent). */
  username(normalizedUsername: string): string;
  /**
   * The data marker of one shard (permanent, no TTL): a hash of `epoch` (random, set when
   * the marker is created), `seq` (bumped after every write to the shard) and `cutoff`
   * (tokens issued before it, in seconds, are refused: set when a loss was detected).
   * Candidate `index` has the hash tag `{shard-<index>}`; the watcher picks, per Cluster
   * master, a candidate whose slot that master owns (src/safeguards/data-loss-watcher.ts).
   */
  shardMarker(index: number): string;
  /**
   * A SCAN MATCH pattern for every key of this key space (prefix and layout version, glob
   * characters of the prefix escaped): the command line's check that it reaches the server's data.
   */
  everyKeyPattern(): string;
}

/** The current layout version: bump it when the shape of a key's value changes. */
export const KEY_LAYOUT_VERSION = 'v1';

/** Builds the key space under `prefix` (default 'gr'). */
export function createKeySpace(prefix = 'gr'): KeySpace {
  const base = `${prefix}:${KEY_LAYOUT_VERSION}`;
  return {
    userTokens: (userId) => `${base}:{${userId}}:t`,
    userRevoked: (userId) => `${base}:{${userId}}:r`,
    userSessions: (userId) => `${base}:{${userId}}:s`,
    userSessionData: (userId) => `${base}:{${userId}}:sd`,
    userSessionUse: (userId) => `${base}:{${userId}}:su`,
    userTrash: (userId, name) => `${base}:{${userId}}:x:${name}`,
    user: (userId) => `${base}:{${userId}}:u`,
    username: (name) => `${base}:n:{${name}}`,
    shardMarker: (index) => `${base}:m:{shard-${index}}`,
    everyKeyPattern: () => `${base.replace(/[*?[\]\\]/g, '\\$&')}:*`,
  };
}
