/** Delay before renewing something that lives `ttlMs`: about two thirds of it, with ±5% jitter. */
export function renewDelay(ttlMs: number, random: () => number = Math.random): number {
  // Jitter spreads the renewals of many replicas started together (a thundering herd at 2/3 of the TTL).
  return Math.max(1, Math.round(ttlMs * (0.62 + 0.09 * random())))
}

/** A `setTimeout` that does not keep the process alive. */
export function backgroundTimeout(callback: () => void, ms: number): NodeJS.Timeout {
  const timer = setTimeout(callback, ms)
  timer.unref()
  return timer
}

/** A `setInterval` that does not keep the process alive. */
export function backgroundInterval(callback: () => void, ms: number): NodeJS.Timeout {
  const timer = setInterval(callback, ms)
  timer.unref()
  return timer
}
