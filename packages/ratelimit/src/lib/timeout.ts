/**
 * `promise`, or a rejection once `ms` milliseconds have passed without an answer: a Redis command that
 * hangs (a paused or overloaded server) counts as a store failure rather than holding the request. The
 * late answer is still handled, so it can never surface as an unhandled rejection.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the rate limit store took over ${ms} ms`)), ms)
    timer.unref()
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
