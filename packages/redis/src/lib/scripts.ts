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
