import { completedMagic } from './record.js'

// Every script is sent with EVAL, never EVALSHA: one round trip every time, including the first call,
// after a restart, a failover or a SCRIPT FLUSH (EVALSHA would answer NOSCRIPT and cost a second trip),
// and on whichever Cluster node owns the key. Each is under 400 bytes; Redis caches the compiled script.
//
// KEYS[1] the key; ARGV[1] the pending prefix of the caller's owner token ("zt1p" owner "\n").

/**
 * Replaces the caller's pending record with the completed record (ARGV[2] is the encoded response,
 * ARGV[3] the retention in ms), keeping the fingerprint the claim stored. Returns 1, or 0 when the caller
 * no longer holds the key (expired and maybe claimed by another request, or already completed).
 */
export const completeScript = `local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1]) == ARGV[1] then
  local fingerprint = string.sub(current, #ARGV[1] + 1)
  redis.call('SET', KEYS[1], '${completedMagic}' .. #fingerprint .. '\\n' .. fingerprint .. ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`

/** Deletes the key when the caller's pending record is still there. Returns 1, or 0 when it is not. */
export const releaseScript = `local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`

/**
 * Resets the key's expiry to ARGV[2] ms from now when the caller's pending record is still there (the
 * layer's lock renewal). Returns 1, or 0 when it is not: a completed record keeps its retention.
 */
export const extendScript = `local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`

// The scripts of claims that name a caller. Every key of one call shares the caller's hash tag, so a
// call stays on one Redis Cluster slot:
//
//   KEYS[1] the record:   <prefix>{<tag>}:<key>
//   KEYS[2] the entries:  <prefix>{<tag>}e, a sorted set of the caller's keys, each scored by when it may
//                         go: a claim when its lock lapses, a response past "minRetention" (or at its
//                         expiry, if sooner)
//   KEYS[3] the sizes:    <prefix>{<tag>}s, a hash of ":<key>" to the stored size ("p" for a claim) and
//                         "b" to the caller's total bytes
//   ARGV[1] <prefix>{<tag>}, ARGV[2] the key; the rest per script.
//
// A caller over its share first drops what may go now, the first due first, at most 128 entries a call
// (more, and it answers a wait of 0: the next call goes on): lapsed claims, and its responses past "minRetention" or their expiry. When that is not enough,
// the wait is that of the first entry that frees what is short: any entry when the caller is at its
// count of keys, its first response when only bytes are short (a claim holds none). The entries read to
// find that response are bounded too; past them, "minRetention" bounds the wait, as every response of
// the caller may go within it.
const batch = 128
const quotaPrelude = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function bytes() return tonumber(redis.call('HGET', KEYS[3], 'b') or '0') end
local function keep(ms)
  for i = 2, 3 do
    if redis.call('PTTL', KEYS[i]) < ms then redis.call('PEXPIRE', KEYS[i], ms) end
  end
end
local function drop(member, evict)
  local size = redis.call('HGET', KEYS[3], ':' .. member)
  redis.call('ZREM', KEYS[2], member)
  redis.call('HDEL', KEYS[3], ':' .. member)
  if size and size ~= 'p' then
    redis.call('HINCRBY', KEYS[3], 'b', -tonumber(size))
    -- The record of an evicted response, built from ARGV[1] ("<prefix>{<tag>}", where KEYS[1] starts):
    -- the same hash tag, so the same Cluster slot by construction (the prefix holds no brace).
    if evict then redis.call('DEL', ARGV[1] .. ':' .. member) end
  end
end
local function room(over, bytesOnly, longest)
  if not over() then return nil end
  local due = redis.call('ZRANGE', KEYS[2], '-inf', now, 'BYSCORE', 'LIMIT', 0, ${batch})
  for i = 1, #due do
    drop(due[i], true)
    if not over() then return nil end
  end
  if #due == ${batch} then return 0 end
  local short = bytesOnly()
  local first = redis.call('ZRANGE', KEYS[2], 0, short and ${batch - 1} or 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('DEL', KEYS[3])
    if over() then return 0 end
    return nil
  end
  for i = 1, #first, 2 do
    if not short or redis.call('HGET', KEYS[3], ':' .. first[i]) ~= 'p' then
      return math.max(tonumber(first[i + 1]) - now, 0)
    end
  end
  return longest
end
`

/**
 * Claims a free key for a caller within its share (ARGV[3] the pending record, ARGV[4] the lock TTL,
 * ARGV[5] and ARGV[6] the share in keys and bytes, ARGV[7] "minRetention"). Returns the record already
 * under the key (in flight or completed; the share is not consulted), 1 when claimed, or `{ ms }` when the
 * caller is at its share and nothing of its own may go yet: `ms` until the first entry that makes room may.
 */
export const claimQuotaScript = `local current = redis.call('GET', KEYS[1])
if current then return current end
${quotaPrelude}
drop(ARGV[2], false)
local maxEntries, maxBytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local function count() return redis.call('ZCARD', KEYS[2]) end
local wait = room(function() return count() >= maxEntries or bytes() >= maxBytes end,
  function() return count() < maxEntries end, tonumber(ARGV[7]))
if wait then return {wait} end
local ttl = tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
redis.call('HSET', KEYS[3], ':' .. ARGV[2], 'p')
keep(ttl)
return 1`

/**
 * Completes the caller's claim as {@link completeScript} does (ARGV[3] the pending prefix, ARGV[4] the
 * encoded response, ARGV[5] the retention), counting ARGV[6] bytes against the share of ARGV[7] bytes;
 * the response stays evictable for its caller after ARGV[8] ms. Returns 1, 0 when the caller no longer
 * holds the key, or `{ ms }` when the response does not fit the share.
 */
export const completeQuotaScript = `local current = redis.call('GET', KEYS[1])
if not (current and string.sub(current, 1, #ARGV[3]) == ARGV[3]) then return 0 end
${quotaPrelude}
local size, maxBytes = tonumber(ARGV[6]), tonumber(ARGV[7])
local wait = room(function() return bytes() + size > maxBytes end, function() return true end,
  tonumber(ARGV[8]))
if wait then return {wait} end
local fingerprint = string.sub(current, #ARGV[3] + 1)
local retention = tonumber(ARGV[5])
redis.call('SET', KEYS[1], '${completedMagic}' .. #fingerprint .. '\\n' .. fingerprint .. ARGV[4], 'PX', retention)
drop(ARGV[2], false)
redis.call('ZADD', KEYS[2], now + math.min(retention, tonumber(ARGV[8])), ARGV[2])
redis.call('HSET', KEYS[3], ':' .. ARGV[2], size)
redis.call('HINCRBY', KEYS[3], 'b', size)
keep(retention)
return 1`

/** Releases the caller's claim (ARGV[3] the pending prefix) and its entry. Returns 1, or 0. */
export const releaseQuotaScript = `local current = redis.call('GET', KEYS[1])
if not (current and string.sub(current, 1, #ARGV[3]) == ARGV[3]) then return 0 end
${quotaPrelude}
redis.call('DEL', KEYS[1])
drop(ARGV[2], false)
return 1`

/** Renews the caller's claim (ARGV[3] the pending prefix) for ARGV[4] ms, and its entry. Returns 1, or 0. */
export const extendQuotaScript = `local current = redis.call('GET', KEYS[1])
if not (current and string.sub(current, 1, #ARGV[3]) == ARGV[3]) then return 0 end
${quotaPrelude}
local ttl = tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
redis.call('HSET', KEYS[3], ':' .. ARGV[2], 'p')
keep(ttl)
return 1`
