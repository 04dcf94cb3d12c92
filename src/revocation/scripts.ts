/**
 * Lua scripts of the Redis store. Each runs atomically and touches only keys of one
 * user (one hash tag, so one Cluster slot). Scores are "accept until" times in
 * seconds: the token's exp plus the verifier's clock tolerance, because a token is
 * still accepted for that long after its exp, plus the largest clock skew an instance may
 * have (MAX_CLOCK_SKEW): an instance whose clock is behind still accepts the token then.
 *
 * "Now" is Redis' own clock (TIME), never the caller's: entries are pruned and keys
 * expire by the same clock, so no API host's clock decides what is forgotten (issue 10).
 * Redis 7 replicates a script's effects, so calling TIME before writing is allowed (the
 * scripts need Redis 7: TIME and the `#!lua` flags line).
 */

// Keeps a sorted set's TTL at its largest score, so the key goes when its last entry would.
// The `#!lua` line (Redis 7 script flags, none set) makes Redis refuse the whole script with
// OOM when it is full under noeviction; without it, a script that already changed a key may
// go on writing past maxmemory, and a revocation could succeed half-way.
const EXPIRE_AT_LAST = `#!lua
local function redis_now()
  return tonumber(redis.call('TIME')[1])
end
local function expire_at_last(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('EXPIREAT', key, math.ceil(tonumber(last[2])) + 1) end
end
`;

/** KEYS: tokens. ARGV: jti, acceptUntil. Prunes expired entries (by Redis' TIME), adds the token. */
export const RECORD_ISSUED = `${EXPIRE_AT_LAST}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. redis_now())
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
expire_at_last(KEYS[1])
return 1
`;

/**
 * KEYS: tokens, revoked. ARGV: jti, acceptUntil. Moves the token from the issued
 * set to the revoked set. Returns 1 if it was not revoked before.
 */
export const REVOKE = `${EXPIRE_AT_LAST}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. redis_now())
local added = redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
expire_at_last(KEYS[2])
return added
`;

/**
 * KEYS: tokens, revoked. ARGV: [jti, acceptUntil] of the caller's token.
 * Moves every live issued token into the revoked set in one step (ZUNIONSTORE), so a
 * token recorded concurrently is either revoked or left valid, never half. Returns how
 * many tokens became revoked.
 */
export const REVOKE_ALL = `${EXPIRE_AT_LAST}
local cutoff = '(' .. redis_now()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
local before = redis.call('ZCARD', KEYS[2])
if ARGV[1] then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[1], 'AGGREGATE', 'MAX')
  redis.call('DEL', KEYS[1])
end
expire_at_last(KEYS[2])
return redis.call('ZCARD', KEYS[2]) - before
`;
