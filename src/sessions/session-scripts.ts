import { CUTOFF_RETENTION_SECONDS } from './revocation-markers.js';

/**
 * Lua scripts of the Redis session store. Each runs atomically on four keys of ONE user
 * (one hash tag, so one Cluster slot, every key declared):
 *
 *   KEYS[1] tokens    sorted set jti -> accept-until (s): the issued set of the revocation store
 *   KEYS[2] revoked   sorted set jti | marker -> keep-until (s): what the per-request ZMSCORE reads
 *   KEYS[3] sessions  sorted set sid -> session end (ms)
 *   KEYS[4] data      hash sid -> session record (JSON)
 *
 * Every decision about time uses Redis's clock (TIME), never the caller's: a skewed API
 * instance can't keep a session alive or end it early, and the time each script returns
 * is what the access token carries as iat_ms (revocation-markers.ts: the same-second rule).
 *
 * A session record: n username, c created, u last used, ae absolute end, ie idle end, a auth time (ms),
 * h current refresh hash, p the one it replaced, pa when, x the successor sealed for the
 * grace rule, o older used hashes (their first 22 characters: 128 bits, comma-separated, last 8), ua, ip,
 * j the session's live access tokens [[jti, accept-until], ...].
 *
 * Keys expire: sessions and data at the last session's end + RETAIN (so an expired refresh
 * token is told EXPIRED for that long, then INVALID); tokens and revoked at their largest score.
 */

// `#!lua` (Redis 7 script flags, none set): under noeviction a full Redis refuses the whole
// script with OOM before it writes anything, so a session write never half-succeeds (issue 10).
const COMMON = `#!lua
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
-- Drops sessions ended more than retain_ms ago.
local function prune_sessions(now, retain_ms)
  local limit = '(' .. string.format('%d', now - retain_ms)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', limit)
  if #gone > 0 then
    redis.call('HDEL', KEYS[4], unpack(gone))
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', limit)
  end
end
local function expire_sessions(retain_ms)
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  if last[2] then
    local at = math.ceil((tonumber(last[2]) + retain_ms) / 1000) + 1
    redis.call('EXPIREAT', KEYS[3], at)
    redis.call('EXPIREAT', KEYS[4], at)
  else
    redis.call('DEL', KEYS[3], KEYS[4])
  end
end
local function session_end(s) return math.min(s.ae, s.ie) end
local function save(sid, s)
  redis.call('HSET', KEYS[4], sid, cjson.encode(s))
  redis.call('ZADD', KEYS[3], string.format('%d', session_end(s)), sid)
end
-- Records an access token in the issued set and in the session's own list.
local function record_token(s, jti, now, ttl, grace)
  local now_s = math.floor(now / 1000)
  local until_s = now_s + ttl + grace
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_s)
  redis.call('ZADD', KEYS[1], until_s, jti)
  expire_at_last(KEYS[1])
  local live = {}
  for _, e in ipairs(s.j or {}) do
    if tonumber(e[2]) >= now_s then live[#live + 1] = e end
  end
  live[#live + 1] = { jti, until_s }
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
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now_s)
  redis.call('ZADD', KEYS[2], until_s, '#s:' .. sid)
  expire_at_last(KEYS[2])
end
local function client(s, ua, ip)
  if ua ~= '' then s.ua = ua else s.ua = nil end
  if ip ~= '' then s.ip = ip else s.ip = nil end
end
`;

/**
 * ARGV: sid, username, refresh hash, jti, access ttl (s), expiry grace (s), absolute ttl (s),
 * idle ttl (s), retain (ms), user agent, ip. Returns { now, record }.
 */
export const CREATE_SESSION = `${COMMON}
local sid = ARGV[1]
local now = stamp(now_ms())
local retain = tonumber(ARGV[9])
prune_sessions(now, retain)
local s = { n = ARGV[2], c = now, u = now, a = now, ae = now + tonumber(ARGV[7]) * 1000, ie = now + tonumber(ARGV[8]) * 1000,
  h = ARGV[3], p = '', pa = 0, x = '', o = '', j = {} }
client(s, ARGV[10], ARGV[11])
record_token(s, ARGV[4], now, tonumber(ARGV[5]), tonumber(ARGV[6]))
save(sid, s)
expire_sessions(retain)
return { string.format('%d', now), cjson.encode(s) }
`;

/**
 * ARGV: sid, presented hash, successor hash, successor sealed, jti, access ttl (s), expiry
 * grace (s), idle ttl (s), reuse grace (s), retain (ms), user agent, ip.
 * Returns { 'ROTATED', now, record } | { 'GRACE', now, record, sealed } | { 'REUSED', now, record (as it was: for the session-ended event) } |
 * { 'INVALID' } | { 'EXPIRED' }.
 *
 * One live refresh token per session: the current one (h). The one it replaced (p) within
 * the reuse grace gets the current one back (sealed by the rotation), never a new one; any
 * other presentation of a used token (p after the grace, or one of o) ends the session.
 */
export const REFRESH_SESSION = `${COMMON}
local sid, presented = ARGV[1], ARGV[2]
local ttl, grace = tonumber(ARGV[6]), tonumber(ARGV[7])
local idle, reuse_grace, retain = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local now = stamp(now_ms())
prune_sessions(now, retain)
local raw = redis.call('HGET', KEYS[4], sid)
if not raw then return { 'INVALID' } end
local s = cjson.decode(raw)
local match
if s.h == presented then match = 'current'
elseif s.p ~= '' and s.p == presented then match = 'previous'
elseif s.o ~= '' and string.find(',' .. s.o .. ',', ',' .. string.sub(presented, 1, 22) .. ',', 1, true) then match = 'old'
else return { 'INVALID' } end
if now >= session_end(s) then return { 'EXPIRED' } end
if match == 'previous' and reuse_grace > 0 and now - tonumber(s.pa) <= reuse_grace * 1000 then
  record_token(s, ARGV[5], now, ttl, grace)
  s.u = now
  s.ie = math.max(s.ie, now + idle * 1000)
  client(s, ARGV[11], ARGV[12])
  save(sid, s)
  expire_sessions(retain)
  return { 'GRACE', string.format('%d', now), cjson.encode(s), s.x }
end
if match ~= 'current' then
  end_session(sid, s, now, ttl, grace)
  expire_sessions(retain)
  return { 'REUSED', string.format('%d', now), raw }
end
if s.p ~= '' then
  local used = {}
  for h in string.gmatch(s.o, '[^,]+') do used[#used + 1] = h end
  used[#used + 1] = string.sub(s.p, 1, 22)
  while #used > 8 do table.remove(used, 1) end
  s.o = table.concat(used, ',')
end
s.p, s.pa, s.h, s.x = s.h, now, ARGV[3], ARGV[4]
s.u = now
s.ie = now + idle * 1000
client(s, ARGV[11], ARGV[12])
record_token(s, ARGV[5], now, ttl, grace)
save(sid, s)
expire_sessions(retain)
return { 'ROTATED', string.format('%d', now), cjson.encode(s) }
`;

/**
 * changePassword's fresh pair for the current session. ARGV: sid, refresh hash, jti, access
 * ttl (s), expiry grace (s), idle ttl (s), retain (ms), user agent, ip. The replaced token is
 * forgotten (INVALID from now on, not REUSED: the caller did not present it).
 * Returns { now, record } or {} when the session is not live.
 */
export const REISSUE_SESSION = `${COMMON}
local sid = ARGV[1]
local retain = tonumber(ARGV[7])
local now = stamp(now_ms())
prune_sessions(now, retain)
local raw = redis.call('HGET', KEYS[4], sid)
if not raw then return {} end
local s = cjson.decode(raw)
if now >= session_end(s) then return {} end
s.h, s.p, s.pa, s.x, s.o = ARGV[2], '', 0, '', ''
s.u = now
s.a = now
s.ie = now + tonumber(ARGV[6]) * 1000
client(s, ARGV[8], ARGV[9])
record_token(s, ARGV[3], now, tonumber(ARGV[4]), tonumber(ARGV[5]))
save(sid, s)
expire_sessions(retain)
return { string.format('%d', now), cjson.encode(s) }
`;

/**
 * reauthenticate: the password was checked again. ARGV: sid, jti, access ttl (s), expiry
 * grace (s), idle ttl (s), retain (ms), user agent, ip. The refresh token is left as it is.
 * Returns { now, record } or {} when the session is not live.
 */
export const REAUTHENTICATE_SESSION = `${COMMON}
local sid = ARGV[1]
local retain = tonumber(ARGV[6])
local now = stamp(now_ms())
prune_sessions(now, retain)
local raw = redis.call('HGET', KEYS[4], sid)
if not raw then return {} end
local s = cjson.decode(raw)
if now >= session_end(s) then return {} end
s.u = now
s.a = now
s.ie = math.max(s.ie, now + tonumber(ARGV[5]) * 1000)
client(s, ARGV[7], ARGV[8])
record_token(s, ARGV[2], now, tonumber(ARGV[3]), tonumber(ARGV[4]))
save(sid, s)
expire_sessions(retain)
return { string.format('%d', now), cjson.encode(s) }
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

/**
 * ARGV: cutoff retention (s), retain (ms), kept sid ('' for none), current jti ('' for
 * none), its accept-until (s). Sets the cutoff #c at Redis's now (and #k:<kept sid> with the
 * same score), moves every recorded token but the kept session's into the revoked set,
 * ends every other session. Returns how many tokens became revoked.
 */
export const END_ALL_SESSIONS = `${COMMON}
local retention, retain, kept = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
-- After the previous cutoff, strictly: a session kept by it (#k, same score) is not kept by this one.
local now = stamp(now_ms())
local now_s = math.floor(now / 1000)
prune_sessions(now, retain)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_s)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now_s)
local keep = {}
if kept ~= '' then
  local raw = redis.call('HGET', KEYS[4], kept)
  if raw then
    for _, e in ipairs(cjson.decode(raw).j or {}) do keep[e[1]] = true end
  end
end
local count = 0
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #live, 2 do
  local jti = live[i]
  if not keep[jti] then
    count = count + redis.call('ZADD', KEYS[2], 'GT', live[i + 1], jti)
    redis.call('ZREM', KEYS[1], jti)
  end
end
if ARGV[4] ~= '' and not keep[ARGV[4]] then
  count = count + redis.call('ZADD', KEYS[2], 'GT', ARGV[5], ARGV[4])
end
local score = string.format('%.3f', (now + retention * 1000) / 1000)
redis.call('ZADD', KEYS[2], score, '#c')
if kept ~= '' then redis.call('ZADD', KEYS[2], score, '#k:' .. kept) end
expire_at_last(KEYS[2])
expire_at_last(KEYS[1])
for _, sid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if sid ~= kept then
    redis.call('HDEL', KEYS[4], sid)
    redis.call('ZREM', KEYS[3], sid)
  end
end
expire_sessions(retain)
return count
`;

/** Read-only. Returns { now, record, record, ... } of the sessions not yet ended. */
export const LIST_SESSIONS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = { string.format('%d', now) }
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', now), '+inf')
if #live == 0 then return out end
local records = redis.call('HMGET', KEYS[2], unpack(live))
for i = 1, #live do
  if records[i] then out[#out + 1] = live[i]; out[#out + 1] = records[i] end
end
return out
`;
