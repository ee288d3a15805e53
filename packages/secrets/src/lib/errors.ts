import { ZeroTrustError } from '@zerotrust/core'

/**
 * A source failure as it may surface: a message written here (never upstream text, headers, tokens or
 * values) and a stable reason. The original error is dropped, since it may carry request headers.
 */
export function sourceError(message: string, reason: string): ZeroTrustError {
  return new ZeroTrustError('dependency_unavailable', message, { reason })
}

/** The `code` of a Node system error (`ECONNREFUSED`), or the error's name; never its message. */
export function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'unknown error'
  const { code, name, cause } = error as { code?: unknown; name?: unknown; cause?: unknown }
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout'
  if (cause !== undefined && cause !== error) return errorCode(cause)
  return typeof name === 'string' ? name : 'unknown error'
}
