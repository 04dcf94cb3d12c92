/**
 * Lua scripts of the Redis user store. Each touches the one user hash it is given, so it
 * runs atomically and unchanged on Redis Cluster. Neither creates a hash for an unknown id.
 */

/**
 * KEYS: user. ARGV: how many scopes to add (n), the n scopes to add, then the scopes to
 * remove. The `scopes` field holds the set sorted and space-separated, and is deleted when
 * empty. Returns { before, after } (two strings), or nil when there is no such user.
 */
export const UPDATE_SCOPES = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local before = redis.call('HGET', KEYS[1], 'scopes') or ''
local set = {}
for scope in string.gmatch(before, '%S+') do set[scope] = true end
local adds = tonumber(ARGV[1])
for i = 2, adds + 1 do set[ARGV[i]] = true end
for i = adds + 2, #ARGV do set[ARGV[i]] = nil end
local list = {}
for scope in pairs(set) do list[#list + 1] = scope end
table.sort(list)
local after = table.concat(list, ' ')
if after == '' then redis.call('HDEL', KEYS[1], 'scopes') else redis.call('HSET', KEYS[1], 'scopes', after) end
return { before, after }
`;

/** KEYS: user. ARGV: '1' to disable, '0' to enable. Returns 1 or 0 (disabled before), or -1 when there is no such user. */
export const SET_DISABLED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local was = redis.call('HEXISTS', KEYS[1], 'disabled')
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'disabled', '1') else redis.call('HDEL', KEYS[1], 'disabled') end
return was
`;
