import { isZeroTrustError, ZeroTrustError } from '@zerotrust/core'

/**
 * Settles with `operation`, or rejects with a `dependency_unavailable` error once `ms` milliseconds have
 * passed, whichever comes first. The command itself cannot be withdrawn from the client: a late answer is
 * dropped (see the README on what a timed-out command may still have done).
 *
 * Every rejection is a `ZeroTrustError` with code `dependency_unavailable` (503, `Retry-After`), reason
 * `redis_timeout` or `redis_error`, and the client's error as `cause`.
 */
export function withDeadline<T>(operation: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timedOut(ms)), ms)
    operation.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(failed(error))
      },
    )
  })
}

/** Starts `command` under a deadline; a synchronous throw of the client becomes a rejection too. */
export function send<T>(command: () => Promise<T>, ms: number): Promise<T> {
  let operation: Promise<T>
  try {
    operation = command()
  } catch (error) {
    return Promise.reject(failed(error))
  }
  return withDeadline(operation, ms)
}

/** The error of a value under a key that no store of this package wrote. */
export function corruptRecord(what: string): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', `the redis store holds an unreadable ${what}`, {
    reason: 'redis_corrupt_record',
  })
}

function timedOut(ms: number): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', `redis did not answer within ${ms} ms`, {
    reason: 'redis_timeout',
  })
}

function failed(error: unknown): ZeroTrustError {
  if (isZeroTrustError(error)) return error
  // The client's message stays in `cause`, which is never rendered into a response.
  return new ZeroTrustError('dependency_unavailable', 'the redis store failed', {
    reason: 'redis_error',
    cause: error,
  })
}
