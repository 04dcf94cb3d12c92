import { STORE_CHUNK, SESSION_TOKENS_KEPT } from './session-store.js';
import { CUTOFF_RETENTION_SECONDS } from './revocation-markers.js';

/**
 * Lua scripts of the Redis session store. Each runs atomically on five keys of ONE user
 * (one hash tag, so one Cluster slot, every key declared):
 *
 *   KEYS[1] tokens    sorted set jti -> accept-until (s): the issued set of the revocation store
 *   KEYS[2] revoked   sorted set jti | marker -> keep-until (s): what the per-request ZMSCORE reads
 *   KEYS[3] sessions  sorted set sid -> session end (ms)
 *   KEYS[4] data      hash sid -> session record (JSON)
 *   KEYS[5] use       sorted set sid -> last use (ms): the eviction order (least recently used first)
 *
 * Every decision about time uses Redis's clock (TIME), never the caller's: a skewed API
 * instance can't keep a session alive or end it early, and the time each script returns
 * is what the access token carries as iat_ms (revocation-markers.ts: the same-second rule).
 *
 * A session record: n username, c created, u last used, ae absolute end, ie idle end, a auth time (ms),
 * g the current refresh generation, f the lowest generation still known (a reissue forgets the
 * ones before: INVALID, not REUSED), pa when g was set by a rotation (0: by sign-in or reissue),
 * ua, ip, j the session's last ${SESSION_TOKENS_KEPT} access tokens [[jti, accept-until], ...].
 * Constant size: no list in it grows with rotations (refresh-token.ts).
 *
 * Bounded work (issue 18): no script unpacks or walks an unbounded list. Expired entries are
 * pruned at most ${STORE_CHUNK} per call (ZCOUNT then ZREMRANGEBYRANK: both O(log N) plus what
 * is removed); the cap is counted with ZCOUNT; ending every session sets the cutoff (which
 * already refuses every token issued before it), then renames the user's session and token
 * keys away (O(1)), and the store UNLINKs them outside the script, where Redis frees them in
 * the background (inside a script UNLINK frees synchronously: 1.5 ms for 20,000 sessions idle,
 * 14 ms seen under load). Listing is done by the store in
 * ${STORE_CHUNK}-session pages, not by a script.
 *
 * Keys expire: sessions, data and use at the last session's end + RETAIN (so an expired refresh
 * token is told EXPIRED for that long, then INVALID); tokens and revoked at their largest score.
 */

// `#!lua` (Redis 7 script flags, none set): under noeviction a full Redis refuses the whole
// script with OOM before it writes anything, so a session write never half-succeeds (issue 10).
const COMMON = `#!lua
local CHUNK = ${STORE_CHUNK}
local TOKENS_KEPT = ${SESSION_TOKENS_KEPT}
local CUTOFF_RETENTION = ${CUTOFF_RETENTION_SECONDS}
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The time an access token is stamped with (iat_ms): now, but always after the user's
-- cutoff, which refuses iat_ms <= cutoff (revocation-markers.ts), even if the clock stepped back.
local function stamp(now)
  local c = redis.call('ZSCORE', KEYS[2], '#c')
  if c then
    local cutoff = math.floor(tonumber(c) * 1000 + 0.5) - ${CUTOFF_RETENTION_SECONDS * 1000}
    if now <= cutoff then return cutoff + 1 end
  end
  return now
end
local function expire_at_last(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('EXPIREAT', key, math.ceil(tonumber(last[2])) + 1) end
end
-- Drops at most CHUNK entries scored below 'below' (the lowest first): O(log N) plus what goes.
local function prune_below(key, below)
  local n = redis.call('ZCOUNT', key, '-inf', '(' .. string.format('%d', below))
  if n > 0 then redis.call('ZREMRANGEBYRANK', key, 0, math.min(n, CHUNK) - 1) end
end
-- Drops at most CHUNK sessions ended more than retain_ms ago.
local function prune_sessions(now, retain_ms)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%d', now - retain_ms), 'LIMIT', 0, CHUNK)
  if #gone > 0 then
    redis.call('HDEL', KEYS[4], unpack(gone))
    redis.call('ZREM', KEYS[3], unpack(gone))
    redis.call('ZREM', KEYS[5], unpack(gone))
  end
end
local function expire_sessions(retain_ms)
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  if last[2] then
    local at = math.ceil((tonumber(last[2]) + retain_ms) / 1000) + 1
    redis.call('EXPIREAT', KEYS[3], at)
    redis.call('EXPIREAT', KEYS[4], at)
    redis.call('EXPIREAT', KEYS[5], at)
  else
    redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
  end
end
local function session_end(s) return math.min(s.ae, s.ie) end
local function save(sid, s)
  redis.call('HSET', KEYS[4], sid, cjson.encode(s))
  redis.call('ZADD', KEYS[3], string.format('%d', session_end(s)), sid)
  redis.call('ZADD', KEYS[5], string.format('%d', s.u), sid)
end
-- Records an access token in the issued set and in the session's own list (its last
-- TOKENS_KEPT: an older one leaves the issued set too, unless it outlives the cutoff's
-- retention, so the issued set holds at most TOKENS_KEPT per session).
local function record_token(s, jti, now, ttl, grace)
  local now_s = math.floor(now / 1000)
  local until_s = now_s + ttl + grace
  prune_below(KEYS[1], now_s)
  redis.call('ZADD', KEYS[1], until_s, jti)
  expire_at_last(KEYS[1])
  local live = {}
  for _, e in ipairs(s.j or {}) do
    if tonumber(e[2]) >= now_s then live[#live + 1] = e end
  end
  live[#live + 1] = { jti, until_s }
  while #live > TOKENS_KEPT do
    local old = table.remove(live, 1)
    if tonumber(old[2]) <= now_s + CUTOFF_RETENTION then redis.call('ZREM', KEYS[1], old[1]) end
  end
  s.j = live
end
-- Ends a session: gone from the index, its tokens refused by the marker #s:<sid>.
local function end_session(sid, s, now, ttl, grace)
  local now_s = math.floor(now / 1000)
  local until_s = now_s + ttl + grace
  for _, e in ipairs(s.j or {}) do
    redis.call('ZREM', KEYS[1], e[1])
    if tonumber(e[2]) > until_s then until_s = tonumber(e[2]) end
  end
  redis.call('HDEL', KEYS[4], sid)
  redis.call('ZREM', KEYS[3], sid)
  redis.call('ZREM', KEYS[5], sid)
  prune_below(KEYS[2], now_s)
  redis.call('ZADD', KEYS[2], until_s, '#s:' .. sid)
  expire_at_last(KEYS[2])
end
local function client(s, ua, ip)
  if ua ~= '' then s.ua = ua else s.ua = nil end
  if ip ~= '' then s.ip = ip else s.ip = nil end
end
`;

/**
 * ARGV: sid, username, jti, access ttl (s), expiry grace (s), absolute ttl (s), idle ttl (s),
 * retain (ms), user agent, ip, max live sessions, policy ('evict-oldest' | 'refuse-new').
 * Returns { 'LIMIT' } (refuse-new at the cap: nothing written) or
 * { 'CREATED', now, record, evicted sid, evicted record (as it was), ... }.
 *
 * At the cap (live sessions counted with ZCOUNT), evict-oldest ends the least recently used
 * live session(s), exactly as END_SESSION does, before the new one is written.
 */
export const CREATE_SESSION = `${COMMON}
local sid = ARGV[1]
local now = stamp(now_ms())
local ttl, grace = tonumber(ARGV[4]), tonumber(ARGV[5])
local retain = tonumber(ARGV[8])
local max, policy = tonumber(ARGV[11]), ARGV[12]
prune_sessions(now, retain)
local out = { 'CREATED', string.format('%d', now), '' }
local live = redis.call('ZCOUNT', KEYS[3], '(' .. string.format('%d', now), '+inf')
if live >= max then
  if policy == 'refuse-new' then return { 'LIMIT' } end
  local tries = 0
  while live >= max and tries < CHUNK do
    tries = tries + 1
    local oldest = redis.call('ZRANGE', KEYS[5], 0, 0)[1]
    if not oldest then break end
    local raw = redis.call('HGET', KEYS[4], oldest)
    local o = raw and cjson.decode(raw)
    if not o or now >= session_end(o) then
      -- Not live (ended by time, kept only to say EXPIRED): out of the eviction order.
      redis.call('ZREM', KEYS[5], oldest)
    else
      end_session(oldest, o, now, ttl, grace)
      out[#out + 1] = oldest
      out[#out + 1] = raw
      live = live - 1
    end
  end
end
local s = { n = ARGV[2], c = now, u = now, a = now, ae = now + tonumber(ARGV[6]) * 1000, ie = now + tonumber(ARGV[7]) * 1000,
  g = 1, f = 1, pa = 0, j = {} }
client(s, ARGV[9], ARGV[10])
record_token(s, ARGV[3], now, ttl, grace)
save(sid, s)
expire_sessions(retain)
out[3] = cjson.encode(s)
return out
`;

/**
 * ARGV: sid, presented generation, jti, access ttl (s), expiry grace (s), idle ttl (s),
 * reuse grace (s), retain (ms), user agent, ip.
 * Returns { 'ROTATED', now, record, generation } | { 'GRACE', now, record, generation } |
 * { 'REUSED', now, record (as it was: for the session-ended event) } | { 'INVALID' } | { 'EXPIRED' }.
 *
 * The presented generation (its MAC verified by the caller): the current one rotates; the one
 * before within the reuse grace gets the current one back (nothing new); any other earlier one
 * (a replaced token, however many rotations ago) ends the session; a later one, or one before
 * the last reissue, is INVALID.
 */
export const REFRESH_SESSION = `${COMMON}
local sid, presented = ARGV[1], tonumber(ARGV[2])
local ttl, grace = tonumber(ARGV[4]), tonumber(ARGV[5])
local idle, reuse_grace, retain = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local now = stamp(now_ms())
prune_sessions(now, retain)
local raw = redis.call('HGET', KEYS[4], sid)
if not raw then return { 'INVALID' } end
local s = cjson.decode(raw)
if type(s.g) ~= 'number' or not presented or presented > s.g or presented < s.f then return { 'INVALID' } end
if now >= session_end(s) then return { 'EXPIRED' } end
if presented == s.g - 1 and s.pa > 0 and reuse_grace > 0 and now - s.pa <= reuse_grace * 1000 then
  record_token(s, ARGV[3], now, ttl, grace)
  s.u = now
  s.ie = math.max(s.ie, now + idle * 1000)
  client(s, ARGV[9], ARGV[10])
  save(sid, s)
  expire_sessions(retain)
  return { 'GRACE', string.format('%d', now), cjson.encode(s), string.format('%d', s.g) }
end
if presented ~= s.g then
  end_session(sid, s, now, ttl, grace)
  expire_sessions(retain)
  return { 'REUSED', string.format('%d', now), raw }
end
s.g, s.pa = s.g + 1, now
s.u = now
s.ie = now + idle * 1000
client(s, ARGV[9], ARGV[10])
record_token(s, ARGV[3], now, ttl, grace)
save(sid, s)
expire_sessions(retain)
return { 'ROTATED', string.format('%d', now), cjson.encode(s), string.format('%d', s.g) }
`;

/**
 * The password was checked again in a live session: a new access token recorded and the auth
 * time set to now. ARGV: sid, jti, access ttl (s), expiry grace (s), idle ttl (s), retain (ms),
 * user agent, ip, mode. Mode 'reissue' (changePassword's fresh pair): the generation goes up and
 * every earlier one is forgotten (INVALID from now on, not REUSED: the caller did not present
 * it). Mode 'reauthenticate': the refresh token (generation) is left as it is.
 * Returns { now, record, generation } or {} when the session is not live.
 */
export const RENEW_SESSION = `${COMMON}
local sid = ARGV[1]
local retain = tonumber(ARGV[6])
local now = stamp(now_ms())
prune_sessions(now, retain)
local raw = redis.call('HGET', KEYS[4], sid)
if not raw then return {} end
local s = cjson.decode(raw)
if type(s.g) ~= 'number' or now >= session_end(s) then return {} end
local idle_end = now + tonumber(ARGV[5]) * 1000
if ARGV[9] == 'reissue' then
  s.g = s.g + 1
  s.f, s.pa = s.g, 0
  s.ie = idle_end
else
  s.ie = math.max(s.ie, idle_end)
end
s.u = now
s.a = now
client(s, ARGV[7], ARGV[8])
record_token(s, ARGV[2], now, tonumber(ARGV[3]), tonumber(ARGV[4]))
save(sid, s)
expire_sessions(retain)
return { string.format('%d', now), cjson.encode(s), string.format('%d', s.g) }
`;

/** ARGV: sid, access ttl (s), expiry grace (s), retain (ms). Returns 1 if a live session was ended. */
export const END_SESSION = `${COMMON}
local sid = ARGV[1]
local retain = tonumber(ARGV[4])
local now = now_ms()
prune_sessions(now, retain)
local raw = redis.call('HGET', KEYS[4], sid)
if not raw then return 0 end
local s = cjson.decode(raw)
if now >= session_end(s) then return 0 end
end_session(sid, s, now, tonumber(ARGV[2]), tonumber(ARGV[3]))
expire_sessions(retain)
return 1
`;

// The kept session's recorded, live tokens: { {jti, score}, ... } and a set of their jtis.
const KEPT_TOKENS = `
local function kept_tokens(kept, now_s)
  local list, set = {}, {}
  if kept == '' then return list, set, nil end
  local raw = redis.call('HGET', KEYS[4], kept)
  if not raw then return list, set, nil end
  for _, e in ipairs(cjson.decode(raw).j or {}) do
    local score = redis.call('ZSCORE', KEYS[1], e[1])
    if score and tonumber(score) >= now_s then
      list[#list + 1] = { e[1], score }
      set[e[1]] = true
    end
  end
  return list, set, raw
end
`;

/**
 * KEYS[6..9]: four fresh trash keys of the user (keys.ts userTrash) for the tokens, sessions,
 * data and use keys. ARGV: cutoff retention (s), retain (ms), kept sid ('' for none), current jti ('' for
 * none), its accept-until (s). Returns { 'MORE' } (nothing written: too many recorded tokens
 * outlive the cutoff's retention; call END_ALL_PREPARE first) or { 'DONE', count }.
 *
 * Sets the cutoff #c at Redis's now (and #k:<kept sid> with the same score): from here every
 * token issued before is refused. Then, in O(1) whatever the user holds: the tokens that outlive
 * the cutoff's retention (none unless ACCESS_TOKEN_TTL is above it) go to the revoked set by jti,
 * the issued set and every session but the kept one are renamed to the trash keys (the caller
 * unlinks them: freed by Redis in the background) and the kept session and its tokens written back. The count: recorded live tokens
 * refused (ZCOUNT), plus the caller's token if it was never recorded.
 */
export const END_ALL_SESSIONS = `${COMMON}${KEPT_TOKENS}
local retention, retain, kept = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
-- After the previous cutoff, strictly: a session kept by it (#k, same score) is not kept by this one.
local now = stamp(now_ms())
local now_s = math.floor(now / 1000)
prune_sessions(now, retain)
prune_below(KEYS[1], now_s)
prune_below(KEYS[2], now_s)
local keep, keep_set, kept_raw = kept_tokens(kept, now_s)
local long = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', now_s + retention), '+inf', 'LIMIT', 0, CHUNK + #keep + 1)
if #long > CHUNK + #keep then return { 'MORE' } end
local count = redis.call('ZCOUNT', KEYS[1], now_s, '+inf') - #keep
for _, jti in ipairs(long) do
  if not keep_set[jti] then redis.call('ZADD', KEYS[2], 'GT', redis.call('ZSCORE', KEYS[1], jti), jti) end
end
if ARGV[4] ~= '' and not keep_set[ARGV[4]] then
  local recorded = redis.call('ZSCORE', KEYS[1], ARGV[4])
  local added = redis.call('ZADD', KEYS[2], 'GT', ARGV[5], ARGV[4])
  if not (recorded and tonumber(recorded) >= now_s) then count = count + added end
end
local score = string.format('%.3f', (now + retention * 1000) / 1000)
redis.call('ZADD', KEYS[2], score, '#c')
if kept ~= '' then redis.call('ZADD', KEYS[2], score, '#k:' .. kept) end
expire_at_last(KEYS[2])
-- Renamed away (O(1)) and given a short TTL; the caller UNLINKs them outside the script,
-- where Redis frees them in the background (inside a script UNLINK frees synchronously).
local function trash(key, to)
  if redis.call('EXISTS', key) == 1 then
    redis.call('RENAME', key, to)
    redis.call('EXPIRE', to, 60)
  end
end
trash(KEYS[1], KEYS[6])
for _, e in ipairs(keep) do redis.call('ZADD', KEYS[1], e[2], e[1]) end
expire_at_last(KEYS[1])
local kept_end = kept_raw and redis.call('ZSCORE', KEYS[3], kept)
local kept_use = kept_raw and redis.call('ZSCORE', KEYS[5], kept)
trash(KEYS[3], KEYS[7])
trash(KEYS[4], KEYS[8])
trash(KEYS[5], KEYS[9])
if kept_raw and kept_end then
  redis.call('HSET', KEYS[4], kept, kept_raw)
  redis.call('ZADD', KEYS[3], kept_end, kept)
  redis.call('ZADD', KEYS[5], kept_use or kept_end, kept)
end
expire_sessions(retain)
return { 'DONE', count }
`;

/**
 * ARGV: cutoff retention (s), kept sid ('' for none). Before END_ALL_SESSIONS when it answered
 * MORE: moves at most CHUNK recorded tokens that outlive the cutoff's retention (all but the
 * kept session's) to the revoked set by jti, ahead of the cutoff. Returns how many it moved.
 */
export const END_ALL_PREPARE = `${COMMON}${KEPT_TOKENS}
local retention, kept = tonumber(ARGV[1]), ARGV[2]
local now_s = math.floor(now_ms() / 1000)
local keep, keep_set = kept_tokens(kept, now_s)
local long = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', now_s + retention), '+inf', 'WITHSCORES', 'LIMIT', 0, CHUNK + #keep)
local moved = 0
for i = 1, #long, 2 do
  if not keep_set[long[i]] then
    redis.call('ZADD', KEYS[2], 'GT', long[i + 1], long[i])
    redis.call('ZREM', KEYS[1], long[i])
    moved = moved + 1
  end
end
expire_at_last(KEYS[2])
return moved
`;

/**
 * Read-only (token introspection and revocation). KEYS[1] data. ARGV: sid, presented
 * generation, reuse grace (s). Returns { 'CURRENT' | 'GRACE' | 'REPLACED', record } |
 * { 'INVALID' } | { 'EXPIRED' }: the same matching as REFRESH_SESSION, without its writes.
 */
export const INSPECT_REFRESH_TOKEN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return { 'INVALID' } end
local s = cjson.decode(raw)
local presented, reuse_grace = tonumber(ARGV[2]), tonumber(ARGV[3])
if type(s.g) ~= 'number' or not presented or presented > s.g or presented < s.f then return { 'INVALID' } end
if now >= math.min(s.ae, s.ie) then return { 'EXPIRED' } end
local match = 'REPLACED'
if presented == s.g then match = 'CURRENT'
elseif presented == s.g - 1 and s.pa > 0 and reuse_grace > 0 and now - s.pa <= reuse_grace * 1000 then match = 'GRACE' end
return { match, raw }
`;
