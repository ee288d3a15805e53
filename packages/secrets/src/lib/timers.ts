/** Delay before renewing something that lives `ttlMs`: about two thirds of it, with ±5% jitter. */
export function renewDelay(ttlMs: number, random: () => number = Math.random): number {
  // Jitter spreads the renewals of many replicas started together (a thundering herd at 2/3 of the TTL).
  return Math.max(1, Math.round(ttlMs * (0.62 + 0.09 * random())))
}

/** The longest delay a timer takes (a signed 32-bit integer of milliseconds, about 24.8 days). */
export const maxTimerDelay = 2_147_483_647

/**
 * A `setTimeout` that does not keep the process alive. A delay past {@link maxTimerDelay} waits that
 * long: Node would fire it at once, and a caller that re-arms on firing (the staleness check, a Vault
 * lease of a month) would spin. Waking early is safe for every caller: the staleness check re-checks,
 * a Vault lease or token is re-read or renewed early.
 */
export function backgroundTimeout(callback: () => void, ms: number): NodeJS.Timeout {
  const timer = setTimeout(callback, Math.min(ms, maxTimerDelay))
  timer.unref()
  return timer
}

/** A `setInterval` that does not keep the process alive; its options bound `ms` by {@link maxTimerDelay}. */
export function backgroundInterval(callback: () => void, ms: number): NodeJS.Timeout {
  const timer = setInterval(callback, ms)
  timer.unref()
  return timer
}
